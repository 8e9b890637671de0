/* tests/harness/test_lifecycle.c - the lifecycle of workers and versions:
 * probation that ends by time, probation state across a swap whose old fini
 * crashed, sandboxes used from short-lived threads, a worker whose plugin
 * exhausted its descriptors, and a crash in a thread an old version left
 * behind. Each case runs as: test_lifecycle CASE. */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>

#include "e2e.h"

static e2e_events ev;

#define CRASH "{ volatile int *p = 0; *p = 1; }"

/* The counter (step `step`, reported version `version`) whose fini crashes
 * when fini_crashes, with a `boom` function that crashes. */
static char *counter(int version, int step, bool fini_crashes)
{
    char extra[1024];
    snprintf(extra, sizeof(extra),
             "int64_t boom(void) " CRASH " \n"
             "static void fini(void) { %s }\n"
             "HB_PLUGIN(\"counter\", 1, 0, fini, save, migrate);",
             fini_crashes ? CRASH : "");
    return e2e_counter_src(version, step, extra);
}

static hb_sandbox *sandbox(hb_manager *m, unsigned probation_calls, unsigned probation_ms)
{
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.probation_calls = probation_calls;
    so.probation_ms = probation_ms;
    so.crash_loop_max = 20;
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(m, &so, &sb));
    return sb;
}

static uint64_t active(hb_sandbox *sb)
{
    uint64_t v = 0;
    HB_CHECK_OK(hb_active_version(sb, "counter", &v));
    return v;
}

static hb_version_status status_of(hb_manager *m, uint64_t version)
{
    hb_version_info *vi;
    size_t n;
    HB_CHECK_OK(hb_versions(m, "counter", &vi, &n));
    hb_version_status st = (hb_version_status)-1;
    for (size_t i = 0; i < n; i++)
        if (vi[i].version == version)
            st = vi[i].status;
    hb_free(vi);
    return st;
}

/* Waits until `ms` milliseconds have passed since `start_ns`
 * (CLOCK_MONOTONIC): the event a time-based probation waits for. */
static void wait_until_elapsed(const struct timespec *start, unsigned ms)
{
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    HB_CHECK(tfd >= 0);
    struct itimerspec it = {0};
    it.it_value = *start;
    it.it_value.tv_sec += ms / 1000;
    it.it_value.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (it.it_value.tv_nsec >= 1000000000L) {
        it.it_value.tv_sec++;
        it.it_value.tv_nsec -= 1000000000L;
    }
    HB_CHECK_EQ(timerfd_settime(tfd, TFD_TIMER_ABSTIME, &it, NULL), 0);
    struct pollfd p = {.fd = tfd, .events = POLLIN};
    HB_CHECK_EQ(poll(&p, 1, (int)ms + 10000), 1);
    close(tfd);
}

/* 11.6: a version that served longer than probation_ms without a single
 * call, then crashes, has passed probation: the crash restarts it, it is
 * not rolled back, and it is not marked bad. */
static void case_probation_time(void)
{
    char *dir = e2e_write("counter", "counter.c", counter(1, 1, false));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 1000, 50);
    HB_CHECK_OK(hb_load(sb, dir));
    int64_t v;
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    e2e_write("counter", "counter.c", counter(2, 10, false));
    struct timespec swapped;
    HB_CHECK_OK(hb_reload(sb, "counter"));
    clock_gettime(CLOCK_MONOTONIC, &swapped);
    HB_CHECK_EQ(active(sb), 2);
    wait_until_elapsed(&swapped, 60); /* longer than probation_ms, no calls */
    HB_CHECK_EQ(hb_callf(sb, "counter", "boom", ")l", &v), HB_ECRASHED);
    HB_CHECK_EQ(active(sb), 2);
    HB_CHECK_EQ(ev.count[HB_EVENT_ROLLED_BACK], 0);
    HB_CHECK(status_of(m, 2) != HB_VERSION_BAD);
    int32_t ver = 0;
    HB_CHECK_OK(hb_callf(sb, "counter", "version", ")i", &ver));
    HB_CHECK_EQ(ver, 2);
    e2e_free(sb, m);
}

/* 11.7: v2 (on probation after v1) is replaced by v3 and v2's fini
 * crashes after the switch. v3 must be on its own probation with v2 as
 * where it goes back to: a crash of v3 rolls back to v2, not to v1. */
