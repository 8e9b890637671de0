/* tests/harness/test_robust.c - the C API attacked from outside: many
 * threads and sandboxes on one manager, plugins that flood their output,
 * install their own fault handlers, exit or abort inside hooks, and
 * workers killed from outside in the middle of swaps. Every case checks
 * that the code and events tell the truth and the sandbox keeps serving.
 * Each case runs as: test_robust CASE. */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "e2e.h"

static e2e_events ev;

static hb_sandbox *sandbox(hb_manager *m, unsigned call_timeout_ms)
{
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.call_timeout_ms = call_timeout_ms;
    so.swap_timeout_ms = call_timeout_ms;
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(m, &so, &sb));
    return sb;
}

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    HB_CHECK(d != NULL);
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1;
}

/* ---- many threads, one manager ------------------------------------------ */

#define NT 32
struct worker_arg {
    hb_manager *m;
    const char *dir;
    int idx;
    int rc;
    char err[512];
};

static void *thread_body(void *p)
{
    struct worker_arg *a = p;
    for (int round = 0; round < 3; round++) {
        hb_sandbox *sb = NULL;
        int r = hb_sandbox_new(a->m, NULL, &sb);
        if (r < 0) {
            a->rc = r;
            snprintf(a->err, sizeof(a->err), "new: %s", hb_manager_last_error(a->m));
            return NULL;
        }
        r = hb_load(sb, a->dir);
        int64_t v = 0;
        for (int i = 0; r == 0 && i < 10; i++) {
            r = hb_callf(sb, "counter", "increment", ")l", &v);
            if (r == 0 && v != i + 1)
                r = -EDOM;
        }
        if (r == 0)
            r = hb_checkpoint(sb, NULL);
        if (r < 0) {
            a->rc = r;
            snprintf(a->err, sizeof(a->err), "round %d: %s", round, hb_sandbox_last_error(sb));
            hb_sandbox_free(sb);
            return NULL;
        }
        hb_sandbox_free(sb);
    }
    return NULL;
}

static void threads32(hb_isolation iso)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager_options o = e2e_options(e2e_on_event, &ev);
    o.isolation = iso;
    /* No worker pool: the fds counted are the sandboxes' (an idle pooled
     * worker keeps its own until hb_manager_free: test_pool). */
    o.worker_pool = 0;
    int fds_base = count_fds();
    hb_manager *m = e2e_manager_with(&o);
    int fds_before = count_fds();
    static struct worker_arg a[NT];
    pthread_t t[NT];
    for (int i = 0; i < NT; i++) {
        a[i] = (struct worker_arg){.m = m, .dir = dir, .idx = i};
        HB_CHECK_EQ(pthread_create(&t[i], NULL, thread_body, &a[i]), 0);
    }
    for (int i = 0; i < NT; i++)
        HB_CHECK_EQ(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < NT; i++) {
        if (a[i].rc)
            fprintf(stderr, "thread %d: %d %s\n", i, a[i].rc, a[i].err);
        HB_CHECK_OK(a[i].rc);
    }
    HB_CHECK_EQ(count_fds(), fds_before + e2e_watch_helpers()); /* + the helper's socket */
    hb_manager_free(m);
    HB_CHECK_EQ(count_fds(), fds_base);
}

static void case_threads32(void) { threads32(HB_ISOLATION_LOCAL); }
/* The same with compiles in the strongest isolation this machine has. */
static void case_threads32_auto(void) { threads32(HB_ISOLATION_AUTO); }

/* Many sandboxes of one manager build and swap the same plugin at once:
 * every distinct source is stored once, every swap that succeeded serves
 * a build of a source that was on disk. */
#define NR 16
static atomic_int edits_done, loaded, swapped;
static pthread_mutex_t progress_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t progress_cond = PTHREAD_COND_INITIALIZER;

/* Counts one more on counter (loaded, swapped) and wakes wait_count. */
static void count_one(atomic_int *counter)
{
    pthread_mutex_lock(&progress_lock);
    atomic_fetch_add(counter, 1);
    pthread_cond_broadcast(&progress_cond);
    pthread_mutex_unlock(&progress_lock);
}

/* Waits until counter reaches want; failing after 120 s. */
static void wait_count(atomic_int *counter, int want)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 120;
    pthread_mutex_lock(&progress_lock);
    int r = 0;
    while (atomic_load(counter) < want && r != ETIMEDOUT)
        r = pthread_cond_timedwait(&progress_cond, &progress_lock, &deadline);
    int got = atomic_load(counter);
    pthread_mutex_unlock(&progress_lock);
    HB_CHECK(got >= want);
}
struct reload_arg {
    hb_manager *m;
    const char *dir;
    int rc, swaps, last;
    char err[512];
};

static void *reload_body(void *p)
{
    struct reload_arg *a = p;
    hb_sandbox_options so;
    hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION);
    so.probation_calls = 2;
    hb_sandbox *sb = NULL;
    int r = hb_sandbox_new(a->m, &so, &sb);
    if (r == 0)
        r = hb_load(sb, a->dir);
    count_one(&loaded);
    int extra = 0;
    for (int i = 0; r == 0 && (!atomic_load(&edits_done) || extra++ < 2); i++) {
        uint64_t before = 0, after = 0;
        hb_active_version(sb, "counter", &before);
        r = hb_reload(sb, "counter");
        if (r == HB_ECHANGED)
            r = 0; /* the source moved during the build: fine, next round */
        hb_active_version(sb, "counter", &after);
        a->swaps += after != before;
        if (after != before)
            count_one(&swapped);
        int32_t ver = 0;
        if (r == 0)
            r = hb_callf(sb, "counter", "version", ")i", &ver);
        if (r == 0 && (ver < 1 || ver > 1000))
            r = -EDOM;
        a->last = ver;
        int64_t v;
        if (r == 0)
            r = hb_callf(sb, "counter", "increment", ")l", &v);
        if (r == 0 && v != i + 1) {
            snprintf(a->err, sizeof(a->err), "round %d: count %lld", i, (long long)v);
            a->rc = -ERANGE; /* state lost in a swap */
            hb_sandbox_free(sb);
            return NULL;
        }
    }
    if (r < 0)
        snprintf(a->err, sizeof(a->err), "%s", sb ? hb_sandbox_last_error(sb) : hb_manager_last_error(a->m));
    a->rc = r;
    hb_sandbox_free(sb);
    return NULL;
}

