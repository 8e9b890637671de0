/* tests/harness/test_pool.c - the manager's pool of pre-started workers
 * (harness/pool.c, hb_manager_options.worker_pool):
 *  - hit_serves: after one sandbox, the pool holds a worker for its
 *    options; the next sandbox with them takes it (a hit), in a cgroup and
 *    objects view of its own, and it loads and serves a plugin;
 *  - other_options_miss: a worker pooled for options A is never handed to
 *    a sandbox whose options differ in anything not late-bound (profile,
 *    rlimits, cgroup limits, output to a file or not, state limit); the A
 *    worker stays
 *    pooled and A still hits afterwards;
 *  - output_late_bound: a pooled worker is handed its sandbox's output
 *    file after its start: a sandbox with another file (or the same path
 *    naming a new file) takes it, and stdout and stderr land in that file
 *    only;
 *  - off_means_none: worker_pool 0 starts no worker ahead;
 *  - free_ends_idle: hb_manager_free ends the idle pooled workers (no
 *    child process left) and removes their objects views and fds;
 *  - sigkill_leaves_none: a manager process killed with SIGKILL leaves no
 *    pooled worker running (the workers' death-with-the-manager covers
 *    them). */
#include <stdbool.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include "e2e.h"

static e2e_events ev;

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* Waits (at most 20 s) until the pool has `ready` workers ready and none
 * starting. */
static hb_pool_stats wait_ready(hb_manager *m, unsigned ready)
{
    uint64_t t0 = now_ms();
    hb_pool_stats s;
    for (;;) {
        HB_CHECK_OK(hb_manager_pool_stats(m, &s));
        if (s.ready >= ready && s.starting == 0)
            return s;
        HB_CHECK_INT((long)(now_ms() - t0), <, 20000); /* no pooled worker within 20 s */
        (void)poll(NULL, 0, 5);
    }
}

static hb_sandbox_options std_opts(void)
{
    hb_sandbox_options so = HB_SANDBOX_OPTIONS_INIT;
    so.profile = HB_PROFILE_STANDARD;
    return so;
}

static void serves(hb_sandbox *sb)
{
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/examples/plugins/mathx", HB_SOURCE_DIR);
    if (hb_load(sb, dir) != 0)
        HB_FAIL_("loading mathx: %s", hb_sandbox_last_error(sb));
    int32_t sum = 0;
    HB_CHECK_OK(hb_callf(sb, "mathx", "add", "ii)i", 2, 3, &sum));
    HB_CHECK_EQ(sum, 5);
}

/* The worker's cgroup (the line of /proc/PID/cgroup), "" when unknown. */
static void cgroup_of(int pid, char *out, size_t n)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
    out[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (!fgets(out, (int)n, f))
        out[0] = 0;
    fclose(f);
}

static void case_hit_serves(void)
{
    hb_manager *m = e2e_manager_pool(&ev, 2);
    hb_sandbox_options so = std_opts();
    hb_sandbox *a, *b;
    HB_CHECK_OK(hb_sandbox_new(m, &so, &a));
    hb_pool_stats s = wait_ready(m, 1);
    HB_CHECK_EQ(s.hits, 0);
    HB_CHECK_EQ(s.misses, 1); /* the first one started its own */
    HB_CHECK_OK(hb_sandbox_new(m, &so, &b));
    HB_CHECK_OK(hb_manager_pool_stats(m, &s));
    HB_CHECK_EQ(s.hits, 1);
    HB_CHECK_EQ(s.misses, 1);
    HB_CHECK(hb_sandbox_worker_pid(a) != hb_sandbox_worker_pid(b));
    char ca[512], cb[512];
    cgroup_of(hb_sandbox_worker_pid(a), ca, sizeof(ca));
    cgroup_of(hb_sandbox_worker_pid(b), cb, sizeof(cb));
    printf("cgroups: %s %s", ca, cb);
    if (strstr(ca, "sandbox-")) /* cgroups here: each its own */
        HB_CHECK(strcmp(ca, cb) != 0);
    serves(b);
    serves(a);
    hb_sandbox_free(b);
    hb_sandbox_free(a);
    hb_manager_free(m);
}