static void case_fini_crash_probation(void)
{
    char *dir = e2e_write("counter", "counter.c", counter(1, 1, false));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 1000, 600000);
    HB_CHECK_OK(hb_load(sb, dir));
    int64_t v;
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    e2e_write("counter", "counter.c", counter(2, 10, true));
    HB_CHECK_OK(hb_reload(sb, "counter")); /* v2 on probation, back to v1 */
    HB_CHECK_EQ(active(sb), 2);
    e2e_write("counter", "counter.c", counter(3, 100, false));
    HB_CHECK_OK(hb_reload(sb, "counter")); /* v2's fini crashes after the switch */
    HB_CHECK_EQ(ev.count[HB_EVENT_CRASHED], 1);
    HB_CHECK_EQ(active(sb), 3);
    HB_CHECK_EQ(hb_callf(sb, "counter", "boom", ")l", &v), HB_ECRASHED);
    HB_CHECK_EQ(active(sb), 2); /* one step back, not two */
    HB_CHECK_EQ(status_of(m, 3), HB_VERSION_BAD);
    HB_CHECK(status_of(m, 1) != HB_VERSION_ACTIVE);
    int32_t ver = 0;
    HB_CHECK_OK(hb_callf(sb, "counter", "version", ")i", &ver));
    HB_CHECK_EQ(ver, 2);
    e2e_free(sb, m);
}

/* 11.7, the other half: v2 passed its probation; v2's fini crashes when v3
 * replaces it. v3 is a new version and must be on probation all the same:
 * its crash rolls back to v2. */
static void case_fini_crash_after_pass(void)
{
    char *dir = e2e_write("counter", "counter.c", counter(1, 1, false));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 2, 600000);
    HB_CHECK_OK(hb_load(sb, dir));
    int64_t v;
    e2e_write("counter", "counter.c", counter(2, 10, true));
    HB_CHECK_OK(hb_reload(sb, "counter"));
    for (int i = 0; i < 2; i++) /* probation_calls: v2 passes */
        HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_CONTAINS(ev.last[HB_EVENT_WARNING], "passed probation");
    e2e_write("counter", "counter.c", counter(3, 100, false));
    HB_CHECK_OK(hb_reload(sb, "counter"));
    HB_CHECK_EQ(ev.count[HB_EVENT_CRASHED], 1);
    HB_CHECK_EQ(active(sb), 3);
    HB_CHECK_EQ(hb_callf(sb, "counter", "boom", ")l", &v), HB_ECRASHED);
    HB_CHECK_EQ(active(sb), 2);
    HB_CHECK_EQ(ev.count[HB_EVENT_ROLLED_BACK], 1);
    HB_CHECK_EQ(status_of(m, 3), HB_VERSION_BAD);
    e2e_free(sb, m);
}

/* ---- sandboxes used from short-lived threads (11.5) ---------------------- */

#define NTHREADS 6

struct owner {
    hb_manager *m;
    char dir[4200];
    char name[16];
    hb_sandbox *sb;
    int pid;
    int64_t value;
    int rc;
};

/* Thread A: creates the sandbox, loads, calls 5 times, then exits. */
static void *create_and_use(void *arg)
{
    struct owner *o = arg;
    hb_sandbox_options so;
    hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION);
    if ((o->rc = hb_sandbox_new(o->m, &so, &o->sb)) < 0)
        return NULL;
    if ((o->rc = hb_load(o->sb, o->dir)) < 0)
        return NULL;
    for (int i = 0; i < 5 && o->rc == 0; i++)
        o->rc = hb_callf(o->sb, o->name, "increment", ")l", &o->value);
    o->pid = hb_sandbox_worker_pid(o->sb);
    return NULL;
}

/* Thread B: one more call on the sandbox thread A made. */
static void *call_again(void *arg)
{
    struct owner *o = arg;
    o->rc = hb_callf(o->sb, o->name, "increment", ")l", &o->value);
    return NULL;
}

/* Waits (bounded) for a worker that is about to die of its creating
 * thread's exit, so the bug shows deterministically: the pidfd tells. */
static bool worker_dies_within(int pid, int ms)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return true;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n = poll(&p, 1, ms);
    close(fd);
    return n == 1;
}

