/* tests/harness/test_call_fast.c - the guarantees the fast call path
 * (harness/ring_client.c) keeps once a call makes no system call before it
 * is posted:
 *  - wrapper_dead_unwatched: a call made after bwrap's death is visible
 *    (its pidfd readable) is not answered, even while nothing else has
 *    acted on that death yet: the watch helper, which would kill the
 *    worker, is stopped, and the jailed worker (no parent-death signal
 *    reaches it under a root manager) still runs and spins on its ring.
 *    The call says the state was lost, the worker ends, and the sandbox
 *    serves its checkpoint. robust_kill_wrapper checks the same with the
 *    helper running, where the helper's kill usually wins the race;
 *  - crash_mid_call_once: a wrapped worker dying during the call (bwrap
 *    exits with it) is that call's crash, not a killed bwrap's (the call
 *    is not run again on a fresh worker);
 *  - channel_standard, channel_permissive: a call whose plugin code
 *    closed or replaced the worker's channel fails as a crash even though
 *    its reply could go through the ring (under a seccomp filter the close
 *    is a denied call; without one the worker checks the channel per
 *    reply); only setting close-on-exec on it is harmless and served. */
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <sys/syscall.h>

#include "e2e.h"

static e2e_events ev;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct resume {
    int bwrap_pidfd, helper;
};

/* Resumes the stopped watch helper once the manager has reaped bwrap
 * (its pidfd hangs up: a call judged bwrap dead and ends the worker, for
 * which it asks the helper), or after 30 s (no call noticed). */
static void *resume_helper(void *arg)
{
    struct resume *r = arg;
    struct pollfd p = {.fd = r->bwrap_pidfd, .events = 0}; /* POLLHUP only */
    (void)poll(&p, 1, 30000);
    kill(r->helper, SIGCONT);
    return NULL;
}

static bool dies_within(int pidfd, int ms)
{
    struct pollfd pf = {.fd = pidfd, .events = POLLIN};
    return poll(&pf, 1, ms) == 1;
}

/* One round: a fresh sandbox whose bwrap is killed while calls run.
 * Returns whether the probe (the first call made after the death was
 * visible) was reached, as opposed to a call noticing the death first. */
static bool one_round(hb_manager *m, const char *dir)
{
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.profile = HB_PROFILE_STANDARD;
    hb_sandbox *sb = e2e_loaded(m, &so, dir);
    int64_t v;
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_OK(hb_checkpoint(sb, NULL));
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 2);
    int worker = hb_sandbox_worker_pid(sb);
    int wrap = e2e_parent_of(worker);
    if (wrap == getpid())
        HB_SKIP("the worker is not wrapped here");
    int helper = e2e_watch_helper_pid();
    if (helper < 0)
        HB_SKIP("no watch helper here");
    int wfd = (int)syscall(SYS_pidfd_open, worker, 0);
    int bfd = (int)syscall(SYS_pidfd_open, wrap, 0);
    HB_CHECK(wfd >= 0 && bfd >= 0);
    /* The worker alone on CPU 1, spinning on its ring between calls made
     * back to back from CPU 0, where bwrap's exit runs too (a worker kept
     * from its ring sends the call to wait on the socket, where bwrap's
     * pidfd is polled anyway, and the round tests nothing). */
    cpu_set_t saved, one;
    HB_CHECK_EQ(sched_getaffinity(0, sizeof(saved), &saved), 0);
    CPU_ZERO(&one);
    CPU_SET(1, &one);
    HB_CHECK_EQ(sched_setaffinity(worker, sizeof(one), &one), 0);
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    HB_CHECK_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
    HB_CHECK_EQ(sched_setaffinity(wrap, sizeof(one), &one), 0);
    struct resume res = {bfd, helper};
    pthread_t t;
    HB_CHECK_EQ(pthread_create(&t, NULL, resume_helper, &res), 0);
    for (int i = 0; i < 100; i++)
        HB_CHECK_OK(hb_callf(sb, "counter", "slow", ")l", &v));
    HB_CHECK_EQ(kill(helper, SIGSTOP), 0);
    HB_CHECK_EQ(kill(wrap, SIGKILL), 0);
    int r = 0, calls = 0;
    bool after = false;
    uint64_t until = now_ms() + 20000;
    while (now_ms() < until) {
        after = dies_within(bfd, 0);
        r = hb_callf(sb, "counter", after ? "get" : "slow", ")l", &v);
        calls++;
        if (after || r < 0)
            break;
    }
    kill(helper, SIGCONT);
    pthread_join(t, NULL);
    HB_CHECK_EQ(sched_setaffinity(0, sizeof(saved), &saved), 0);
    printf("call %d, %s bwrap's death was visible -> %d: %s\n", calls,
           after ? "after" : "before", r, r < 0 ? hb_sandbox_last_error(sb) : "served");
    HB_CHECK(after || r < 0); /* the loop ended on the death */
    if (after)
        HB_CHECK_EQ(r, HB_ESTATELOST);
    else /* noticed during a call made before: a death mid-call */
        HB_CHECK(r == HB_ECRASHED || r == HB_ESTATELOST);
    HB_CHECK(dies_within(wfd, 10000));
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 2); /* the checkpoint's 1, plus this call */
    close(wfd);
    close(bfd);
    hb_sandbox_free(sb);
    return after;
}

