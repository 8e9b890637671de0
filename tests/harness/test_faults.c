/* tests/harness/test_faults.c - the fault-injection suite: plugin code that
 * loops, recurses, aborts, exits, allocates or opens without bound, forks,
 * crashes during probation or in a loop, and a manager killed mid-swap.
 * Each case checks the error is precise, the sandbox keeps serving, and
 * nothing beyond the documented checkpoint window is lost.
 * Each case runs as: test_faults CASE. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "e2e.h"

static e2e_events ev;

/* The counter plus one extra function `bad` whose body is given. */
static char *faulty(int step, const char *body)
{
    char extra[2048];
    snprintf(extra, sizeof(extra),
             "#include <dlfcn.h>\n#include <stdio.h>\n#include <unistd.h>\n#include <fcntl.h>\n"
             "static int depth(int n) { volatile char pad[4096]; pad[0] = (char)n; return n + depth(n + 1) + pad[0]; }\n"
             "int64_t bad(void) { %s return 0; }\n"
             "HB_PLUGIN(\"counter\", 1, 0, 0, save, migrate);",
             body);
    return e2e_counter_src(1, step, extra);
}

static hb_sandbox *sandbox(hb_manager *m, unsigned call_timeout_ms)
{
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.call_timeout_ms = call_timeout_ms;
    so.max_memory = 512ull << 20;
    so.max_open_files = 64;
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(m, &so, &sb));
    return sb;
}

/* Loads the faulty plugin, makes 3 increments and a checkpoint, calls
 * `bad`, expects `want` and a message containing `needle`, then checks the
 * sandbox serves with the checkpointed state. */
static void run_fault(const char *body, int want, const char *needle)
{
    char *dir = e2e_write("counter", "counter.c", faulty(1, body));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 2000);
    HB_CHECK_OK(hb_load(sb, dir));
    int64_t v;
    for (int i = 0; i < 3; i++)
        HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_OK(hb_checkpoint(sb, NULL));
    int r = hb_callf(sb, "counter", "bad", ")l", &v);
    printf("bad() -> %d: %s\n", r, hb_sandbox_last_error(sb));
    HB_CHECK_EQ(r, want);
    if (needle)
        HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), needle);
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 4); /* restored from the checkpoint: nothing lost */
    e2e_free(sb, m);
}

static void case_infinite_loop(void) { run_fault("for (;;) { }", HB_EHUNG, "did not answer"); }
static void case_stack_overflow(void) { run_fault("depth(0);", HB_ECRASHED, "SIGSEGV"); }
static void case_abort(void) { run_fault("abort();", HB_ECRASHED, "SIGABRT"); }
static void case_exit0(void) { run_fault("exit(0);", HB_ECRASHED, "exited with status 0"); }
static void case_alloc_unbounded(void)
{
#if defined(__SANITIZE_ADDRESS__)
    HB_SKIP("an ASan-built worker runs without RLIMIT_AS (ASan reserves terabytes of shadow "
            "memory), so unbounded allocation is not contained in this build");
#endif
    /* volatile: otherwise the compiler may drop the unused allocations */
    run_fault("for (;;) { volatile char *p = malloc(1 << 20); p[4096] = 1; }", HB_ECRASHED, "SIG");
}

static void case_cpu_limit(void)
{
    /* A worker over its CPU time limit dies of SIGXCPU; the error names the
     * limit and its value. */
    char *dir = e2e_write("counter", "counter.c", faulty(1, "for (volatile unsigned long i = 0;; i++) { }"));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.max_cpu_seconds = 1;
    so.call_timeout_ms = 60000;
    hb_sandbox *sb = e2e_loaded(m, &so, dir);
    int64_t v;
    int r = hb_callf(sb, "counter", "bad", ")l", &v);
    printf("cpu hog -> %d: %s\n", r, hb_sandbox_last_error(sb));
    HB_CHECK_EQ(r, HB_ECRASHED);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "CPU time limit 1 s");
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    e2e_free(sb, m);
}

static void case_fd_exhaustion(void)
{
    /* Contained by RLIMIT_NOFILE: open() fails, the plugin sees it. */
    char *dir = e2e_write("counter", "counter.c",
                          faulty(1, "int n = 0; while (open(\"/dev/null\", O_RDONLY) >= 0) n++; return n;"));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 5000);
    HB_CHECK_OK(hb_load(sb, dir));
    int64_t n = 0;
    int r = hb_callf(sb, "counter", "bad", ")l", &n);
    printf("opened %lld files before the limit (r=%d: %s)\n", (long long)n, r, hb_sandbox_last_error(sb));
    if (r == 0) {
        HB_CHECK(n > 0 && n < 64); /* the sandbox's max_open_files */
    } else {
        HB_CHECK_EQ(r, HB_ECRASHED); /* a profile that forbids open() */
    }
    int64_t v;
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    e2e_free(sb, m);
}