/* Sandboxes created (and used) on threads that then exit keep their worker
 * and their state: the next call, from another thread, sees the same
 * worker and the state the first thread left. Several at once. */
static void case_threads(void)
{
    hb_manager *m = e2e_manager(&ev);
    static struct owner o[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        o[i].m = m;
        snprintf(o[i].name, sizeof(o[i].name), "c%d", i);
        char extra[256];
        snprintf(extra, sizeof(extra), "HB_PLUGIN(\"%s\", 1, 0, 0, save, migrate);", o[i].name);
        snprintf(o[i].dir, sizeof(o[i].dir), "%s", e2e_write(o[i].name, "c.c", e2e_counter_src(1, 1, extra)));
    }
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        HB_CHECK_EQ(pthread_create(&t[i], NULL, create_and_use, &o[i]), 0);
    for (int i = 0; i < NTHREADS; i++)
        HB_CHECK_EQ(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < NTHREADS; i++) {
        HB_CHECK_OK(o[i].rc);
        HB_CHECK_EQ(o[i].value, 5);
        HB_CHECK(o[i].pid > 0);
    }
    /* The creating threads are gone. A worker tied to its thread dies now. */
    for (int i = 0; i < NTHREADS; i++)
        HB_CHECK(!worker_dies_within(o[i].pid, i == 0 ? 500 : 0));
    for (int i = 0; i < NTHREADS; i++)
        HB_CHECK_EQ(pthread_create(&t[i], NULL, call_again, &o[i]), 0);
    for (int i = 0; i < NTHREADS; i++)
        HB_CHECK_EQ(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < NTHREADS; i++) {
        HB_CHECK_OK(o[i].rc);
        HB_CHECK_EQ(o[i].value, 6); /* state intact */
        HB_CHECK_EQ(hb_sandbox_worker_pid(o[i].sb), o[i].pid);
        hb_sandbox_usage u;
        HB_CHECK_OK(hb_sandbox_usage_get(o[i].sb, &u));
        HB_CHECK_EQ(u.restarts, 0);
        HB_CHECK_EQ(u.crashes, 0);
        hb_sandbox_free(o[i].sb);
    }
    hb_manager_free(m);
}

/* No orphans: a manager whose sandbox was created on a thread that exited
 * is SIGKILLed; its worker dies with it (the keeper thread held it). */
static void case_threads_manager_killed(void)
{
    static struct owner o;
    snprintf(o.name, sizeof(o.name), "c0");
    snprintf(o.dir, sizeof(o.dir), "%s",
             e2e_write("c0", "c.c", e2e_counter_src(1, 1, "HB_PLUGIN(\"c0\", 1, 0, 0, save, migrate);")));
    int sync[2];
    HB_CHECK_EQ(pipe(sync), 0);
    pid_t mgr = fork();
    HB_CHECK(mgr >= 0);
    if (mgr == 0) {
        close(sync[0]);
        o.m = e2e_manager(&ev);
        pthread_t t;
        if (pthread_create(&t, NULL, create_and_use, &o) != 0 || pthread_join(t, NULL) != 0 ||
            o.rc < 0)
            _exit(10);
        if (write(sync[1], &o.pid, sizeof(o.pid)) != sizeof(o.pid))
            _exit(11);
        for (;;)
            pause();
    }
    close(sync[1]);
    int wpid = 0;
    HB_CHECK_EQ(read(sync[0], &wpid, sizeof(wpid)), (ssize_t)sizeof(wpid));
    int wfd = (int)syscall(SYS_pidfd_open, wpid, 0);
    HB_CHECK(wfd >= 0);
    struct pollfd p = {.fd = wfd, .events = POLLIN};
    HB_CHECK_EQ(poll(&p, 1, 0), 0); /* alive while its manager lives */
    HB_CHECK_EQ(kill(mgr, SIGKILL), 0);
    int st;
    HB_CHECK_EQ(waitpid(mgr, &st, 0), mgr);
    HB_CHECK_EQ(poll(&p, 1, 10000), 1); /* and dies with it */
    close(wfd);
}

/* A worker stuck in plugin code dies with its manager: the manager is
 * SIGKILLed while a call spins for ever (so the worker never reads the
 * closed channel), and nothing of the sandbox may outlive it. As root the
 * worker runs as the jail's uid under a root bwrap, where no parent-death
 * signal reaches it: only its lifeline thread can end it. */
