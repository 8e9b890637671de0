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
    hb_sandbox_free(sb);
    hb_manager_free(m);
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
    hb_sandbox_free(sb);
    hb_manager_free(m);
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
    hb_sandbox_free(sb);
    hb_manager_free(m);
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"probation_time", case_probation_time},
        {"fini_crash_probation", case_fini_crash_probation},
        {"fini_crash_after_pass", case_fini_crash_after_pass},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
