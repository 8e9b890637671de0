/* bench/pingpong.c - shared-memory and socketpair ping-pong baselines (see
 * pingpong.h). */
#include "pingpong.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"
#include "ring.h"

#define WARMUP 200

int hb_bench_pin(int pid, int cpu)
{
    if (cpu < 0)
        return 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(pid, sizeof(set), &set) < 0 ? -errno : 0;
}

typedef struct board {
    _Atomic uint32_t ping, ping_sleeping;
    _Alignas(64) _Atomic uint32_t pong, pong_sleeping;
    _Alignas(64) _Atomic uint32_t stop;
} board;

struct hb_bench_pp {
    board *b;
    pid_t pid;
    uint64_t spin_ns;
    uint32_t rounds; /* round trips so far: the value pong has */
};

static void reap(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
}

hb_bench_pp *hb_bench_pp_start(int cpu_b, uint64_t spin_ns)
{
    hb_bench_pp *pp = calloc(1, sizeof(*pp));
    if (!pp) {
        perror("pingpong: calloc");
        return NULL;
    }
    board *b = mmap(NULL, sizeof(board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                    -1, 0);
    if (b == MAP_FAILED) {
        perror("pingpong: mmap");
        free(pp);
        return NULL;
    }
    memset(b, 0, sizeof(*b));
    pid_t pid = fork();
    if (pid < 0) {
        perror("pingpong: fork");
        munmap(b, sizeof(*b));
        free(pp);
        return NULL;
    }
    if (pid == 0) {
        hb_bench_pin(0, cpu_b);
        for (uint32_t seen = 0;;) {
            hb__ring_wait_ne(&b->ping, seen, &b->ping_sleeping, spin_ns);
            seen = atomic_load(&b->ping);
            if (atomic_load(&b->stop))
                _exit(0);
            hb__ring_signal(&b->pong, &b->pong_sleeping);
        }
    }
    pp->b = b;
    pp->pid = pid;
    pp->spin_ns = spin_ns;
    return pp;
}

int hb_bench_pp_block(hb_bench_pp *pp, size_t warmup, double *us, size_t n)
{
    board *b = pp->b;
    for (size_t i = 0; i < warmup + n; i++) {
        double t0 = hb_bench_now_ms();
        hb__ring_signal(&b->ping, &b->ping_sleeping);
        hb__ring_wait_ne(&b->pong, pp->rounds, &b->pong_sleeping, pp->spin_ns);
        double t = (hb_bench_now_ms() - t0) * 1e3;
        pp->rounds++;
        if (i >= warmup)
            us[i - warmup] = t;
    }
    return 0;
}

void hb_bench_pp_stop(hb_bench_pp *pp)
{
    if (!pp)
        return;
    atomic_store(&pp->b->stop, 1);
    hb__ring_signal(&pp->b->ping, &pp->b->ping_sleeping);
    reap(pp->pid);
    munmap(pp->b, sizeof(*pp->b));
    free(pp);
}

int hb_bench_shm_pingpong(int cpu_a, int cpu_b, uint64_t spin_ns, double *us, size_t n)
{
    cpu_set_t saved;
    sched_getaffinity(0, sizeof(saved), &saved);
    hb_bench_pp *pp = hb_bench_pp_start(cpu_b, spin_ns);
    if (!pp)
        return -1;
    hb_bench_pin(0, cpu_a);
    int r = hb_bench_pp_block(pp, WARMUP, us, n);
    hb_bench_pp_stop(pp);
    sched_setaffinity(0, sizeof(saved), &saved);
    return r;
}

static int xfer(int fd, char *c, int out)
{
    for (;;) {
        ssize_t r = out ? write(fd, c, 1) : read(fd, c, 1);
        if (r == 1)
            return 0;
        if (r < 0 && errno == EINTR)
            continue;
        return -1;
    }
}

int hb_bench_sock_pingpong(int cpu_a, int cpu_b, double *us, size_t n)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        perror("pingpong: socketpair");
        return -1;
    }
    cpu_set_t saved;
    size_t total = n + WARMUP;
    sched_getaffinity(0, sizeof(saved), &saved);
    pid_t pid = fork();
    if (pid < 0) {
        perror("pingpong: fork");
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
        close(sv[0]);
        hb_bench_pin(0, cpu_b);
        char c;
        for (size_t i = 0; i < total; i++)
            if (xfer(sv[1], &c, 0) < 0 || xfer(sv[1], &c, 1) < 0)
                _exit(1);
        _exit(0);
    }
    close(sv[1]);
    hb_bench_pin(0, cpu_a);
    int rc = 0;
    for (size_t i = 0; i < total; i++) {
        char c = 'x';
        double t0 = hb_bench_now_ms();
        if (xfer(sv[0], &c, 1) < 0 || xfer(sv[0], &c, 0) < 0) {
            fprintf(stderr, "pingpong: socketpair echo failed\n");
            rc = -1;
            break;
        }
        double t = (hb_bench_now_ms() - t0) * 1e3;
        if (i >= WARMUP)
            us[i - WARMUP] = t;
    }
    close(sv[0]);
    if (rc < 0)
        kill(pid, SIGKILL);
    reap(pid);
    sched_setaffinity(0, sizeof(saved), &saved);
    return rc;
}