static void case_other_options_miss(void)
{
    hb_manager *m = e2e_manager_pool(&ev, 8);
    hb_sandbox_options a_opts = std_opts();
    hb_sandbox *a;
    HB_CHECK_OK(hb_sandbox_new(m, &a_opts, &a));
    hb_sandbox_free(a);
    hb_pool_stats s = wait_ready(m, 1);
    char out[4300];
    snprintf(out, sizeof(out), "%s/out.txt", e2e_root);
    /* Each differs from A in one thing that is fixed at the worker's start. */
    hb_sandbox_options b[6];
    for (int k = 0; k < 6; k++)
        b[k] = std_opts();
    b[0].profile = HB_PROFILE_STRICT;
    b[1].profile = HB_PROFILE_PERMISSIVE;
    b[2].max_open_files = 99;
    b[3].max_memory = 1ull << 30;
    b[4].output_path = out;
    b[5].max_state_size = 1u << 20;
    for (int k = 0; k < 6; k++) {
        hb_pool_stats before;
        HB_CHECK_OK(hb_manager_pool_stats(m, &before));
        hb_sandbox *sb;
        HB_CHECK_OK(hb_sandbox_new(m, &b[k], &sb));
        HB_CHECK_OK(hb_manager_pool_stats(m, &s));
        printf("options B%d: hits %llu -> %llu\n", k, (unsigned long long)before.hits,
               (unsigned long long)s.hits);
        HB_CHECK_EQ(s.hits, before.hits);          /* never A's worker */
        HB_CHECK_EQ(s.misses, before.misses + 1);
        hb_sandbox_free(sb);
    }
    /* A's worker was kept for A all along. */
    hb_pool_stats before = wait_ready(m, 7);
    HB_CHECK_OK(hb_sandbox_new(m, &a_opts, &a));
    HB_CHECK_OK(hb_manager_pool_stats(m, &s));
    HB_CHECK_EQ(s.hits, before.hits + 1);
    serves(a);
    hb_sandbox_free(a);
    hb_manager_free(m);
}

static const char sayer[] =
    "#include <hotbox/plugin.h>\n#include <stdio.h>\n"
    "int say(int n) { printf(\"said %d\\n\", n); fflush(stdout);\n"
    "  fprintf(stderr, \"err %d\\n\", n); return n; }\n"
    "HB_PLUGIN(\"sayer\", 1, 0, 0, 0, 0);\n";

static char *slurp(const char *path)
{
    static char buf[4096];
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return buf;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void say_into(hb_manager *m, const char *out, int n, bool want_hit)
{
    char *dir = e2e_write("sayer", "sayer.c", sayer);
    hb_sandbox_options so = std_opts();
    so.output_path = out;
    hb_pool_stats before, after;
    HB_CHECK_OK(hb_manager_pool_stats(m, &before));
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(m, &so, &sb));
    HB_CHECK_OK(hb_manager_pool_stats(m, &after));
    HB_CHECK_EQ(after.hits, before.hits + (want_hit ? 1 : 0));
    if (hb_load(sb, dir) != 0)
        HB_FAIL_("loading sayer: %s", hb_sandbox_last_error(sb));
    int32_t got = 0;
    HB_CHECK_OK(hb_callf(sb, "sayer", "say", "i)i", n, &got));
    HB_CHECK_EQ(got, n);
    hb_sandbox_free(sb);
}

static void case_output_late_bound(void)
{
    hb_manager *m = e2e_manager_pool(&ev, 2);
    char out1[4300], out2[4300];
    snprintf(out1, sizeof(out1), "%s/out1.txt", e2e_root);
    snprintf(out2, sizeof(out2), "%s/out2.txt", e2e_root);
    say_into(m, out1, 1, false); /* the first starts its own */
    wait_ready(m, 1);
    /* Another file: the pooled worker is handed it, and writes there only. */
    say_into(m, out2, 2, true);
    HB_CHECK_CONTAINS(slurp(out2), "said 2\nerr 2\n");
    HB_CHECK(strstr(slurp(out1), "2\n") == NULL);
    HB_CHECK_CONTAINS(slurp(out1), "said 1\nerr 1\n");
    /* The same path, replaced since: the new file gets it. */
    wait_ready(m, 1);
    HB_CHECK(unlink(out1) == 0);
    say_into(m, out1, 3, true);
    HB_CHECK_CONTAINS(slurp(out1), "said 3\nerr 3\n");
    hb_manager_free(m);
}

static void case_off_means_none(void)
{
    hb_manager *m = e2e_manager_pool(&ev, 0);
    hb_sandbox_options so = std_opts();
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(m, &so, &sb));
    hb_pool_stats s;
    HB_CHECK_OK(hb_manager_pool_stats(m, &s));
    HB_CHECK_EQ(s.ready + s.starting, 0);
    HB_CHECK_EQ(s.misses, 0);
    int pids[8];
    HB_CHECK_EQ(e2e_children_of((int)getpid(), pids, 8), 1); /* the sandbox's worker alone */
    hb_sandbox_free(sb);
    hb_manager_free(m);
}

/* Objects views this process made (hb-view-<pid>-*) in the run directory
 * and in /tmp (where a root manager's views go when the run directory is
 * not reachable by the jail's uid). */
static int my_views(void)
{
    char run[4400], prefix[64];
    snprintf(run, sizeof(run), "%s/.hotbox/run", e2e_root);
    snprintf(prefix, sizeof(prefix), "hb-view-%d-", (int)getpid());
    const char *dirs[] = {run, "/tmp"};
    int n = 0;
    for (int k = 0; k < 2; k++) {
        DIR *d = opendir(dirs[k]);
        struct dirent *e;
        while (d && (e = readdir(d)))
            n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
        if (d)
            closedir(d);
    }
    return n;
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    HB_CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void case_free_ends_idle(void)
{
    int fds_before = count_fds();
    hb_manager *m = e2e_manager_pool(&ev, 2);
    hb_sandbox_options so = std_opts();
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(m, &so, &sb));
    hb_sandbox_free(sb);
    wait_ready(m, 1);
    int pids[8];
    HB_CHECK_EQ(e2e_children_of((int)getpid(), pids, 8), 1); /* the pooled worker */
    int views = my_views();
    printf("objects views with one idle pooled worker: %d\n", views);
    hb_manager_free(m);
    HB_CHECK_EQ(e2e_children_of((int)getpid(), pids, 8), 0);
    HB_CHECK_EQ(my_views(), 0); /* its view went with it */
    HB_CHECK_EQ(count_fds(), fds_before); /* and its fds */
}