static void case_threads_reload(void)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager *m = e2e_manager(&ev);
    static struct reload_arg a[NR];
    pthread_t t[NR];
    for (int i = 0; i < NR; i++) {
        a[i] = (struct reload_arg){.m = m, .dir = dir};
        HB_CHECK_EQ(pthread_create(&t[i], NULL, reload_body, &a[i]), 0);
    }
    wait_count(&loaded, NR);
    for (int k = 2; k <= 6; k++) {
        /* The next edit once a few sandboxes swapped to the last one. */
        int target = atomic_load(&swapped) + 3;
        e2e_write("counter", "counter.c", e2e_counter_src(k, 1, NULL));
        wait_count(&swapped, target);
    }
    atomic_store(&edits_done, 1);
    for (int i = 0; i < NR; i++)
        HB_CHECK_EQ(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < NR; i++) {
        if (a[i].rc)
            fprintf(stderr, "thread %d: %d (%s) %s\n", i, a[i].rc, hb_strerror(a[i].rc), a[i].err);
        HB_CHECK_OK(a[i].rc);
    }
    hb_version_info *vi;
    size_t n;
    HB_CHECK_OK(hb_versions(m, "counter", &vi, &n));
    int swaps = 0;
    for (int i = 0; i < NR; i++)
        swaps += a[i].swaps;
    printf("%zu versions stored for 6 sources, %d swaps in %d sandboxes\n", n, swaps, NR);
    HB_CHECK(n >= 2 && n <= 6); /* an edit superseded before any build is never built */
    for (int i = 0; i < NR; i++)
        HB_CHECK_EQ(a[i].last, 6); /* every sandbox converged on the last edit */
    HB_CHECK(n <= 6);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            HB_CHECK(vi[i].version != vi[j].version);
            HB_CHECK(strcmp(vi[i].source_sha256, vi[j].source_sha256) != 0);
        }
    hb_free(vi);
    hb_manager_free(m);
}

/* ---- fifty sandboxes at once ------------------------------------------- */

/* Object views (hb-view-*) of this test's sandboxes: they live in the
 * state directory's run/ or in $TMPDIR, both private to the test here. */
static int count_views(void)
{
    int n = 0;
    const char *where[] = {"tmp", ".hotbox/run"};
    for (size_t i = 0; i < 2; i++) {
        char path[4300];
        snprintf(path, sizeof(path), "%s/%s", e2e_root, where[i]);
        DIR *d = opendir(path);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d)))
            n += strncmp(e->d_name, "hb-view-", 8) == 0;
        closedir(d);
    }
    return n;
}

static void private_tmpdir(void)
{
    char tmp[4300];
    snprintf(tmp, sizeof(tmp), "%s/tmp", e2e_root);
    HB_CHECK_EQ(chmod(e2e_root, 0711), 0); /* the jail's uid reaches it */
    HB_CHECK_EQ(mkdir(tmp, 0755), 0);
    HB_CHECK_EQ(setenv("TMPDIR", tmp, 1), 0);
}

static void case_many50(void)
{
    private_tmpdir();
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    int fds_base = count_fds();
    hb_manager *m = e2e_manager_pool(&ev, 0); /* the sandboxes' fds and views alone */
    int fds_before = count_fds();
    enum { N = 50 };
    hb_sandbox *sb[N];
    int pids[N];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < N; i++) {
        sb[i] = sandbox(m, 10000);
        HB_CHECK_OK(hb_load(sb[i], dir));
        pids[i] = hb_sandbox_worker_pid(sb[i]);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("50 sandboxes loaded in %.0f ms, %d fds\n",
           (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6, count_fds() - fds_before);
    for (int i = 0; i < N; i++) {
        int64_t v;
        for (int k = 0; k <= i % 3; k++)
            HB_CHECK_OK(hb_callf(sb[i], "counter", "increment", ")l", &v));
        HB_CHECK_EQ(v, i % 3 + 1);
    }
    int views = count_views();
    printf("%d object views while 50 sandboxes live\n", views);
    HB_CHECK(views > 0);
    for (int i = 0; i < N; i++)
        hb_sandbox_free(sb[i]);
    HB_CHECK_EQ(count_views(), 0); /* freed sandboxes leave nothing behind */
    HB_CHECK_EQ(count_fds(), fds_before + e2e_watch_helpers()); /* + the helper's socket */
    for (int i = 0; i < N; i++)
        HB_CHECK(!e2e_alive(pids[i]));
    hb_manager_free(m);
    HB_CHECK_EQ(count_fds(), fds_base);
}

/* The manager runs out of descriptors while making sandboxes: a clear
 * error, nothing leaked on the failure path, and room again once a
 * sandbox is freed. */
static void case_manager_fd_limit(void)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *warm = sandbox(m, 5000);
    HB_CHECK_OK(hb_load(warm, dir)); /* compile once, with room */
    struct rlimit old, low;
    HB_CHECK_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = (rlim_t)count_fds() + 40;
    HB_CHECK_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    hb_sandbox *sb[64];
    int n = 0, r = 0;
    const char *why = "";
    while (n < 64) {
        r = hb_sandbox_new(m, NULL, &sb[n]);
        if (r < 0) {
            why = hb_manager_last_error(m);
            break;
        }
        r = hb_load(sb[n], dir);
        n++;
        if (r < 0) {
            why = hb_sandbox_last_error(sb[n - 1]);
            break;
        }
    }
    printf("%d sandboxes, then %d (%s): %s\n", n, r, hb_strerror(r), why);
    HB_CHECK(r < 0 && n < 64);
    HB_CHECK_CONTAINS(why, "open files"); /* says why: EMFILE's text */
    int at_limit = count_fds();
    /* Failing again leaks nothing. */
    hb_sandbox *extra = NULL;
    for (int i = 0; i < 5; i++) {
        if (hb_sandbox_new(m, NULL, &extra) == 0) {
            hb_sandbox_free(extra);
            extra = NULL;
        }
    }
    HB_CHECK(count_fds() <= at_limit);
    for (int i = 0; i < n; i++)
        hb_sandbox_free(sb[i]);
    HB_CHECK_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
    hb_sandbox *again = sandbox(m, 5000);
    HB_CHECK_OK(hb_load(again, dir));
    int64_t v;
    HB_CHECK_OK(hb_callf(again, "counter", "increment", ")l", &v));
    hb_sandbox_free(again);
    e2e_free(warm, m);
}

