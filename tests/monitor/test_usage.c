/* Unit tests of monitor/usage.c against real processes: a child that
 * allocates and touches memory, opens files and burns CPU is sampled; then
 * the limit-kill explanations, including a real RLIMIT_CPU kill. */
#include <errno.h>
#include <time.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hbtest.h"
#include "monitor.h"
#include "util.h"

#define MIB (1024ull * 1024ull)

/* Child: 64 MiB touched, 20 extra fds, ~150 ms of CPU, then "ready" and
 * blocks until the pipe closes. */
static pid_t spawn_busy(int *ready_rd, int *hold_wr)
{
    int ready[2], hold[2];
    HB_CHECK(pipe2(ready, O_CLOEXEC) == 0 && pipe2(hold, O_CLOEXEC) == 0);
    pid_t p = fork();
    HB_CHECK(p >= 0);
    if (p == 0) {
        close(ready[0]);
        close(hold[1]);
        char *mem = malloc(64 * MIB);
        if (!mem)
            _exit(2);
        memset(mem, 1, 64 * MIB);
        for (int i = 0; i < 20; i++)
            if (open("/dev/null", O_RDONLY | O_CLOEXEC) < 0)
                _exit(3);
        /* Burn 150 ms of this process's own CPU time (not wall time: on a
         * loaded machine the scheduler may give it less). */
        volatile uint64_t x = 0;
        for (;;) {
            struct timespec ts;
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
            if ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec >= 150000000ull)
                break;
            for (int k = 0; k < 10000; k++)
                x += mem[x % (64 * MIB)];
        }
        char c = 'r';
        if (write(ready[1], &c, 1) != 1)
            _exit(4);
        while (read(hold[0], &c, 1) != 0) {
        }
        _exit(0);
    }
    close(ready[1]);
    close(hold[0]);
    *ready_rd = ready[0];
    *hold_wr = hold[1];
    return p;
}

static void test_sample(void)
{
    int rd, wr;
    pid_t p = spawn_busy(&rd, &wr);
    char c;
    HB_CHECK_EQ(read(rd, &c, 1), 1);
    hb_usage u;
    HB_CHECK_OK(hb_mon_usage(p, &u));
    printf("child: rss %.1f MiB vm %.1f MiB cpu %llu+%llu ms up %llu ms fds %u threads %u\n",
           (double)u.rss_bytes / MIB, (double)u.vm_bytes / MIB,
           (unsigned long long)u.cpu_user_ms, (unsigned long long)u.cpu_sys_ms,
           (unsigned long long)u.uptime_ms, u.fds, u.threads);
    HB_CHECK_INT(u.rss_bytes, >=, 60 * MIB);
    HB_CHECK_INT(u.vm_bytes, >=, u.rss_bytes);
    HB_CHECK_INT(u.cpu_user_ms + u.cpu_sys_ms, >=, 100);
    HB_CHECK_INT(u.uptime_ms, >=, 100);
    HB_CHECK_INT(u.uptime_ms, <, 60000);
    HB_CHECK_INT(u.fds, >=, 20 + 3);
    HB_CHECK_EQ(u.threads, 1);
    HB_CHECK_EQ(u.children, 0);
    HB_CHECK(u.state == 'S' || u.state == 'R');
    uint64_t st = 0;
    HB_CHECK_OK(hb_mon_start_time(p, &st));
    HB_CHECK_EQ(st, u.start_ticks);
    /* Ourselves: one child. */
    hb_usage me;
    HB_CHECK_OK(hb_mon_usage(getpid(), &me));
    HB_CHECK_EQ(me.children, 1);
    close(wr);
    int status;
    HB_CHECK(waitpid(p, &status, 0) == p);
    HB_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    HB_CHECK_EQ(hb_mon_usage(p, &u), -ESRCH);
    HB_CHECK_EQ(hb_mon_usage(0, &u), -EINVAL);
    close(rd);
}

static void test_real_cpu_limit(void)
{
    /* A real RLIMIT_CPU of 1 s: the kernel sends SIGXCPU. */
    pid_t p = fork();
    HB_CHECK(p >= 0);
    if (p == 0) {
        struct rlimit rl = {1, 2};
        setrlimit(RLIMIT_CPU, &rl);
        volatile unsigned long x = 0;
        for (;;)
            x++;
    }
    int fd = hb_mon_pidfd_open(p);
    HB_CHECK(fd >= 0);
    int status;
    HB_CHECK_OK(hb_mon_reap(p, fd, 20000, &status));
    close(fd);
    hb_limits lim = {.cpu_seconds = 1};
    char buf[256];
    HB_CHECK_EQ(hb_mon_explain_death(status, &lim, NULL, NULL, buf, sizeof(buf)), HB_LIMIT_CPU);
    HB_CHECK_STR(buf, "killed by SIGXCPU: CPU time limit 1 s exceeded (RLIMIT_CPU)");
}

static int sig_status(int sig)
{
    return sig & 0x7f; /* the wait status of a death by signal, no core */
}

