/* tests/proto/test_ring_life.c - the ring's life word (proto/ring.h,
 * "Death"): a process holding it that dies, by SIGKILL or by a crash, has
 * it marked by the kernel, and a caller spinning for a reply sees that at
 * once instead of at the end of its spin budget. */
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>

#include "hbtest.h"
#include "ring.h"

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* Caller and holder on CPUs 0 and 1: the caller spins only for a holder
 * last seen on another CPU. */
static void pin(int cpu)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    if (sched_setaffinity(0, sizeof(s), &s) < 0)
        _exit(3);
}

static void need_two_cpus(void)
{
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
        HB_SKIP("needs 2 CPUs (a caller spins only for a worker on another CPU)");
    pin(0);
}

/* A child that maps the ring from fd, holds its life word, says so on
 * *held (a pipe: one byte once it holds, EOF if it could not), takes the
 * first bell and then crashes (how SIGSEGV), replies "ok" (how 0), or
 * waits to be killed (SIGKILL). */
static pid_t start_holder(int fd, int how, int *held)
{
    int p[2];
    HB_CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    HB_CHECK(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        /* A failed case leaves no holder behind. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)
            _exit(3);
        pin(1);
        hb_ring *r;
        if (hb__ring_map(fd, &r) < 0 || hb__ring_hold_life(r) < 0)
            _exit(3);
        if (write(p[1], "h", 1) != 1)
            _exit(3);
        close(p[1]);
        uint32_t seen = 0;
        (void)hb__ring_next(r, &seen);
        /* A crash, as a fault ends a worker (a NULL store would be UB that
         * UBSan reports instead of faulting). */
        if (how == SIGSEGV) {
            signal(SIGSEGV, SIG_DFL); /* not a sanitizer's report-and-exit */
            raise(SIGSEGV);
        }
        if (how == 0)
            (void)hb__ring_reply(r, "ok", 2);
        for (;;)
            pause();
    }
    close(p[1]);
    *held = p[0];
    return pid;
}

/* Waits (10 s at most) for the holder's word that it holds the ring. */
static void wait_held(hb_ring *ring, int held)
{
    struct pollfd pfd = {.fd = held, .events = POLLIN};
    int n;
    while ((n = poll(&pfd, 1, 10000)) < 0 && errno == EINTR)
        ;
    HB_CHECK_EQ(n, 1); /* 0: no word within 10 s */
    char c = 0;
    HB_CHECK_EQ(read(held, &c, 1), 1); /* 0: it exited (3: could not hold it) */
    close(held);
    HB_CHECK(hb__ring_peer_alive(ring));
}

/* Killed while the caller spins with a 20 s budget: await says DEAD well
 * before that (the word, not the clock). */
static void run(int how)
{
    need_two_cpus();
    int fd;
    hb_ring *ring;
    HB_CHECK_OK(hb__ring_create(&fd, &ring));
    HB_CHECK(!hb__ring_peer_alive(ring)); /* never held: unknown */
    int held;
    pid_t pid = start_holder(fd, how, &held);
    wait_held(ring, held);
    atomic_store(&ring->worker_cpu, 1); /* where it is pinned (before its first bell) */
    hb__ring_post(ring, HB_RING_KIND_RING);
    if (how == SIGKILL)
        HB_CHECK_OK(kill(pid, SIGKILL));
    uint64_t t0 = now_ns();
    uint32_t st = hb__ring_await(ring, 20000000000ull);
    uint64_t took = now_ns() - t0;
    HB_CHECK_EQ(st, (uint32_t)HB_RING_DEAD);
    HB_CHECK_INT((long)(took / 1000000u), <, 5000);
    HB_CHECK(!hb__ring_peer_alive(ring));
    int ws;
    HB_CHECK_EQ(waitpid(pid, &ws, 0), pid);
    HB_CHECK(WIFSIGNALED(ws));
    HB_CHECK_EQ(WTERMSIG(ws), how);
    hb__ring_unmap(ring);
    close(fd);
}

static void case_sigkill(void)
{
    run(SIGKILL);
}

static void case_crash(void)
{
    run(SIGSEGV);
}

/* A live holder is reported alive, and a reply still ends await as DONE. */
static void case_alive_reply(void)
{
    need_two_cpus();
    int fd;
    hb_ring *ring;
    HB_CHECK_OK(hb__ring_create(&fd, &ring));
    int held;
    pid_t pid = start_holder(fd, 0, &held);
    wait_held(ring, held);
    atomic_store(&ring->worker_cpu, 1); /* where it is pinned (before its first bell) */
    hb__ring_post(ring, HB_RING_KIND_RING);
    uint32_t st = hb__ring_await(ring, 20000000000ull);
    HB_CHECK_EQ(st, (uint32_t)HB_RING_DONE);
    HB_CHECK(hb__ring_peer_alive(ring));
    HB_CHECK_OK(kill(pid, SIGKILL));
    int ws;
    HB_CHECK_EQ(waitpid(pid, &ws, 0), pid);
    HB_CHECK(!hb__ring_peer_alive(ring)); /* marked before the exit is reported */
    hb__ring_unmap(ring);
    close(fd);
}

int main(int argc, char **argv)
{
    static const hb_test_case cases[] = {
        {"sigkill", case_sigkill}, {"crash", case_crash}, {"alive_reply", case_alive_reply}};
    return hb_test_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