/* ---- hostile plugin bodies --------------------------------------------- */

static char *with_bad(const char *includes, const char *body, const char *hooks)
{
    char extra[4096];
    snprintf(extra, sizeof(extra),
             "%s\nint64_t bad(void) { %s return 0; }\n%s", includes, body,
             hooks ? hooks : "HB_PLUGIN(\"counter\", 1, 0, 0, save, migrate);");
    char full[16384];
    snprintf(full, sizeof(full), "#include <errno.h>\n#include <signal.h>\n#include <unistd.h>\n#include <stdio.h>\n#include <pthread.h>\n%s",
             e2e_counter_src(1, 1, extra));
    return e2e_ring(full);
}

/* Loads, increments 3 and checkpoints, calls bad, expects want, then the
 * sandbox must serve the checkpointed state. */
static void expect_bad(const char *src, int want, const char *needle)
{
    char *dir = e2e_write("counter", "counter.c", src);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 3000);
    HB_CHECK_OK(hb_load(sb, dir));
    int64_t v;
    for (int i = 0; i < 3; i++)
        HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_OK(hb_checkpoint(sb, NULL));
    int r = hb_callf(sb, "counter", "bad", ")l", &v);
    printf("bad() -> %d (%s) value %lld: %s\n", r, hb_strerror(r), (long long)v, hb_sandbox_last_error(sb));
    HB_CHECK_EQ(r, want);
    if (needle)
        HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), needle);
    HB_CHECK_OK(hb_callf(sb, "counter", "get", ")l", &v));
    HB_CHECK_EQ(v, 3);
    e2e_free(sb, m);
}

static void case_own_segv_handler_exit0(void)
{
    expect_bad(with_bad("static void h(int s) { (void)s; _exit(0); }", "signal(SIGSEGV, h); *(volatile int *)8 = 1;", NULL),
               HB_ECRASHED, "exited with status 0");
}

static void case_own_segv_handler_returns(void)
{
    /* The handler returns: the fault repeats forever; the call times out. */
    expect_bad(with_bad("static void h(int s) { (void)s; }", "signal(SIGSEGV, h); *(volatile int *)8 = 1;", NULL),
               HB_EHUNG, NULL);
}

static void case_segv_ignored(void)
{
    expect_bad(with_bad("", "signal(SIGSEGV, SIG_IGN); *(volatile int *)8 = 1;", NULL), HB_ECRASHED, "SIGSEGV");
}

static void case_abort_blocked(void)
{
    expect_bad(with_bad("", "sigset_t s; sigemptyset(&s); sigaddset(&s, SIGABRT); sigprocmask(SIG_BLOCK, &s, 0); abort();", NULL),
               HB_ECRASHED, "SIGABRT");
}

static void case_raise_segv(void)
{
    expect_bad(with_bad("", "raise(SIGSEGV);", NULL), HB_ECRASHED, "SIGSEGV");
}

static void case_raise_sys(void)
{
    expect_bad(with_bad("", "raise(SIGSYS);", NULL), HB_ECRASHED, "SIGSYS");
}

static void case_raise_rt(void)
{
    expect_bad(with_bad("", "raise(SIGRTMIN + 3);", NULL), HB_ECRASHED, "signal");
}

static void case_exit_from_thread(void)
{
    expect_bad(with_bad("static void *t(void *p) { (void)p; exit(0); return 0; }",
                        "pthread_t th; pthread_create(&th, 0, t, 0); pthread_join(th, 0);", NULL),
               HB_ECRASHED, "exited with status 0");
}

static void case_close_stdio(void)
{
    /* Closing every fd the plugin can reach, then returning. */
    expect_bad(with_bad("", "for (int i = 0; i < 1024; i++) if (i > 2) close(i);", NULL), HB_ECRASHED, NULL);
}

static void case_stdout_flood(void)
{
    char out[4300];
    snprintf(out, sizeof(out), "%s/out.log", e2e_root);
    char *dir = e2e_write("counter", "counter.c",
                          with_bad("", "static char b[65536]; memset(b, 'x', sizeof b); for (int i = 0; i < 2048; i++) if (write(1, b, sizeof b) < 0) return -1;", NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.output_path = out;
    hb_sandbox *sb = e2e_loaded(m, &so, dir);
    int64_t v;
    int r = hb_callf(sb, "counter", "bad", ")l", &v);
    printf("flood -> %d %s\n", r, hb_sandbox_last_error(sb));
    struct stat st;
    HB_CHECK_EQ(stat(out, &st), 0);
    printf("output file: %lld bytes\n", (long long)st.st_size);
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    e2e_free(sb, m);
}

static void case_huge_state(void)
{
    char *dir = e2e_write("counter", "counter.c",
                          with_bad("static int bigsave(void **d, size_t *l) { size_t n = 64u << 20; char *p = malloc(n); if (!p) return -1; memset(p, 1, n); *d = p; *l = n; return 0; }",
                                   "", "HB_PLUGIN(\"counter\", 1, 0, 0, bigsave, migrate);"));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 5000);
    HB_CHECK_OK(hb_load(sb, dir));
    int64_t v;
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    int r = hb_checkpoint(sb, NULL);
    printf("checkpoint -> %d %s\n", r, hb_sandbox_last_error(sb));
    HB_CHECK_EQ(r, HB_ESTATESIZE);
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 2);
    e2e_free(sb, m);
}