static void case_manager_killed_mid_call(void)
{
    char *dir = e2e_write("spinner", "s.c",
                          "#include <hotbox/plugin.h>\n#include <stdint.h>\n"
                          "HB_EXPORT_FN int32_t spin(void) { volatile int32_t x = 0; for (;;) x++; return x; }\n"
                          "HB_PLUGIN(\"spinner\", 1, 0, 0, 0, 0);\n");
    int sync[2];
    HB_CHECK_EQ(pipe(sync), 0);
    pid_t mgr = fork();
    HB_CHECK(mgr >= 0);
    if (mgr == 0) {
        close(sync[0]);
        hb_manager *m = e2e_manager(&ev);
        hb_sandbox_options so;
        hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION);
        so.call_timeout_ms = 600000;
        hb_sandbox *sb = NULL;
        if (hb_sandbox_new(m, &so, &sb) < 0 || hb_load(sb, dir) < 0)
            _exit(10);
        int pid = hb_sandbox_worker_pid(sb);
        if (write(sync[1], &pid, sizeof(pid)) != sizeof(pid))
            _exit(11);
        int32_t r = 0;
        hb_callf(sb, "spinner", "spin", ")i", &r);
        _exit(12);
    }
    close(sync[1]);
    int wpid = 0;
    HB_CHECK_EQ(read(sync[0], &wpid, sizeof(wpid)), (ssize_t)sizeof(wpid));
    int wfd = (int)syscall(SYS_pidfd_open, wpid, 0);
    HB_CHECK(wfd >= 0);
    /* Wait (deadline 20 s) until the worker spins in the call. */
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", wpid);
    bool spinning = false;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (spinning || t.tv_sec - t0.tv_sec > 20)
            break;
        FILE *f = fopen(path, "r");
        HB_CHECK(f != NULL);
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = 0;
        const char *st = strrchr(buf, ')');
        spinning = st && st[1] == ' ' && st[2] == 'R';
        if (!spinning) {
            struct pollfd p = {.fd = wfd, .events = POLLIN};
            HB_CHECK_EQ(poll(&p, 1, 1), 0); /* still alive; look again */
        }
    }
    HB_CHECK(spinning);
    HB_CHECK_EQ(kill(mgr, SIGKILL), 0);
    int st;
    HB_CHECK_EQ(waitpid(mgr, &st, 0), mgr);
    struct pollfd p = {.fd = wfd, .events = POLLIN};
    HB_CHECK_EQ(poll(&p, 1, 10000), 1); /* the worker dies with its manager */
    close(wfd);
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

/* A restart between two calls is visible: the worker is killed from outside
 * after calls that no checkpoint holds; the next call says the state was
 * lost (and does not run), events and usage counters say it too, and the
 * plugin serves from its checkpoint afterwards. A restart caused by another
 * plugin's crash is reported to this plugin the same way. */