static void case_fork_bomb(void)
{
    /* fork is resolved at run time, past the import policy (which would
     * refuse an imported fork at load): the seccomp filter must stop it. */
    char *dir = e2e_write("counter", "counter.c",
                          faulty(1, "pid_t (*f)(void) = (pid_t (*)(void))dlsym((void *)0 /* RTLD_DEFAULT */, \"fork\"); "
                                    "for (int i = 0; i < 100000; i++) if (f() < 0) return -1;"));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 5000);
    HB_CHECK_OK(hb_load(sb, dir));
    int64_t v = 0;
    int r = hb_callf(sb, "counter", "bad", ")l", &v);
    printf("fork bomb -> %d (%lld): %s\n", r, (long long)v, hb_sandbox_last_error(sb));
    /* Denied by seccomp (the worker dies with a precise reason), or refused
     * by the process limit (fork returns -1): contained either way. */
    HB_CHECK(r == HB_ECRASHED || (r == 0 && v == -1));
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    e2e_free(sb, m);
}

static void kill_and_wait(int pid)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    HB_CHECK(fd >= 0);
    HB_CHECK_EQ(kill(pid, SIGKILL), 0);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    HB_CHECK_EQ(poll(&p, 1, 10000), 1);
    close(fd);
}

static void case_probation_crash(void)
{
    char *dir = e2e_write("counter", "counter.c", faulty(1, "volatile int *p = 0; *p = 1;"));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 5000);
    HB_CHECK_OK(hb_load(sb, dir));
    int64_t v;
    for (int i = 0; i < 5; i++)
        HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    /* v2: steps by 100 and its increment crashes once count passes 104. */
    e2e_write("counter", "counter.c",
              e2e_counter_src(2, 100,
                              "int64_t boom(void) { if (count > 104) { volatile int *p = 0; *p = 1; } return count; }\n"
                              "HB_PLUGIN(\"counter\", 1, 0, 0, save, migrate);"));
    HB_CHECK_OK(hb_reload(sb, "counter"));
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 105);
    HB_CHECK_EQ(hb_callf(sb, "counter", "boom", ")l", &v), HB_ECRASHED);
    /* Rolled back automatically to v1 with the state checkpointed at the
     * swap (5); v2 is bad. */
    uint64_t active = 0;
    HB_CHECK_OK(hb_active_version(sb, "counter", &active));
    HB_CHECK_EQ(active, 1);
    HB_CHECK_EQ(ev.count[HB_EVENT_ROLLED_BACK], 1);
    HB_CHECK_CONTAINS(ev.last[HB_EVENT_ROLLED_BACK], "automatic rollback");
    HB_CHECK_OK(hb_callf(sb, "counter", "get", ")l", &v));
    HB_CHECK_EQ(v, 5);
    hb_version_info *vi;
    size_t n;
    HB_CHECK_OK(hb_versions(m, "counter", &vi, &n));
    HB_CHECK_EQ(vi[1].status, HB_VERSION_BAD);
    hb_free(vi);
    /* Not retried while the source is the same, and not reported as done. */
    HB_CHECK_EQ(hb_reload(sb, "counter"), HB_EBADVERSION);
    HB_CHECK_OK(hb_active_version(sb, "counter", &active));
    HB_CHECK_EQ(active, 1);
    hb_sandbox_usage u;
    HB_CHECK_OK(hb_sandbox_usage_get(sb, &u));
    HB_CHECK_EQ(u.crashes, 1);
    HB_CHECK_EQ(u.restarts, 1);
    char *metrics = NULL;
    HB_CHECK_OK(hb_manager_metrics(m, 1, &metrics));
    HB_CHECK_CONTAINS(metrics, "rollback");
    hb_free(metrics);
    e2e_free(sb, m);
}

static void case_probation_selftest(void)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 5000);
    HB_CHECK_OK(hb_load(sb, dir));
    int64_t v;
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    e2e_write("counter", "counter.c",
              e2e_counter_src(2, 1,
                              "int hb_test_broken(void) { return 3; }\n"
                              "HB_PLUGIN(\"counter\", 1, 0, 0, save, migrate);"));
    HB_CHECK_OK(hb_reload(sb, "counter"));
    int pid = hb_sandbox_worker_pid(sb);
    unsigned passed = 9, failed = 9;
    HB_CHECK_OK(hb_run_selftests(sb, "counter", &passed, &failed));
    HB_CHECK_EQ(failed, 1);
    uint64_t active = 0;
    HB_CHECK_OK(hb_active_version(sb, "counter", &active));
    HB_CHECK_EQ(active, 1);
    HB_CHECK_EQ(hb_sandbox_worker_pid(sb), pid); /* kept: only a test failed */
    HB_CHECK_OK(hb_callf(sb, "counter", "get", ")l", &v));
    HB_CHECK_EQ(v, 1);
    e2e_free(sb, m);
}