/* A swap whose old version saves more state than the sandbox allows
 * fails cleanly: the old version keeps serving with its state. */
static void case_huge_state_swap(void)
{
    char *dir = e2e_write("counter", "counter.c",
                          with_bad("static int bigsave(void **d, size_t *l) { size_t n = 64u << 20; char *p = malloc(n); if (!p) return -1; memset(p, 1, n); memcpy(p, &count, 8); *d = p; *l = n; return 0; }",
                                   "", "HB_PLUGIN(\"counter\", 1, 0, 0, bigsave, migrate);"));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 5000);
    HB_CHECK_OK(hb_load(sb, dir));
    int64_t v;
    for (int i = 0; i < 3; i++)
        HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    e2e_write("counter", "counter.c", e2e_counter_src(2, 1, NULL));
    int r = hb_reload(sb, "counter");
    printf("reload -> %d: %s\n", r, hb_sandbox_last_error(sb));
    HB_CHECK_EQ(r, HB_ESTATESIZE);
    int32_t ver;
    HB_CHECK_OK(hb_callf(sb, "counter", "version", ")i", &ver));
    HB_CHECK_EQ(ver, 1);
    HB_CHECK_OK(hb_callf(sb, "counter", "get", ")l", &v));
    HB_CHECK_EQ(v, 3);
    e2e_free(sb, m);
}

/* Big arguments and results cross the channel or fail with a limit code;
 * the sandbox serves on either way. */
static void case_big_buffers(void)
{
    char *dir = e2e_write("counter", "counter.c",
                          with_bad("size_t sum(const void *p, size_t n) { const unsigned char *c = p; size_t s = 0; for (size_t i = 0; i < n; i++) s += c[i]; return s; }\n"
                                   "const char *big(void) { static char *s; if (!s) { s = malloc(96u << 20); memset(s, 'y', (96u << 20) - 1); s[(96u << 20) - 1] = 0; } return s; }",
                                   "", NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 10000);
    HB_CHECK_OK(hb_load(sb, dir));
    size_t n = 200u << 20;
    unsigned char *buf = calloc(n, 1);
    HB_CHECK(buf != NULL);
    buf[0] = 7;
    uint64_t s = 0;
    int r = hb_callf(sb, "counter", "sum", "b)J", buf, n, &s);
    printf("sum(200 MiB) -> %d (%s) %llu: %s\n", r, hb_strerror(r), (unsigned long long)s, hb_sandbox_last_error(sb));
    HB_CHECK(r == 0 ? s == 7 : r == HB_ELIMIT);
    free(buf);
    const char *str = NULL;
    r = hb_callf(sb, "counter", "big", ")Z", &str);
    printf("big() -> %d (%s) %zu: %s\n", r, hb_strerror(r), str ? strlen(str) : 0, hb_sandbox_last_error(sb));
    HB_CHECK(r == 0 ? strlen(str) == (96u << 20) - 1 : r == HB_ELIMIT);
    int64_t v;
    r = hb_callf(sb, "counter", "increment", ")l", &v);
    if (r == HB_ESTATELOST)
        r = hb_callf(sb, "counter", "increment", ")l", &v);
    HB_CHECK_OK(r);
    e2e_free(sb, m);
}

/* exit(0) in the first version's init: the load failed and says why; a
 * fixed version loads into the same sandbox. */
static void case_exit_in_init(void)
{
    char full[8192];
    snprintf(full, sizeof(full), "#include <unistd.h>\n%s",
             e2e_counter_src(1, 1, "static int in(void) { _exit(0); }\n"
                                   "HB_PLUGIN(\"counter\", 1, in, 0, save, migrate);"));
    char *dir = e2e_write("counter", "counter.c", full);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 5000);
    int r = hb_load(sb, dir);
    printf("load -> %d: %s\n", r, hb_sandbox_last_error(sb));
    HB_CHECK_EQ(r, HB_ECRASHED);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "exited with status 0");
    uint64_t act;
    HB_CHECK(hb_active_version(sb, "counter", &act) < 0);
    e2e_write("counter", "counter.c", e2e_counter_src(2, 1, NULL));
    HB_CHECK_OK(hb_load(sb, dir));
    int32_t ver;
    HB_CHECK_OK(hb_callf(sb, "counter", "version", ")i", &ver));
    HB_CHECK_EQ(ver, 2);
    e2e_free(sb, m);
}

/* Threads an old version started keep spinning after the call returned
 * and across a swap; the new version serves, the sandbox frees. */
static void case_spinning_threads(void)
{
    char *dir = e2e_write("counter", "counter.c",
                          with_bad("static void *spin(void *p) { (void)p; for (;;) { __asm__ volatile(\"\"); } return 0; }",
                                   "for (int i = 0; i < 4; i++) { pthread_t t; if (pthread_create(&t, 0, spin, 0)) return -1; pthread_detach(t); }", NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 5000);
    HB_CHECK_OK(hb_load(sb, dir));
    int64_t v;
    HB_CHECK_OK(hb_callf(sb, "counter", "bad", ")l", &v));
    HB_CHECK_EQ(v, 0);
    for (int i = 0; i < 5; i++)
        HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 5);
    e2e_write("counter", "counter.c", e2e_counter_src(2, 1, NULL));
    HB_CHECK_OK(hb_reload(sb, "counter"));
    int32_t ver;
    HB_CHECK_OK(hb_callf(sb, "counter", "version", ")i", &ver));
    HB_CHECK_EQ(ver, 2);
    HB_CHECK_OK(hb_callf(sb, "counter", "get", ")l", &v));
    HB_CHECK_EQ(v, 5);
    int pid = hb_sandbox_worker_pid(sb);
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    HB_CHECK(pfd >= 0);
    hb_sandbox_free(sb);
    struct pollfd pf = {.fd = pfd, .events = POLLIN};
    HB_CHECK_EQ(poll(&pf, 1, 0), 1); /* gone when free returned */
    close(pfd);
    hb_manager_free(m);
}