static void case_restart_visible(void)
{
    char *dir = e2e_write("counter", "counter.c", counter(1, 1, false));
    char *other = e2e_write("other", "other.c",
                            e2e_counter_src(1, 1, "int64_t boom(void) " CRASH "\n"
                                                  "HB_PLUGIN(\"other\", 1, 0, 0, save, migrate);"));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 20, 2000);
    HB_CHECK_OK(hb_load(sb, dir));
    HB_CHECK_OK(hb_load(sb, other));
    int64_t v;
    for (int i = 0; i < 3; i++)
        HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_OK(hb_checkpoint(sb, NULL));
    for (int i = 0; i < 2; i++)
        HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 5);
    kill_and_wait(hb_sandbox_worker_pid(sb));
    int r = hb_callf(sb, "counter", "increment", ")l", &v);
    printf("after the kill -> %d: %s\n", r, hb_sandbox_last_error(sb));
    HB_CHECK_EQ(r, HB_ESTATELOST);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "since its last checkpoint was lost");
    HB_CHECK_EQ(ev.count[HB_EVENT_RESTARTED], 1);
    HB_CHECK_EQ(ev.count[HB_EVENT_STATE_RESET], 1);
    HB_CHECK_CONTAINS(ev.last[HB_EVENT_STATE_RESET], "2 calls");
    hb_sandbox_usage u;
    HB_CHECK_OK(hb_sandbox_usage_get(sb, &u));
    HB_CHECK_EQ(u.restarts, 1);
    HB_CHECK_EQ(u.crashes, 1);
    HB_CHECK_OK(hb_callf(sb, "counter", "get", ")l", &v));
    HB_CHECK_EQ(v, 3); /* the checkpoint; the failed call did not run */
    /* Said once: the next call is ordinary. "other" made no call: nothing
     * of it was lost, and it is not told anything. */
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 4);
    HB_CHECK_OK(hb_callf(sb, "other", "get", ")l", &v));
    /* Another plugin's crash restarts the worker: counter's call since its
     * last checkpoint is lost and its next call says so. */
    HB_CHECK_EQ(hb_callf(sb, "other", "boom", ")l", &v), HB_ECRASHED);
    HB_CHECK_EQ(hb_callf(sb, "counter", "get", ")l", &v), HB_ESTATELOST);
    HB_CHECK_OK(hb_callf(sb, "other", "get", ")l", &v)); /* its own crash said it */
    HB_CHECK_OK(hb_callf(sb, "counter", "get", ")l", &v));
    HB_CHECK_EQ(v, 3);
    e2e_free(sb, m);
}

/* ---- a plugin that exhausts its descriptors (11.10) ---------------------- */

static char *leaky(int version, int step)
{
    static char extra[1024];
    snprintf(extra, sizeof(extra),
             "#include <fcntl.h>\n"
             "int64_t leak(void) { int64_t n = 0; while (open(\"/dev/null\", O_RDONLY) >= 0) n++; return n; }\n"
             "HB_PLUGIN(\"counter\", 1, 0, 0, save, migrate);");
    return e2e_counter_src(version, step, extra);
}

/* The plugin leaks every descriptor the worker may have. Later loads and
 * swaps (dlopen needs a descriptor) must not fail with "Too many open
 * files" for the life of the sandbox: the worker restarts with the last
 * good versions and their state, the operation goes through, and no good
 * version is marked bad. */
static void case_fd_exhaustion_recovers(void)
{
    char *dir = e2e_write("counter", "counter.c", leaky(1, 1));
    char *other = e2e_write("other", "other.c",
                            e2e_counter_src(1, 1, "HB_PLUGIN(\"other\", 1, 0, 0, save, migrate);"));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.max_open_files = 64;
    hb_sandbox *sb = e2e_loaded(m, &so, dir);
    int64_t v, n = 0;
    for (int i = 0; i < 3; i++)
        HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    int r = hb_callf(sb, "counter", "leak", ")l", &n);
    if (r == HB_ECRASHED)
        HB_SKIP("the sandbox profile does not let the plugin open files: %s",
                hb_sandbox_last_error(sb));
    HB_CHECK_OK(r);
    HB_CHECK(n > 0 && n < 64);
    int pid = hb_sandbox_worker_pid(sb);
    /* A load into the crippled worker. */
    r = hb_load(sb, other);
    printf("load after the leak -> %d: %s\n", r, hb_sandbox_last_error(sb));
    HB_CHECK_OK(r);
    HB_CHECK(hb_sandbox_worker_pid(sb) != pid);
    HB_CHECK_EQ(ev.count[HB_EVENT_RESTARTED], 1);
    HB_CHECK_CONTAINS(ev.last[HB_EVENT_RESTARTED], "file descriptors");
    HB_CHECK_OK(hb_callf(sb, "counter", "get", ")l", &v));
    HB_CHECK_EQ(v, 3); /* saved before the restart: nothing lost */
    HB_CHECK_OK(hb_callf(sb, "other", "increment", ")l", &v));
    HB_CHECK_EQ(v, 1);
    /* Leak again, then a swap of the leaking plugin itself. */
    HB_CHECK_OK(hb_callf(sb, "counter", "leak", ")l", &n));
    e2e_write("counter", "counter.c", leaky(2, 10));
    r = hb_reload(sb, "counter");
    printf("reload after the leak -> %d: %s\n", r, hb_sandbox_last_error(sb));
    HB_CHECK_OK(r);
    HB_CHECK_EQ(active(sb), 2);
    HB_CHECK_EQ(ev.count[HB_EVENT_RESTARTED], 2);
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 13); /* the state came along */
    HB_CHECK_OK(hb_callf(sb, "other", "get", ")l", &v));
    HB_CHECK_EQ(v, 1);
    HB_CHECK(status_of(m, 2) != HB_VERSION_BAD);
    e2e_free(sb, m);
}