static void case_crash_loop(void)
{
    char *dir = e2e_write("counter", "counter.c", faulty(1, "volatile int *p = 0; *p = 1;"));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.crash_loop_max = 3;
    so.crash_loop_window_ms = 60000;
    hb_sandbox *sb = e2e_loaded(m, &so, dir);
    int64_t v;
    for (int i = 0; i < 3; i++)
        HB_CHECK_EQ(hb_callf(sb, "counter", "bad", ")l", &v), HB_ECRASHED);
    HB_CHECK_EQ(hb_callf(sb, "counter", "increment", ")l", &v), HB_EFAILED);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "crash loop");
    HB_CHECK_CONTAINS(ev.last[HB_EVENT_WARNING], "failed");
    hb_sandbox_usage u;
    HB_CHECK_OK(hb_sandbox_usage_get(sb, &u));
    HB_CHECK(u.failed);
    e2e_free(sb, m);
}

/* The manager is SIGKILLed while its worker is inside a swap (the new
 * version's migrate blocks). The worker must die with it, and the next
 * manager finds a consistent store and resumes from the checkpoint taken at
 * the swap. */
static void case_manager_killed_mid_swap(void)
{
    /* The worker's stderr is a fifo the test reads: the plugin announces
     * "IN-MIGRATE" there (files of the test are not visible inside the
     * worker's sandbox, but its inherited output is). */
    char fifo[4300];
    snprintf(fifo, sizeof(fifo), "%s/worker-output", e2e_root);
    HB_CHECK_EQ(mkfifo(fifo, 0600), 0);
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    int sync[2];
    HB_CHECK_EQ(pipe(sync), 0);
    pid_t mgr = fork();
    HB_CHECK(mgr >= 0);
    if (mgr == 0) {
        close(sync[0]);
        hb_manager *m = e2e_manager(&ev);
        hb_sandbox_options so;
        hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION);
        so.name = "survivor";
        so.swap_timeout_ms = 60000;
        so.output_path = fifo;
        hb_sandbox *sb;
        if (hb_sandbox_new(m, &so, &sb) < 0 || hb_load(sb, dir) < 0)
            _exit(10);
        int64_t v;
        for (int i = 0; i < 7; i++)
            hb_callf(sb, "counter", "increment", ")l", &v);
        int wpid = hb_sandbox_worker_pid(sb);
        if (write(sync[1], &wpid, sizeof(wpid)) != sizeof(wpid))
            _exit(11);
        char full[8192];
        snprintf(full, sizeof(full), "#include <unistd.h>\n%s",
                 e2e_counter_src(2, 1,
                                 "static int mig(const void *d, size_t l, uint32_t s) { write(2, \"IN-MIGRATE\\n\", 11); for (;;) pause(); return 0; }\n"
                                 "HB_PLUGIN(\"counter\", 1, 0, 0, save, mig);"));
        e2e_write("counter", "counter.c", full);
        hb_reload(sb, "counter"); /* blocks in migrate until we are killed */
        _exit(12);
    }
    close(sync[1]);
    FILE *out = fopen(fifo, "r"); /* opens once the manager opens it to write */
    HB_CHECK(out != NULL);
    int wpid = 0;
    HB_CHECK_EQ(read(sync[0], &wpid, sizeof(wpid)), (ssize_t)sizeof(wpid));
    int wfd = (int)syscall(SYS_pidfd_open, wpid, 0);
    HB_CHECK(wfd >= 0);
    char line[512];
    bool in_migrate = false;
    while (!in_migrate && fgets(line, sizeof(line), out))
        in_migrate = strstr(line, "IN-MIGRATE") != NULL;
    HB_CHECK(in_migrate); /* the worker is inside the new version's migrate */
    kill_and_wait(mgr);
    int st;
    waitpid(mgr, &st, 0);
    /* PR_SET_PDEATHSIG: the worker dies with its manager. */
    struct pollfd p = {.fd = wfd, .events = POLLIN};
    HB_CHECK_EQ(poll(&p, 1, 10000), 1);
    close(wfd);
    fclose(out);
    /* The next manager: consistent store, state resumed from the swap-time
     * checkpoint (7); the half-swapped version never became active. */
    hb_manager *m = e2e_manager(&ev);
    char *report = NULL;
    HB_CHECK_OK(hb_verify(m, &report));
    hb_free(report);
    e2e_write("counter", "counter.c", e2e_counter_src(3, 1, NULL));
    hb_sandbox_options so;
    hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION);
    so.name = "survivor";
    hb_sandbox *sb = e2e_loaded(m, &so, dir);
    int64_t v;
    HB_CHECK_OK(hb_callf(sb, "counter", "get", ")l", &v));
    HB_CHECK_EQ(v, 7);
    e2e_free(sb, m);
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"infinite_loop", case_infinite_loop},
        {"stack_overflow", case_stack_overflow},
        {"abort", case_abort},
        {"exit0", case_exit0},
        {"alloc_unbounded", case_alloc_unbounded},
        {"fd_exhaustion", case_fd_exhaustion},
        {"cpu_limit", case_cpu_limit},
        {"fork_bomb", case_fork_bomb},
        {"probation_crash", case_probation_crash},
        {"probation_selftest", case_probation_selftest},
        {"crash_loop", case_crash_loop},
        {"manager_killed_mid_swap", case_manager_killed_mid_swap},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