/* A worker stopped from outside (SIGSTOP) hangs the call: HB_EHUNG in
 * time, then the sandbox serves again. */
static void case_worker_stopped(void)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 1000);
    HB_CHECK_OK(hb_load(sb, dir));
    int64_t v;
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_OK(hb_checkpoint(sb, NULL));
    HB_CHECK_EQ(kill(hb_sandbox_worker_pid(sb), SIGSTOP), 0);
    int r = hb_callf(sb, "counter", "increment", ")l", &v);
    printf("call to a stopped worker -> %d: %s\n", r, hb_sandbox_last_error(sb));
    HB_CHECK_EQ(r, HB_EHUNG);
    r = hb_callf(sb, "counter", "get", ")l", &v);
    if (r == HB_ESTATELOST)
        r = hb_callf(sb, "counter", "get", ")l", &v);
    HB_CHECK_OK(r);
    HB_CHECK_EQ(v, 1);
    e2e_free(sb, m);
}

/* A worker that does not read its channel (stopped here; plugin code can
 * do the same) while a big request is sent: the call still ends within
 * its timeout, with HB_EHUNG. */
static void case_stopped_big_request(void)
{
    char *dir = e2e_write("counter", "counter.c",
                          with_bad("size_t sum(const void *p, size_t n) { (void)p; return n; }", "", NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 1000);
    HB_CHECK_OK(hb_load(sb, dir));
    HB_CHECK_EQ(kill(hb_sandbox_worker_pid(sb), SIGSTOP), 0);
    size_t n = 32u << 20;
    void *buf = calloc(n, 1);
    HB_CHECK(buf != NULL);
    uint64_t got = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int r = hb_callf(sb, "counter", "sum", "b)J", buf, n, &got);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("32 MiB to a stopped worker -> %d after %.0f ms: %s\n", r, ms, hb_sandbox_last_error(sb));
    HB_CHECK_EQ(r, HB_EHUNG);
    HB_CHECK(ms < 5000);
    free(buf);
    int64_t v;
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    e2e_free(sb, m);
}

/* A fini that never returns: hb_sandbox_free still ends the worker within
 * its swap timeout. */
static void case_fini_hangs(void)
{
    char *dir = e2e_write("counter", "counter.c",
                          with_bad("static void fin(void) { for (;;) pause(); }", "",
                                   "HB_PLUGIN(\"counter\", 1, 0, fin, save, migrate);"));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 1000);
    HB_CHECK_OK(hb_load(sb, dir));
    int pfd = (int)syscall(SYS_pidfd_open, hb_sandbox_worker_pid(sb), 0);
    HB_CHECK(pfd >= 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    hb_sandbox_free(sb);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("free with a hanging fini: %.0f ms\n", ms);
    HB_CHECK(ms < 5000);
    struct pollfd pf = {.fd = pfd, .events = POLLIN};
    HB_CHECK_EQ(poll(&pf, 1, 0), 1);
    close(pfd);
    hb_manager_free(m);
}

/* Freeing a manager stops its sandboxes' workers together: eight fini
 * hooks that never return cost one swap timeout, not eight. */
static void case_manager_free_parallel(void)
{
    char *dir = e2e_write("counter", "counter.c",
                          with_bad("static void fin(void) { for (;;) pause(); }", "",
                                   "HB_PLUGIN(\"counter\", 1, 0, fin, save, migrate);"));
    hb_manager *m = e2e_manager(&ev);
    enum { N = 8 };
    int pfd[N];
    for (int i = 0; i < N; i++) {
        hb_sandbox *sb = sandbox(m, 1000);
        HB_CHECK_OK(hb_load(sb, dir));
        pfd[i] = (int)syscall(SYS_pidfd_open, hb_sandbox_worker_pid(sb), 0);
        HB_CHECK(pfd[i] >= 0);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    hb_manager_free(m);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("manager free with %d hanging fini hooks (1 s timeout each): %.0f ms\n", N, ms);
    HB_CHECK(ms < 4000);
    for (int i = 0; i < N; i++) {
        struct pollfd pf = {.fd = pfd[i], .events = POLLIN};
        HB_CHECK_EQ(poll(&pf, 1, 0), 1);
        close(pfd[i]);
    }
}

/* exit(0) inside the new version's migrate: the swap failed; the old
 * version serves with its state. */
static void case_exit_in_migrate(void)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 5000);
    HB_CHECK_OK(hb_load(sb, dir));
    int64_t v;
    for (int i = 0; i < 4; i++)
        HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    char full[8192];
    snprintf(full, sizeof(full), "#include <unistd.h>\n%s",
             e2e_counter_src(2, 1, "static int mig(const void *d, size_t l, uint32_t s) { (void)d; (void)l; (void)s; _exit(0); }\n"
                                   "HB_PLUGIN(\"counter\", 1, 0, 0, save, mig);"));
    e2e_write("counter", "counter.c", full);
    int r = hb_reload(sb, "counter");
    printf("reload -> %d %s\n", r, hb_sandbox_last_error(sb));
    HB_CHECK(r < 0);
    uint64_t act;
    HB_CHECK_OK(hb_active_version(sb, "counter", &act));
    HB_CHECK_EQ(act, 1);
    int32_t ver;
    HB_CHECK_OK(hb_callf(sb, "counter", "version", ")i", &ver));
    HB_CHECK_EQ(ver, 1);
    HB_CHECK_OK(hb_callf(sb, "counter", "get", ")l", &v));
    HB_CHECK_EQ(v, 4);
    e2e_free(sb, m);
}