static void case_wrapper_dead_unwatched(void)
{
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
        HB_SKIP("needs 2 CPUs (the worker spins on its ring on the other one)");
    /* slow: 50 us in the worker, so the caller spins up to the longest
     * budget (proto/ring.h) and catches a worker woken from its futex:
     * the probe then reaches a live worker (the race this case is about)
     * in about a third of the rounds here. */
    char *dir = e2e_write(
        "counter", "counter.c",
        e2e_counter_src(1, 1,
                        "#include <time.h>\n"
                        "int64_t slow(void) { struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a);"
                        " do clock_gettime(CLOCK_MONOTONIC, &b); while ((b.tv_sec - a.tv_sec) * 1000000000L"
                        " + (b.tv_nsec - a.tv_nsec) < 50000); return count; }\n"
                        "HB_PLUGIN(\"counter\", 1, 0, 0, save, migrate);"));
    hb_manager *m = e2e_manager_pool(&ev, 0);
    int probes = 0;
    for (int round = 0; round < 8; round++)
        probes += one_round(m, dir);
    printf("%d of 8 rounds reached the probe\n", probes);
    hb_manager_free(m);
}

/* A wrapped worker that dies during the call (bwrap then exits too, with
 * the worker's status) is that call's crash, reported once: not taken for
 * a bwrap killed from outside, which would run the call again on a fresh
 * worker (a second crash). Caller, worker and bwrap share one CPU, so the
 * woken worker runs, dies and bwrap exits before the caller asks bwrap's
 * pidfd after posting. */
static void case_crash_mid_call_once(void)
{
    char *dir = e2e_write("counter", "counter.c",
                          e2e_counter_src(1, 1,
                                          "#include <unistd.h>\n"
                                          "int64_t boom(void) { _exit(3); }\n"
                                          "HB_PLUGIN(\"counter\", 1, 0, 0, save, migrate);"));
    hb_manager *m = e2e_manager_pool(&ev, 0);
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.profile = HB_PROFILE_STANDARD;
    hb_sandbox *sb = e2e_loaded(m, &so, dir);
    int64_t v;
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    int worker = hb_sandbox_worker_pid(sb);
    int wrap = e2e_parent_of(worker);
    if (wrap == getpid())
        HB_SKIP("the worker is not wrapped here");
    cpu_set_t saved, one;
    HB_CHECK_EQ(sched_getaffinity(0, sizeof(saved), &saved), 0);
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    HB_CHECK_EQ(sched_setaffinity(worker, sizeof(one), &one), 0);
    HB_CHECK_EQ(sched_setaffinity(wrap, sizeof(one), &one), 0);
    HB_CHECK_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
    int r = hb_callf(sb, "counter", "boom", ")l", &v);
    HB_CHECK_EQ(sched_setaffinity(0, sizeof(saved), &saved), 0);
    printf("boom -> %d: %s\n", r, hb_sandbox_last_error(sb));
    HB_CHECK_EQ(r, HB_ECRASHED);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "exited with status 3");
    hb_sandbox_usage u;
    HB_CHECK_OK(hb_sandbox_usage_get(sb, &u));
    printf("crashes %llu, restarts %llu\n", (unsigned long long)u.crashes,
           (unsigned long long)u.restarts);
    HB_CHECK_EQ(u.crashes, 1);
    e2e_free(sb, m);
}

