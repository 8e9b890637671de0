/* cgroup v2 for real, as far as this machine allows: the probe's verdict,
 * a monitoring cgroup joined before "exec" by a child that forks again,
 * CPU accounting, cgroup.kill of the whole tree, removal. Limits are tested
 * when the memory and pids controllers can be delegated here; otherwise
 * create must refuse them with -EOPNOTSUPP and say why. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hbtest.h"
#include "monitor.h"
#include "util.h"

#define MIB (1024ull * 1024ull)

static bool dir_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* On any exit (a failed check included) nothing is left behind. */
static hb_cgroup *live_cg;
static void cleanup(void)
{
    hb_cgroup_destroy(live_cg);
    live_cg = NULL;
}

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Child: joins the cgroup through procs_fd (as a worker would between fork
 * and exec), forks a grandchild, burns 60 ms of CPU, reports, blocks. */
static pid_t spawn_in(int procs_fd, pid_t *grandchild)
{
    int p[2];
    HB_CHECK(pipe2(p, O_CLOEXEC) == 0);
    pid_t pid = fork();
    HB_CHECK(pid >= 0);
    if (pid == 0) {
        if (hb_cgroup_join_self(procs_fd) < 0)
            _exit(2);
        pid_t g = fork();
        if (g == 0) {
            for (;;)
                pause();
        }
        uint64_t t0 = cpu_ns();
        volatile unsigned long x = 0;
        while (cpu_ns() - t0 < 60000000ull)
            x++;
        if (write(p[1], &g, sizeof(g)) != sizeof(g))
            _exit(3);
        for (;;)
            pause();
    }
    close(p[1]);
    HB_CHECK_EQ(read(p[0], grandchild, sizeof(*grandchild)), (long)sizeof(*grandchild));
    close(p[0]);
    return pid;
}

static void test_limits(unsigned ctl)
{
    char *err = NULL;
    hb_cgroup *cg = NULL;
    char name[64];
    snprintf(name, sizeof(name), "limits-%d", (int)getpid());
    hb_cgroup_limits lim = {.memory_max = 64 * MIB, .pids_max = 8};
    int r = hb_cgroup_create(name, &lim, &cg, &err);
    live_cg = cg;
    if ((ctl & (HB_CG_MEMORY | HB_CG_PIDS)) != (HB_CG_MEMORY | HB_CG_PIDS)) {
        HB_CHECK_EQ(r, -EOPNOTSUPP);
        HB_CHECK_CONTAINS(err, "use rlimits");
        printf("limits refused as expected on this machine: %s\n", err);
        free(err);
        return;
    }
    HB_CHECK_OK(r);
    hb_cgroup_stats s;
    HB_CHECK_OK(hb_cgroup_usage(cg, &s));
    HB_CHECK_EQ(s.memory_max, 64 * MIB);
    HB_CHECK_EQ(s.pids_max, 8);
    /* A child that allocates past memory.max is OOM-killed by the kernel. */
    int fd = hb_cgroup_procs_fd(cg);
    HB_CHECK(fd >= 0);
    pid_t pid = fork();
    HB_CHECK(pid >= 0);
    if (pid == 0) {
        if (hb_cgroup_join_self(fd) < 0)
            _exit(2);
        for (;;) {
            char *m = malloc(8 * MIB);
            if (!m)
                _exit(3);
            memset(m, 1, 8 * MIB);
        }
    }
    close(fd);
    int pfd = hb_mon_pidfd_open(pid);
    int st;
    HB_CHECK_OK(hb_mon_reap(pid, pfd, 30000, &st));
    close(pfd);
    HB_CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    HB_CHECK_INT(hb_cgroup_oom_kills(cg), >=, 1);
    hb_death_cgroup dc = {.memory_max = 64 * MIB, .oom_kills = hb_cgroup_oom_kills(cg)};
    char buf[256];
    HB_CHECK_EQ(hb_mon_explain_death(st, NULL, NULL, &dc, buf, sizeof(buf)), HB_LIMIT_MEMORY);
    printf("%s\n", buf);
    live_cg = NULL;
    HB_CHECK_OK(hb_cgroup_destroy(cg));
}

int main(void)
{
    HB_CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
    char *why = NULL;
    int ctl = hb_cgroup_probe(&why);
    printf("probe: %d: %s\n", ctl, why ? why : "(null)");
    HB_CHECK(why != NULL);
    if (ctl < 0)
        HB_SKIP("no cgroup v2 sub-tree can be created here: %s", why);
    free(why);

    char name[64];
    snprintf(name, sizeof(name), "test-%d", (int)getpid());
    hb_cgroup *cg = NULL;
    char *err = NULL;
    HB_CHECK_EQ(hb_cgroup_create("../escape", NULL, &cg, &err), -EINVAL);
    int r = hb_cgroup_create(name, NULL, &cg, &err);
    live_cg = cg;
    atexit(cleanup);
    if (r < 0)
        HB_FAIL_("probe said usable (%d) but create failed: %d %s", ctl, r, err ? err : "");
    const char *path = hb_cgroup_path(cg);
    printf("cgroup: %s\n", path);
    HB_CHECK(dir_exists(path));
    HB_CHECK_EQ(hb_cgroup_controllers(cg), 0);

    int fd = hb_cgroup_procs_fd(cg);
    HB_CHECK(fd >= 0);
    pid_t g = 0;
    pid_t child = spawn_in(fd, &g);
    close(fd);
    int cfd = hb_mon_pidfd_open(child), gfd = hb_mon_pidfd_open(g);
    HB_CHECK(cfd >= 0 && gfd >= 0);

    /* Both are members (the grandchild by inheritance). */
    char procpath[64];
    snprintf(procpath, sizeof(procpath), "/proc/%d/cgroup", (int)g);
    void *data = NULL;
    size_t len = 0;
    HB_CHECK_OK(hb__read_file(procpath, 65536, &data, &len));
    HB_CHECK_CONTAINS((char *)data, name);
    free(data);

    /* A third process added from outside. */
    pid_t extra = fork();
    HB_CHECK(extra >= 0);
    if (extra == 0) {
        for (;;)
            pause();
    }
    HB_CHECK_OK(hb_cgroup_add_pid(cg, extra));
    int efd = hb_mon_pidfd_open(extra);

    hb_cgroup_stats s;
    HB_CHECK_OK(hb_cgroup_usage(cg, &s));
    printf("usage: cpu %llu us, %u processes\n", (unsigned long long)s.cpu_usage_usec, s.populated);
    HB_CHECK_EQ(s.populated, 3);
    HB_CHECK_INT(s.cpu_usage_usec, >=, 50000);

    /* Destroy kills the whole tree and removes the directory. */
    char *saved = strdup(path);
    live_cg = NULL;
    HB_CHECK_OK(hb_cgroup_destroy(cg));
    HB_CHECK(!dir_exists(saved));
    free(saved);
    HB_CHECK(!hb_mon_alive(cfd));
    HB_CHECK(!hb_mon_alive(gfd));
    HB_CHECK(!hb_mon_alive(efd));
    pid_t all[3] = {child, g, extra};
    for (int i = 0; i < 3; i++) {
        int st;
        HB_CHECK(waitpid(all[i], &st, 0) == all[i]); /* g comes to us: subreaper */
        HB_CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    }
    close(cfd);
    close(gfd);
    close(efd);

    test_limits((unsigned)ctl);
    free(err);
    puts("PASS test_mon_cgroup");
    return 0;
}
