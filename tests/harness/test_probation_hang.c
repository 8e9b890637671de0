/*
 * tests/harness/test_probation_hang.c - a new version that hangs in a call
 * begun while it is on probation is rolled back, even though the hang is
 * noticed only when call_timeout_ms runs out, after probation_ms has
 * passed; the rolled-back event says it hung (HB_EHUNG), not crashed. One
 * whose hanging call began after it passed probation is not rolled back.
 * A worker a new version's thread kills while no call runs is seen through
 * hb_sandbox_worker_fd and handled by hb_sandbox_check when it dies.
 */
#include <poll.h>
#include <time.h>

#include "harness/e2e.h"

static e2e_events ev;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
static int rolled_code; /* the code of the last rolled-back event */

static void on_event(const hb_event *e, void *ud)
{
    if (e->type == HB_EVENT_ROLLED_BACK)
        rolled_code = e->code;
    e2e_on_event(e, ud);
}

/* v1 counts; v2 counts by 100, and its hang() never returns. */
static const char *v2_extra = "int64_t hang(void) { for (;;) { __asm__ volatile(\"\"); } return count; }\n"
                              "HB_PLUGIN(\"counter\", 1, 0, 0, save, migrate);";

static hb_sandbox *start(hb_manager **m, unsigned probation_calls)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager_options o = e2e_options(on_event, &ev);
    *m = e2e_manager_with(&o);
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    /* The hang is noticed after 2.5 s; probation ends after 1 s. */
    so.call_timeout_ms = 2500;
    so.probation_ms = 1000;
    so.probation_calls = probation_calls;
    hb_sandbox *sb = e2e_loaded(*m, &so, dir);
    int64_t v;
    for (int i = 0; i < 3; i++)
        HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 3);
    e2e_write("counter", "counter.c", e2e_counter_src(2, 100, v2_extra));
    HB_CHECK_OK(hb_reload(sb, "counter"));
    uint64_t active = 0;
    HB_CHECK_OK(hb_active_version(sb, "counter", &active));
    HB_CHECK_EQ(active, 2);
    return sb;
}

/* The first call of v2 hangs: rolled back to v1 with the state saved at
 * the swap (3), v2 marked bad, and the event says it hung. */
static void case_first_call(void)
{
    hb_manager *m;
    hb_sandbox *sb = start(&m, 20);
    uint64_t t0 = now_ms();
    int64_t v;
    HB_CHECK_EQ(hb_callf(sb, "counter", "hang", ")l", &v), HB_EHUNG);
    /* The hang outlasted probation_ms: what is tested here. */
    HB_CHECK(now_ms() - t0 >= 1000);
    HB_CHECK_EQ(ev.count[HB_EVENT_ROLLED_BACK], 1);
    HB_CHECK_EQ(rolled_code, HB_EHUNG);
    HB_CHECK_CONTAINS(ev.last[HB_EVENT_ROLLED_BACK], "hung during probation");
    uint64_t active = 0;
    HB_CHECK_OK(hb_active_version(sb, "counter", &active));
    HB_CHECK_EQ(active, 1);
    HB_CHECK_OK(hb_callf(sb, "counter", "get", ")l", &v));
    HB_CHECK_EQ(v, 3);
    hb_version_info *vi;
    size_t n;
    HB_CHECK_OK(hb_versions(m, "counter", &vi, &n));
    HB_CHECK_EQ(n, 2);
    HB_CHECK_EQ(vi[1].status, HB_VERSION_BAD);
    hb_free(vi);
    e2e_free(sb, m);
}

/* v2 passes probation by calls first (3 calls); a hang after that is an
 * ordinary one: the worker restarts with v2, nothing is rolled back. */
static void case_after_probation(void)
{
    hb_manager *m;
    hb_sandbox *sb = start(&m, 3);
    int64_t v;
    for (int i = 0; i < 3; i++)
        HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 303);
    HB_CHECK(e2e_event_with(&ev, "passed probation") != NULL);
    HB_CHECK_EQ(hb_callf(sb, "counter", "hang", ")l", &v), HB_EHUNG);
    HB_CHECK_EQ(ev.count[HB_EVENT_ROLLED_BACK], 0);
    uint64_t active = 0;
    HB_CHECK_OK(hb_active_version(sb, "counter", &active));
    HB_CHECK_EQ(active, 2);
    e2e_free(sb, m);
}

/* v2's init starts a thread that crashes the worker 10 ms later, with no
 * call running: the worker fd says so, hb_sandbox_check rolls v2 back
 * (it was on probation when it died) and restarts v1 with the state saved
 * at the swap. */
static void case_idle_crash(void)
{
    hb_manager *m;
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager_options o = e2e_options(on_event, &ev);
    m = e2e_manager_with(&o);
    hb_sandbox *sb = e2e_loaded(m, NULL, dir);
    HB_CHECK_EQ(hb_sandbox_check(NULL), -EINVAL);
    HB_CHECK_EQ(hb_sandbox_worker_fd(NULL), -1);
    int64_t v;
    for (int i = 0; i < 3; i++)
        HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_OK(hb_sandbox_check(sb)); /* alive: nothing happens */
    HB_CHECK_EQ(ev.count[HB_EVENT_CRASHED], 0);
    e2e_write("counter", "counter.c",
              e2e_counter_src(2, 100,
                              "#include <pthread.h>\n#include <unistd.h>\n"
                              "static void *boom(void *a) { (void)a; usleep(10000); volatile int *p = 0; *p = 1; return 0; }\n"
                              "static int init(void) { pthread_t t; return pthread_create(&t, 0, boom, 0); }\n"
                              "HB_PLUGIN(\"counter\", 1, init, 0, save, migrate);"));
    HB_CHECK_OK(hb_reload(sb, "counter"));
    int pid = hb_sandbox_worker_pid(sb);
    struct pollfd p = {.fd = hb_sandbox_worker_fd(sb), .events = POLLIN};
    HB_CHECK(p.fd >= 0);
    HB_CHECK_EQ(poll(&p, 1, 20000), 1); /* the deadline is the failure path */
    HB_CHECK_OK(hb_sandbox_check(sb));
    HB_CHECK_EQ(ev.count[HB_EVENT_CRASHED], 1);
    HB_CHECK_EQ(ev.count[HB_EVENT_ROLLED_BACK], 1);
    HB_CHECK_EQ(rolled_code, HB_ECRASHED);
    HB_CHECK(hb_sandbox_worker_pid(sb) != pid);
    uint64_t active = 0;
    HB_CHECK_OK(hb_active_version(sb, "counter", &active));
    HB_CHECK_EQ(active, 1);
    HB_CHECK_OK(hb_callf(sb, "counter", "get", ")l", &v));
    HB_CHECK_EQ(v, 3);
    e2e_free(sb, m);
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"first_call", case_first_call},
        {"after_probation", case_after_probation},
        {"idle_crash", case_idle_crash},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