static void test_explanations(void)
{
    char buf[256];
    hb_limits lim = {.memory_bytes = 512 * MIB, .cpu_seconds = 5, .open_files = 64,
                     .processes = 32, .file_size = 10 * MIB};
    hb_usage u = {0};

    HB_CHECK_EQ(hb_mon_explain_death(sig_status(SIGXCPU), &lim, NULL, NULL, buf, sizeof(buf)),
                HB_LIMIT_CPU);
    HB_CHECK_STR(buf, "killed by SIGXCPU: CPU time limit 5 s exceeded (RLIMIT_CPU)");
    HB_CHECK_EQ(hb_mon_explain_death(sig_status(SIGXFSZ), &lim, NULL, NULL, buf, sizeof(buf)),
                HB_LIMIT_FSIZE);
    HB_CHECK_CONTAINS(buf, "file size limit 10.0 MiB");

    /* SIGKILL with RSS at the limit: likely the OOM killer. */
    u.rss_bytes = 510 * MIB;
    u.vm_bytes = 600 * MIB;
    HB_CHECK_EQ(hb_mon_explain_death(sig_status(SIGKILL), &lim, &u, NULL, buf, sizeof(buf)),
                HB_LIMIT_MEMORY);
    HB_CHECK_STR(buf, "killed by SIGKILL while RSS was 510 MiB of a 512 MiB memory limit "
                      "(likely the OOM killer)");
    /* The cgroup's oom_kill counter is evidence: no "likely". */
    hb_death_cgroup cg = {.memory_max = 256 * MIB, .oom_kills = 1};
    HB_CHECK_EQ(hb_mon_explain_death(sig_status(SIGKILL), &lim, &u, &cg, buf, sizeof(buf)),
                HB_LIMIT_MEMORY);
    HB_CHECK_STR(buf, "killed by SIGKILL: the cgroup memory limit 256 MiB was exceeded "
                      "(memory.events oom_kill 1)");

    /* SIGKILL at the CPU limit: the hard RLIMIT_CPU, likely. */
    u = (hb_usage){.cpu_user_ms = 4800, .cpu_sys_ms = 100, .rss_bytes = 10 * MIB};
    HB_CHECK_EQ(hb_mon_explain_death(sig_status(SIGKILL), &lim, &u, NULL, buf, sizeof(buf)),
                HB_LIMIT_CPU);
    HB_CHECK_CONTAINS(buf, "likely the CPU time limit of 5 s");

    /* Allocation failure under RLIMIT_AS: the plugin aborts. */
    u = (hb_usage){.vm_bytes = 500 * MIB, .rss_bytes = 100 * MIB};
    HB_CHECK_EQ(hb_mon_explain_death(sig_status(SIGABRT), &lim, &u, NULL, buf, sizeof(buf)),
                HB_LIMIT_MEMORY);
    HB_CHECK_CONTAINS(buf, "killed by SIGABRT");
    HB_CHECK_CONTAINS(buf, "500 MiB of a 512 MiB memory limit (RLIMIT_AS; likely");

    /* File descriptors at the limit. */
    u = (hb_usage){.fds = 64, .rss_bytes = MIB};
    HB_CHECK_EQ(hb_mon_explain_death(sig_status(SIGSEGV), &lim, &u, NULL, buf, sizeof(buf)),
                HB_LIMIT_NOFILE);
    HB_CHECK_CONTAINS(buf, "RLIMIT_NOFILE 64 reached: the worker had 64 files open when it died "
                           "(killed by SIGSEGV");
    /* Processes. */
    u = (hb_usage){.children = 31};
    HB_CHECK_EQ(hb_mon_explain_death(1 << 8, &lim, &u, NULL, buf, sizeof(buf)), HB_LIMIT_NPROC);
    HB_CHECK_CONTAINS(buf, "RLIMIT_NPROC 32 reached");
    HB_CHECK_CONTAINS(buf, "exited with status 1");
    hb_death_cgroup pc = {.pids_max = 16, .pids_current = 16};
    HB_CHECK_EQ(hb_mon_explain_death(sig_status(SIGKILL), NULL, NULL, &pc, buf, sizeof(buf)),
                HB_LIMIT_NPROC);
    HB_CHECK_CONTAINS(buf, "16 of 16 processes (pids.max");

    /* Nothing near a limit: a plain crash, described plainly. */
    u = (hb_usage){.rss_bytes = 5 * MIB, .vm_bytes = 20 * MIB, .fds = 5, .cpu_user_ms = 10};
    HB_CHECK_EQ(hb_mon_explain_death(sig_status(SIGSEGV), &lim, &u, NULL, buf, sizeof(buf)),
                HB_LIMIT_NONE);
    HB_CHECK_STR(buf, "killed by SIGSEGV (Segmentation fault)");
    HB_CHECK_EQ(hb_mon_explain_death(sig_status(SIGKILL), &lim, &u, NULL, buf, sizeof(buf)),
                HB_LIMIT_NONE);
    HB_CHECK_EQ(hb_mon_explain_death(0, NULL, NULL, NULL, buf, sizeof(buf)), HB_LIMIT_NONE);
    HB_CHECK_STR(buf, "exited with status 0");
}

int main(void)
{
    test_sample();
    test_explanations();
    test_real_cpu_limit();
    puts("PASS test_mon_usage");
    return 0;
}