/* ---- a thread an old version left behind (11.9) ---------------------------- */

/* v1's init starts a thread that blocks on a pipe whose write end it puts
 * at fd 200, then crashes in v1's own code once a byte arrives. v1 has no
 * fini: the thread outlives the swap. */
#define LURKER_FD "200"

static const char *lurking_v1(void)
{
    return e2e_counter_src(
        1, 1,
        "#include <pthread.h>\n#include <unistd.h>\n"
        "static int pfd[2];\n"
        "static void *lurker(void *a) { char c; while (read(pfd[0], &c, 1) != 1) { } "
        "volatile int *p = 0; *p = 1; return a; }\n"
        "static int init(void) { pthread_t t; if (pipe(pfd) < 0 || dup2(pfd[1], " LURKER_FD ") < 0) return -1; "
        "return pthread_create(&t, 0, lurker, 0) == 0 ? 0 : -1; }\n"
        "HB_PLUGIN(\"counter\", 1, init, 0, save, migrate);");
}

/* v2's poke wakes v1's thread and waits: the worker dies during v2's call,
 * of a fault in v1's code. */
static const char *poking_v2(void)
{
    return e2e_counter_src(
        2, 10,
        "#include <unistd.h>\n"
        "int64_t poke(void) { char c = 1; if (write(" LURKER_FD ", &c, 1) != 1) return -1; for (;;) pause(); return 0; }\n"
        "HB_PLUGIN(\"counter\", 1, 0, 0, save, migrate);");
}

/* The old version's code stays mapped while its thread lives, and the crash
 * is blamed on the version whose code faulted (v1, retired), not on the
 * version whose call was running (v2, on probation): v2 is not rolled back
 * nor marked bad, the error names v1. */
static void case_old_thread_blame(void)
{
    char *dir = e2e_write("counter", "counter.c", lurking_v1());
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 1000, 600000);
    HB_CHECK_OK(hb_load(sb, dir));
    int64_t v;
    for (int i = 0; i < 3; i++)
        HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    e2e_write("counter", "counter.c", poking_v2());
    HB_CHECK_OK(hb_reload(sb, "counter"));
    HB_CHECK_EQ(active(sb), 2);
    int r = hb_callf(sb, "counter", "poke", ")l", &v);
    printf("poke -> %d: %s\n", r, hb_sandbox_last_error(sb));
    HB_CHECK_EQ(r, HB_ECRASHED);
    HB_CHECK_EQ(active(sb), 2);
    HB_CHECK_EQ(ev.count[HB_EVENT_ROLLED_BACK], 0);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "in counter v1, a version no longer active");
    HB_CHECK(status_of(m, 2) != HB_VERSION_BAD);
    HB_CHECK_EQ(status_of(m, 1), HB_VERSION_BAD); /* v1's fault, said so */
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 13); /* v2 from the swap's checkpoint (3) */
    e2e_free(sb, m);
}

/* v2's init starts a thread that, once arm() wrote a byte, waits until the
 * worker's main thread is blocked waiting for the next request (its state
 * in /proc turns to S), then crashes in v2's code: the worker dies between
 * requests. */
static const char *idle_crasher_v2(void)
{
    return e2e_counter_src(
        2, 10,
        "#include <pthread.h>\n#include <sched.h>\n#include <stdio.h>\n#include <unistd.h>\n"
        "static int pfd[2];\n"
        "static int main_blocked(void) { char b[512], path[64]; "
        "snprintf(path, sizeof(path), \"/proc/self/task/%d/stat\", (int)getpid()); "
        "FILE *f = fopen(path, \"r\"); if (!f) return 1; size_t n = fread(b, 1, sizeof(b) - 1, f); fclose(f); "
        "b[n] = 0; char *p = strrchr(b, ')'); return p && p[1] == ' ' && p[2] == 'S'; }\n"
        "static void *lurker(void *a) { char c; while (read(pfd[0], &c, 1) != 1) { } "
        "while (!main_blocked()) sched_yield(); volatile int *p = 0; *p = 1; return a; }\n"
        "static int init(void) { pthread_t t; if (pipe(pfd) < 0) return -1; "
        "return pthread_create(&t, 0, lurker, 0) == 0 ? 0 : -1; }\n"
        "int64_t arm(void) { char c = 1; return write(pfd[1], &c, 1) == 1 ? 0 : -1; }\n"
        "HB_PLUGIN(\"counter\", 1, init, 0, save, migrate);");
}