static void case_sigkill_leaves_none(void)
{
    /* Orphans come to this process: it sees them, and reaps them. */
    HB_CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
    int pipefd[2];
    HB_CHECK(pipe(pipefd) == 0);
    pid_t child = fork();
    HB_CHECK(child >= 0);
    if (child == 0) {
        close(pipefd[0]);
        hb_manager *m = e2e_manager_pool(&ev, 2);
        hb_sandbox_options so = std_opts();
        hb_sandbox *sb;
        HB_CHECK_OK(hb_sandbox_new(m, &so, &sb));
        wait_ready(m, 1);
        if (write(pipefd[1], "r", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(pipefd[1]);
    char c;
    HB_CHECK_EQ(read(pipefd[0], &c, 1), 1);
    /* The manager's workers (the sandbox's and the pooled one) and their
     * children (the jailed worker under bwrap). */
    int pids[64], n = e2e_children_of(child, pids, 32);
    HB_CHECK_EQ(n, 2);
    for (int i = 0, top = n; i < top; i++)
        n += e2e_children_of(pids[i], pids + n, 64 - n > 0 ? 64 - n : 0);
    HB_CHECK(n <= 64);
    HB_CHECK(kill(child, SIGKILL) == 0);
    HB_CHECK(waitpid(child, NULL, 0) == child);
    uint64_t t0 = now_ms();
    for (int i = 0; i < n; i++) {
        while (e2e_alive(pids[i])) {
            while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
            if (now_ms() - t0 > 10000)
                HB_FAIL_("process %d of the killed manager still runs after 10 s", pids[i]);
            (void)poll(NULL, 0, 5);
        }
    }
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    printf("%d processes of the killed manager ended\n", n);
}

/* A process that forks after its pool has a worker ready: the child's copy
 * of the manager never takes (nor ends) the parent's pooled worker; the
 * parent still gets it. (Before, both processes could take it, and the
 * child freeing its sandbox killed the parent's worker.) */
static void case_fork_child_misses(void)
{
    hb_manager *m = e2e_manager_pool(&ev, 1);
    hb_sandbox_options so = std_opts();
    hb_sandbox *a;
    HB_CHECK_OK(hb_sandbox_new(m, &so, &a));
    hb_pool_stats s = wait_ready(m, 1);
    int fds[2];
    HB_CHECK_EQ(pipe(fds), 0);
    pid_t c = fork();
    HB_CHECK(c >= 0);
    if (c == 0) {
        alarm(60); /* the deadline of the child's part */
        hb_sandbox *x = NULL;
        int r = hb_sandbox_new(m, &so, &x);
        hb_pool_stats cs = {0};
        (void)hb_manager_pool_stats(m, &cs);
        int pid = r == 0 ? hb_sandbox_worker_pid(x) : -1;
        if (write(fds[1], &pid, sizeof(pid)) != (ssize_t)sizeof(pid))
            _exit(3);
        hb_sandbox_free(x);
        _exit(r != 0 ? 2 : cs.hits != s.hits ? 1 : 0);
    }
    close(fds[1]);
    int st = 0;
    HB_CHECK_EQ(waitpid(c, &st, 0), c);
    int child_worker = -1;
    HB_CHECK_EQ(read(fds[0], &child_worker, sizeof(child_worker)), (ssize_t)sizeof(child_worker));
    close(fds[0]);
    printf("child: exit %d, worker %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1, child_worker);
    HB_CHECK(WIFEXITED(st));
    HB_CHECK_EQ(WEXITSTATUS(st), 0); /* 1: the child took the parent's pooled worker */
    hb_sandbox *b;
    HB_CHECK_OK(hb_sandbox_new(m, &so, &b));
    hb_pool_stats after;
    HB_CHECK_OK(hb_manager_pool_stats(m, &after));
    HB_CHECK_EQ(after.hits, s.hits + 1); /* the parent's worker is still its own */
    HB_CHECK(hb_sandbox_worker_pid(b) != child_worker);
    serves(b);
    hb_sandbox_free(b);
    hb_sandbox_free(a);
    hb_manager_free(m);
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"hit_serves", case_hit_serves},
        {"other_options_miss", case_other_options_miss},
        {"output_late_bound", case_output_late_bound},
        {"off_means_none", case_off_means_none},
        {"free_ends_idle", case_free_ends_idle},
        {"sigkill_leaves_none", case_sigkill_leaves_none},
        {"fork_child_misses", case_fork_child_misses},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