/* exit(0) inside the old version's save during a swap. */
static void case_exit_in_save(void)
{
    char full[8192];
    snprintf(full, sizeof(full), "#include <unistd.h>\n%s",
             e2e_counter_src(1, 1, "static int sv(void **d, size_t *l) { if (count == 4) _exit(0); return save(d, l); }\n"
                                   "HB_PLUGIN(\"counter\", 1, 0, 0, sv, migrate);"));
    char *dir = e2e_write("counter", "counter.c", full);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 5000);
    HB_CHECK_OK(hb_load(sb, dir));
    int64_t v;
    for (int i = 0; i < 2; i++)
        HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_OK(hb_checkpoint(sb, NULL));
    for (int i = 0; i < 2; i++)
        HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    e2e_write("counter", "counter.c", e2e_counter_src(2, 1, NULL));
    int r = hb_reload(sb, "counter");
    uint64_t act;
    HB_CHECK_OK(hb_active_version(sb, "counter", &act));
    printf("reload -> %d (%s) active %llu: %s\n", r, hb_strerror(r), (unsigned long long)act, hb_sandbox_last_error(sb));
    int32_t ver;
    r = hb_callf(sb, "counter", "version", ")i", &ver);
    printf("version -> %d ver %d\n", r, ver);
    if (r == HB_ESTATELOST)
        r = hb_callf(sb, "counter", "version", ")i", &ver);
    HB_CHECK_OK(r);
    HB_CHECK_EQ((uint64_t)ver, act);
    e2e_free(sb, m);
}

/* An event callback may use the manager (it is thread-safe): list versions,
 * read metrics and the audit log from inside every event. */
static hb_manager *cb_mgr;
static int cb_calls;
static void reentrant_cb(const hb_event *e, void *ud)
{
    (void)e;
    (void)ud;
    if (!cb_mgr)
        return;
    hb_version_info *vi = NULL;
    size_t n = 0;
    if (hb_versions(cb_mgr, "counter", &vi, &n) == 0)
        hb_free(vi);
    char *t = NULL;
    if (hb_manager_metrics(cb_mgr, 1, &t) == 0)
        hb_free(t);
    t = NULL;
    if (hb_audit_read(cb_mgr, NULL, 0, &t) == 0)
        hb_free(t);
    cb_calls++;
}

static void case_reentrant_events(void)
{
    char *dir = e2e_write("counter", "counter.c", with_bad("", "*(volatile int *)8 = 1;", NULL));
    hb_manager_options o = e2e_options(reentrant_cb, NULL);
    cb_mgr = e2e_manager_with(&o);
    hb_sandbox *sb = sandbox(cb_mgr, 5000);
    HB_CHECK_OK(hb_load(sb, dir));
    int64_t v;
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    e2e_write("counter", "counter.c", e2e_counter_src(2, 1, NULL));
    HB_CHECK_OK(hb_reload(sb, "counter"));
    HB_CHECK_OK(hb_rollback(sb, "counter", 1));
    HB_CHECK_EQ(hb_callf(sb, "counter", "bad", ")l", &v), HB_ECRASHED);
    HB_CHECK_OK(hb_checkpoint(sb, NULL));
    printf("%d events, each used the manager\n", cb_calls);
    HB_CHECK(cb_calls >= 5);
    hb_sandbox_free(sb);
    hb_manager *m = cb_mgr;
    cb_mgr = NULL;
    hb_manager_free(m);
}

/* Reloading to a build that is a known-bad version swaps nothing: that is
 * an error, never success. */
static void case_reload_known_bad(void)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 5000);
    HB_CHECK_OK(hb_load(sb, dir));
    char bad[8192];
    snprintf(bad, sizeof(bad), "#include <unistd.h>\n%s",
             e2e_counter_src(2, 1, "static int mig(const void *d, size_t l, uint32_t s) { (void)d; (void)l; (void)s; _exit(3); }\n"
                                   "HB_PLUGIN(\"counter\", 1, 0, 0, save, mig);"));
    e2e_write("counter", "counter.c", bad);
    HB_CHECK_EQ(hb_reload(sb, "counter"), HB_ECRASHED);
    /* Same bad source again: not retried, and not reported as done. */
    int r = hb_reload(sb, "counter");
    printf("reload of the bad build again -> %d: %s\n", r, hb_sandbox_last_error(sb));
    HB_CHECK_EQ(r, HB_EBADVERSION);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "marked bad");
    HB_CHECK_CONTAINS(hb_strerror(HB_EBADVERSION), "marked bad");
    int32_t ver;
    r = hb_callf(sb, "counter", "version", ")i", &ver);
    if (r == HB_ESTATELOST)
        r = hb_callf(sb, "counter", "version", ")i", &ver);
    HB_CHECK_OK(r);
    HB_CHECK_EQ(ver, 1);
    e2e_free(sb, m);
}

/* ---- worker killed from outside during swaps --------------------------- */

struct killer {
    int pidfd;
    unsigned delay_us;
};

static void *killer_body(void *p)
{
    struct killer *k = p;
    usleep(k->delay_us); /* the random point; not synchronisation */
    syscall(SYS_pidfd_send_signal, k->pidfd, SIGKILL, NULL, 0);
    return NULL;
}