/* A version on probation whose thread crashes the worker while no request
 * runs is blamed all the same (the worker said where it faulted): rolled
 * back, marked bad, and the next call says state was lost. */
static void case_idle_thread_crash(void)
{
    char *dir = e2e_write("counter", "counter.c", counter(1, 1, false));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 1000, 600000);
    HB_CHECK_OK(hb_load(sb, dir));
    int64_t v;
    for (int i = 0; i < 3; i++)
        HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    e2e_write("counter", "counter.c", idle_crasher_v2());
    HB_CHECK_OK(hb_reload(sb, "counter"));
    HB_CHECK_EQ(active(sb), 2);
    int pid = hb_sandbox_worker_pid(sb);
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    HB_CHECK(pfd >= 0);
    HB_CHECK_OK(hb_callf(sb, "counter", "arm", ")l", &v));
    struct pollfd p = {.fd = pfd, .events = POLLIN};
    HB_CHECK_EQ(poll(&p, 1, 10000), 1); /* the worker died after answering */
    close(pfd);
    int r = hb_callf(sb, "counter", "get", ")l", &v);
    printf("get after the idle crash -> %d: %s\n", r, hb_sandbox_last_error(sb));
    HB_CHECK_EQ(r, HB_ESTATELOST); /* arm() ran since the swap's checkpoint */
    HB_CHECK_EQ(active(sb), 1);
    HB_CHECK_EQ(ev.count[HB_EVENT_ROLLED_BACK], 1);
    HB_CHECK_EQ(status_of(m, 2), HB_VERSION_BAD);
    HB_CHECK_CONTAINS(ev.last[HB_EVENT_CRASHED], "died while idle");
    HB_CHECK_CONTAINS(ev.last[HB_EVENT_CRASHED], "in counter v2");
    HB_CHECK_OK(hb_callf(sb, "counter", "get", ")l", &v));
    HB_CHECK_EQ(v, 3);
    e2e_free(sb, m);
}

/* A state-lost notice is not a self-test failure: a version on probation
 * whose worker was killed after calls runs its self-tests, they pass, and
 * it is not rolled back. */
static void case_selftest_after_restart(void)
{
    char *dir = e2e_write("counter", "counter.c", counter(1, 1, false));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 1000, 600000);
    HB_CHECK_OK(hb_load(sb, dir));
    e2e_write("counter", "counter.c",
              e2e_counter_src(2, 10, "int hb_test_ok(void) { return 0; }\n"
                                     "HB_PLUGIN(\"counter\", 1, 0, 0, save, migrate);"));
    HB_CHECK_OK(hb_reload(sb, "counter"));
    int64_t v;
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    kill_and_wait(hb_sandbox_worker_pid(sb));
    unsigned passed = 9, failed = 9;
    HB_CHECK_OK(hb_run_selftests(sb, "counter", &passed, &failed));
    HB_CHECK_EQ(failed, 0);
    HB_CHECK_EQ(passed, 1);
    HB_CHECK_EQ(active(sb), 2);
    HB_CHECK_EQ(ev.count[HB_EVENT_ROLLED_BACK], 0);
    e2e_free(sb, m);
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"probation_time", case_probation_time},
        {"fini_crash_probation", case_fini_crash_probation},
        {"fini_crash_after_pass", case_fini_crash_after_pass},
        {"threads", case_threads},
        {"restart_visible", case_restart_visible},
        {"fd_exhaustion_recovers", case_fd_exhaustion_recovers},
        {"old_thread_blame", case_old_thread_blame},
        {"idle_thread_crash", case_idle_thread_crash},
        {"selftest_after_restart", case_selftest_after_restart},
        {"threads_manager_killed", case_threads_manager_killed},
        {"manager_killed_mid_call", case_manager_killed_mid_call},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