/* ---- the channel: a ring reply must not hide that plugin code closed or
 * replaced the worker's channel (fd 3 in the worker) ---------------------- */

static const char chan_src[] =
    "#define _GNU_SOURCE\n"
    "#include <hotbox/plugin.h>\n#include <fcntl.h>\n#include <stdint.h>\n"
    "#include <sys/syscall.h>\n#include <unistd.h>\n"
    "#define CLOEXEC_ONLY 4 /* CLOSE_RANGE_CLOEXEC */\n"
    "int64_t ping(void) { return 7; }\n"
    "int64_t chan_close(void) { return close(3); }\n"
    "int64_t chan_dup2(void) { int fd = open(\"/dev/null\", O_RDONLY); return dup2(fd, 3); }\n"
    "int64_t chan_dup3(void) { int fd = open(\"/dev/null\", O_RDONLY); return dup3(fd, 3, 0); }\n"
    "int64_t chan_close_range(void) { return syscall(SYS_close_range, 3u, ~0u, 0u); }\n"
    "int64_t chan_raw_close(void) { return syscall(SYS_close, 0xffffffff00000003ull); }\n"
    "int64_t chan_raw_range(void) { return syscall(SYS_close_range, 0xffffffff00000003ull, ~0u, 0u); }\n"
    "int64_t chan_raw_dup2(void) { int fd = open(\"/dev/null\", O_RDONLY);"
    " return syscall(SYS_dup2, fd, 0xffffffff00000003ull); }\n"
    "int64_t chan_cloexec(void) { return syscall(SYS_close_range, 3u, ~0u, CLOEXEC_ONLY); }\n"
    "HB_PLUGIN(\"chan\", 1, 0, 0, 0, 0);\n";

/* Each way of losing the channel fails the call that did it, as a crash
 * (under a filter: the denied call named), and the next call is served by a
 * fresh worker; setting close-on-exec on it (harmless) is served. */
static void channel_cases(hb_profile profile)
{
    char *dir = e2e_write("chan", "chan.c", chan_src);
    hb_manager *m = e2e_manager_pool(&ev, 0);
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.profile = profile;
    static const char *const lose[] = {"chan_close", "chan_dup2", "chan_dup3",
                                       "chan_close_range", "chan_raw_close", "chan_raw_range",
                                       "chan_raw_dup2"};
    int64_t v = 0;
    for (size_t i = 0; i < sizeof(lose) / sizeof(lose[0]); i++) {
        hb_sandbox *sb = e2e_loaded(m, &so, dir); /* one crash each: no crash loop */
        for (int k = 0; k < 20; k++) /* a ring call, the worker spinning */
            HB_CHECK_OK(hb_callf(sb, "chan", "ping", ")l", &v));
        int r = hb_callf(sb, "chan", lose[i], ")l", &v);
        printf("%s -> %d: %s\n", lose[i], r, r < 0 ? hb_sandbox_last_error(sb) : "served");
        HB_CHECK_EQ(r, HB_ECRASHED);
        HB_CHECK_OK(hb_callf(sb, "chan", "ping", ")l", &v));
        HB_CHECK_EQ(v, 7);
        hb_sandbox_free(sb);
    }
    hb_sandbox *sb = e2e_loaded(m, &so, dir);
    HB_CHECK_OK(hb_callf(sb, "chan", "chan_cloexec", ")l", &v));
    HB_CHECK_EQ(v, 0);
    HB_CHECK_OK(hb_callf(sb, "chan", "ping", ")l", &v));
    e2e_free(sb, m);
}

static void case_channel_standard(void) { channel_cases(HB_PROFILE_STANDARD); }
static void case_channel_permissive(void) { channel_cases(HB_PROFILE_PERMISSIVE); }

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"wrapper_dead_unwatched", case_wrapper_dead_unwatched},
        {"crash_mid_call_once", case_crash_mid_call_once},
        {"channel_standard", case_channel_standard},
        {"channel_permissive", case_channel_permissive},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