static void case_worker_killed_mid_swap(void)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.crash_loop_max = 1000;
    hb_sandbox *sb = e2e_loaded(m, &so, dir);
    srand((unsigned)getpid());
    int serving = 1, failed = 0;
    for (int it = 0; it < 40; it++) {
        int next = it + 2; /* fresh content every time: nothing is a known-bad build */
        e2e_write("counter", "counter.c", e2e_counter_src(next, 1, NULL));
        struct killer k = {.pidfd = (int)syscall(SYS_pidfd_open, hb_sandbox_worker_pid(sb), 0),
                           .delay_us = (unsigned)(rand() % 1500)};
        HB_CHECK(k.pidfd >= 0);
        pthread_t t;
        HB_CHECK_EQ(pthread_create(&t, NULL, killer_body, &k), 0);
        int r = hb_reload(sb, "counter");
        HB_CHECK_EQ(pthread_join(t, NULL), 0);
        /* The killed worker is gone before we look. */
        struct pollfd pf = {.fd = k.pidfd, .events = POLLIN};
        HB_CHECK_EQ(poll(&pf, 1, 10000), 1);
        close(k.pidfd);
        int32_t ver = 0;
        int c = hb_callf(sb, "counter", "version", ")i", &ver);
        if (c == HB_ESTATELOST)
            c = hb_callf(sb, "counter", "version", ")i", &ver);
        if (c < 0)
            fprintf(stderr, "it %d: call %d %s\n", it, c, hb_sandbox_last_error(sb));
        HB_CHECK_OK(c);
        printf("it %d delay %u: reload %d serving %d\n", it, k.delay_us, r, ver);
        /* Success means the new code serves; failure, the old code. */
        HB_CHECK_EQ(ver, r == 0 ? next : serving);
        failed += r < 0;
        serving = ver;
    }
    printf("%d of 40 swaps failed\n", failed);
    e2e_free(sb, m);
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

/* Two sandboxes run v2; it crashes on probation in one. Another sandbox
 * moving on from v2 must not make it "good" again, and an automatic
 * rollback there must never pick it. */
static void case_bad_stays_bad(void)
{
    char *dir = e2e_write("counter", "counter.c", with_bad("", "", NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *a = sandbox(m, 5000), *b = sandbox(m, 5000);
    HB_CHECK_OK(hb_load(a, dir));
    HB_CHECK_OK(hb_load(b, dir));
    int64_t v;
    e2e_write("counter", "counter.c", with_bad("", "*(volatile int *)8 = 1;", NULL));
    HB_CHECK_OK(hb_reload(a, "counter"));
    HB_CHECK_OK(hb_reload(b, "counter"));
    HB_CHECK_EQ(hb_callf(a, "counter", "bad", ")l", &v), HB_ECRASHED); /* v2 crashed on probation */
    HB_CHECK_EQ(status_of(m, 2), HB_VERSION_BAD);
    e2e_write("counter", "counter.c", e2e_counter_src(3, 1, NULL));
    HB_CHECK_OK(hb_reload(b, "counter")); /* b leaves v2 for v3 */
    printf("v2 after b moved on: %s\n", hb_version_status_name(status_of(m, 2)));
    HB_CHECK_EQ(status_of(m, 2), HB_VERSION_BAD);
    HB_CHECK_OK(hb_rollback(b, "counter", 0));
    uint64_t act;
    HB_CHECK_OK(hb_active_version(b, "counter", &act));
    HB_CHECK_EQ(act, 1);
    hb_sandbox_free(a);
    e2e_free(b, m);
}

static bool dies_within(int pidfd, int ms)
{
    struct pollfd pf = {.fd = pidfd, .events = POLLIN};
    return poll(&pf, 1, ms) == 1;
}

/* The wrapper (bwrap) of the worker is killed, or the worker itself: in
 * both cases the other one goes too, the next call says state was lost,
 * and the sandbox serves its last checkpoint. */
static void kill_one(bool wrapper)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 5000);
    HB_CHECK_OK(hb_load(sb, dir));
    int64_t v;
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_OK(hb_checkpoint(sb, NULL));
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    int worker = hb_sandbox_worker_pid(sb);
    int wrap = e2e_parent_of(worker);
    if (wrap == getpid())
        HB_SKIP("the worker is not wrapped here");
    int wfd = (int)syscall(SYS_pidfd_open, worker, 0);
    int bfd = (int)syscall(SYS_pidfd_open, wrap, 0);
    HB_CHECK(wfd >= 0 && bfd >= 0);
    HB_CHECK_EQ(kill(wrapper ? wrap : worker, SIGKILL), 0);
    HB_CHECK(dies_within(bfd, 10000));
    /* A root manager's jailed worker gets no parent-death signal from its
     * root bwrap (the uid differs): the manager ends it when it next looks
     * at the sandbox, here the call. */
    int r = hb_callf(sb, "counter", "increment", ")l", &v);
    printf("call after the kill -> %d: %s\n", r, hb_sandbox_last_error(sb));
    HB_CHECK(dies_within(wfd, 10000));
    HB_CHECK_EQ(r, HB_ESTATELOST);
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 2);
    hb_sandbox_usage u;
    HB_CHECK_OK(hb_sandbox_usage_get(sb, &u));
    HB_CHECK_EQ(u.restarts, 1);
    close(wfd);
    close(bfd);
    e2e_free(sb, m);
}

static void case_kill_wrapper(void) { kill_one(true); }
static void case_kill_worker(void) { kill_one(false); }

/* ---- the manager SIGKILLed at random points --------------------------- */

static hb_sandbox *survivor(hb_manager *m)
{
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.name = "survivor";
    so.crash_loop_max = 1000;
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(m, &so, &sb));
    return sb;
}

/* The child: loads, calls, checkpoints (reporting each checkpointed value
 * on fd), reloads new builds and rolls back, until it is killed. */
_Noreturn static void manager_loop(int fd, int seed)
{
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = survivor(m);
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1000 + seed, 1, NULL));
    if (hb_load(sb, dir) < 0)
        _exit(10);
    for (int round = 0;; round++) {
        int64_t v;
        for (int i = 0; i < 3; i++)
            if (hb_callf(sb, "counter", "increment", ")l", &v) < 0)
                _exit(11);
        if (hb_checkpoint(sb, NULL) < 0 || hb_callf(sb, "counter", "get", ")l", &v) < 0)
            _exit(12);
        if (write(fd, &v, sizeof(v)) != sizeof(v))
            _exit(13);
        if (round % 3 == 2) {
            int r = hb_rollback(sb, "counter", 0);
            if (r < 0 && r != HB_ENOVERSION)
                _exit(14);
        } else {
            e2e_write("counter", "counter.c", e2e_counter_src(seed * 100 + round, 1, NULL));
            if (hb_reload(sb, "counter") < 0)
                _exit(15);
        }
    }
}

static void on_alarm(int sig)
{
    (void)sig; /* only interrupts waitpid */
}

/* Waits for every orphan handed to us (the subreaper) to end: orphans die
 * asynchronously (PR_SET_PDEATHSIG, bwrap's own die-with-parent), so a
 * blocking waitpid reaps each as it exits; SIGALRM (no SA_RESTART) at the
 * deadline interrupts it: -1. */
static int reap_orphans(unsigned deadline_s)
{
    struct sigaction sa = {.sa_handler = on_alarm}, old;
    sigemptyset(&sa.sa_mask);
    HB_CHECK_EQ(sigaction(SIGALRM, &sa, &old), 0);
    alarm(deadline_s);
    int rc;
    for (;;) {
        int st;
        pid_t p = waitpid(-1, &st, 0);
        if (p > 0)
            continue;
        rc = errno == ECHILD ? 0 : -1; /* EINTR: the deadline passed */
        break;
    }
    alarm(0);
    HB_CHECK_EQ(sigaction(SIGALRM, &old, NULL), 0);
    return rc;
}

static void case_manager_killed_random(void)
{
    private_tmpdir();
    HB_CHECK_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    srand((unsigned)getpid());
    int64_t last = 0;
    for (int it = 0; it < 12; it++) {
        int p[2];
        HB_CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
        pid_t mgr = fork();
        HB_CHECK(mgr >= 0);
        if (mgr == 0) {
            close(p[0]);
            manager_loop(p[1], it + 1);
        }
        close(p[1]);
        /* Kill after a random number of checkpoints plus a random delay:
         * inside a call, a save, a compile, a swap or a rollback. */
        int want = 1 + rand() % 4;
        int64_t v;
        for (int got = 0; got < want; got++) {
            ssize_t n = read(p[0], &v, sizeof(v));
            if (n != sizeof(v)) {
                int st;
                waitpid(mgr, &st, 0);
                fprintf(stderr, "it %d: manager ended early: status %d\n", it, st);
                HB_CHECK(0);
            }
            HB_CHECK(v >= last); /* state only grows: nothing was lost */
            last = v;
        }
        struct timespec ts = {0, (long)(rand() % 150) * 1000000L};
        nanosleep(&ts, NULL); /* the random point, not synchronisation */
        HB_CHECK_EQ(kill(mgr, SIGKILL), 0);
        while (read(p[0], &v, sizeof(v)) == sizeof(v))
            last = v; /* checkpoints it reported before it died */
        close(p[0]);
        int st;
        HB_CHECK_EQ(waitpid(mgr, &st, 0), mgr);
        /* No worker, no bwrap outlives its manager. */
        HB_CHECK_OK(reap_orphans(10));
        /* The state directory opens, verifies, and resumes the survivor
         * from (at least) its last durable checkpoint. */
        int views = count_views();
        hb_manager *m = e2e_manager(&ev);
        HB_CHECK(views > 0); /* the killed manager's sandbox left its view */
        HB_CHECK_EQ(count_views(), 0); /* and the next manager removed it */
        char *report = NULL;
        int r = hb_verify(m, &report);
        if (r < 0)
            fprintf(stderr, "it %d: verify: %s\n", it, report ? report : "");
        HB_CHECK_OK(r);
        hb_free(report);
        hb_sandbox *sb = survivor(m);
        char dir[4300];
        snprintf(dir, sizeof(dir), "%s/counter", e2e_root);
        r = hb_load(sb, dir);
        if (r < 0)
            fprintf(stderr, "it %d: load: %s\n", it, hb_sandbox_last_error(sb));
        HB_CHECK_OK(r);
        HB_CHECK_OK(hb_callf(sb, "counter", "get", ")l", &v));
        printf("it %d: killed after %d checkpoints; last durable %lld, resumed %lld\n", it, want,
               (long long)last, (long long)v);
        HB_CHECK(v >= last);
        last = v;
        e2e_free(sb, m);
    }
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"threads32", case_threads32},
        {"threads32_auto", case_threads32_auto},
        {"many50", case_many50},
        {"reentrant_events", case_reentrant_events},
        {"manager_fd_limit", case_manager_fd_limit},
        {"threads_reload", case_threads_reload},
        {"own_segv_handler_exit0", case_own_segv_handler_exit0},
        {"own_segv_handler_returns", case_own_segv_handler_returns},
        {"segv_ignored", case_segv_ignored},
        {"abort_blocked", case_abort_blocked},
        {"exit_from_thread", case_exit_from_thread},
        {"raise_segv", case_raise_segv},
        {"raise_sys", case_raise_sys},
        {"raise_rt", case_raise_rt},
        {"close_stdio", case_close_stdio},
        {"stdout_flood", case_stdout_flood},
        {"huge_state", case_huge_state},
        {"exit_in_migrate", case_exit_in_migrate},
        {"exit_in_save", case_exit_in_save},
        {"worker_killed_mid_swap", case_worker_killed_mid_swap},
        {"reload_known_bad", case_reload_known_bad},
        {"worker_stopped", case_worker_stopped},
        {"fini_hangs", case_fini_hangs},
        {"stopped_big_request", case_stopped_big_request},
        {"manager_free_parallel", case_manager_free_parallel},
        {"exit_in_init", case_exit_in_init},
        {"spinning_threads", case_spinning_threads},
        {"huge_state_swap", case_huge_state_swap},
        {"big_buffers", case_big_buffers},
        {"bad_stays_bad", case_bad_stays_bad},
        {"kill_wrapper", case_kill_wrapper},
        {"kill_worker", case_kill_worker},
        {"manager_killed_random", case_manager_killed_random},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
