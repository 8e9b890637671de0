/* tests/harness/test_recovery_control.c - control over recovery: with
 * no_auto_restart a crash leaves the sandbox down (nothing restarted,
 * nothing rolled back) until hb_sandbox_restart; no_probation; status and
 * the list of a manager's sandboxes. */
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/syscall.h>

#include "harness/e2e.h"

static e2e_events ev;

#define CRASHER "void crash(void) { raise(SIGSEGV); }\n"

static char *counter(int version)
{
    char extra[1024];
    snprintf(extra, sizeof(extra),
             "#include <signal.h>\n" CRASHER "HB_PLUGIN(\"counter\", 1, 0, 0, save, migrate);");
    return e2e_write("counter", "counter.c", e2e_counter_src(version, 1, extra));
}

static hb_sandbox *sandbox(hb_manager *m, int no_restart, int no_probation)
{
    hb_sandbox_options o;
    HB_CHECK_OK(hb_sandbox_options_init(&o, HB_SANDBOX_OPTIONS_VERSION));
    o.no_auto_restart = no_restart;
    o.no_probation = no_probation;
    o.probation_calls = 1000;
    o.probation_ms = 600000;
    hb_sandbox *sb = NULL;
    HB_CHECK_OK(hb_sandbox_new(m, &o, &sb));
    return sb;
}

static hb_sandbox_status status(hb_sandbox *sb)
{
    hb_sandbox_status st;
    HB_CHECK_OK(hb_sandbox_status_get(sb, &st));
    return st;
}

/* The pid is gone: its pidfd reads ready within a deadline. */
static void check_exits(int pfd)
{
    struct pollfd p = {.fd = pfd, .events = POLLIN};
    HB_CHECK_EQ(poll(&p, 1, 10000), 1);
    close(pfd);
}

static void check_down_then_restart(hb_sandbox *sb, uint64_t version)
{
    hb_sandbox_status st = status(sb);
    HB_CHECK_EQ(st.state, HB_SANDBOX_DOWN);
    HB_CHECK_EQ(st.worker_pid, 0);
    HB_CHECK_EQ(st.crashes, 1);
    HB_CHECK_EQ(st.restarts, 0);
    HB_CHECK_EQ(ev.count[HB_EVENT_RESTARTED], 0);
    HB_CHECK_EQ(ev.count[HB_EVENT_ROLLED_BACK], 0);
    int64_t v = 0;
    HB_CHECK_EQ(hb_callf(sb, "counter", "get", ")l", &v), HB_EDOWN);
    printf("down: %s\n", hb_sandbox_last_error(sb));
    HB_CHECK(strstr(hb_sandbox_last_error(sb), "hb_sandbox_restart") != NULL);
    HB_CHECK_EQ(status(sb).state, HB_SANDBOX_DOWN); /* an operation did not restart it */
    HB_CHECK_EQ(ev.count[HB_EVENT_RESTARTED], 0);

    HB_CHECK_OK(hb_sandbox_restart(sb));
    st = status(sb);
    HB_CHECK_EQ(st.state, HB_SANDBOX_RUNNING);
    HB_CHECK(st.worker_pid > 0);
    HB_CHECK_EQ(st.restarts, 1);
    HB_CHECK_EQ(ev.count[HB_EVENT_RESTARTED], 1);
    HB_CHECK_EQ(st.nplugins, 1);
    HB_CHECK_EQ(st.plugins[0].version, version);
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 1);
}

/* A crash in a call with automatic restart off: the call reports the
 * crash, the worker stays dead, later operations say HB_EDOWN. */
static void case_crash_stays_down(void)
{
    char *dir = counter(1);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 1, 0);
    HB_CHECK_OK(hb_load(sb, dir));
    hb_sandbox_status st = status(sb);
    HB_CHECK_EQ(st.state, HB_SANDBOX_RUNNING);
    HB_CHECK_EQ(st.worker_pid, hb_sandbox_worker_pid(sb));
    int pfd = (int)syscall(SYS_pidfd_open, st.worker_pid, 0);
    HB_CHECK(pfd >= 0);
    HB_CHECK_EQ(hb_callf(sb, "counter", "crash", ")v"), HB_ECRASHED);
    check_exits(pfd);
    HB_CHECK_EQ(ev.count[HB_EVENT_CRASHED], 1);
    check_down_then_restart(sb, 1);
    hb_sandbox_free(sb);
    hb_manager_free(m);
}

/* A version on probation crashes: with restart off it is not rolled back. */
static void case_probation_crash_no_rollback(void)
{
    char *dir = counter(1);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 1, 0);
    HB_CHECK_OK(hb_load(sb, dir));
    counter(2);
    HB_CHECK_OK(hb_reload(sb, "counter"));
    hb_sandbox_status st = status(sb);
    HB_CHECK_EQ(st.plugins[0].version, 2);
    HB_CHECK_EQ(st.plugins[0].on_probation, 1);
    HB_CHECK_EQ(hb_callf(sb, "counter", "crash", ")v"), HB_ECRASHED);
    check_down_then_restart(sb, 2);
    uint64_t act = 0;
    HB_CHECK_OK(hb_active_version(sb, "counter", &act));
    HB_CHECK_EQ(act, 2);
    hb_sandbox_free(sb);
    hb_manager_free(m);
}

/* Killed from outside while idle: noticed, not replaced. */
static void case_killed_idle_stays_down(void)
{
    char *dir = counter(1);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 1, 0);
    HB_CHECK_OK(hb_load(sb, dir));
    int pid = hb_sandbox_worker_pid(sb);
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    HB_CHECK(pfd >= 0);
    HB_CHECK_EQ(kill(pid, SIGKILL), 0);
    check_exits(pfd);
    int64_t v = 0;
    HB_CHECK_EQ(hb_callf(sb, "counter", "get", ")l", &v), HB_EDOWN);
    HB_CHECK_EQ(ev.count[HB_EVENT_CRASHED], 1);
    check_down_then_restart(sb, 1);
    hb_sandbox_free(sb);
    hb_manager_free(m);
}

/* The default still restarts (the switch is what stops it). */
static void case_default_restarts(void)
{
    char *dir = counter(1);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 0, 0);
    HB_CHECK_OK(hb_load(sb, dir));
    HB_CHECK_EQ(hb_callf(sb, "counter", "crash", ")v"), HB_ECRASHED);
    hb_sandbox_status st = status(sb);
    HB_CHECK_EQ(st.state, HB_SANDBOX_RUNNING);
    HB_CHECK_EQ(st.restarts, 1);
    HB_CHECK(st.worker_pid > 0);
    HB_CHECK_EQ(ev.count[HB_EVENT_RESTARTED], 1);
    hb_sandbox_free(sb);
    hb_manager_free(m);
}

/* no_probation: a swapped-in version is not on probation, and a crash
 * right after the swap does not roll it back. */
static void case_no_probation(void)
{
    char *dir = counter(1);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 0, 1);
    HB_CHECK_OK(hb_load(sb, dir));
    counter(2);
    HB_CHECK_OK(hb_reload(sb, "counter"));
    hb_sandbox_status st = status(sb);
    HB_CHECK_EQ(st.plugins[0].version, 2);
    HB_CHECK_EQ(st.plugins[0].on_probation, 0);
    HB_CHECK_EQ(hb_callf(sb, "counter", "crash", ")v"), HB_ECRASHED);
    uint64_t act = 0;
    HB_CHECK_OK(hb_active_version(sb, "counter", &act));
    HB_CHECK_EQ(act, 2);
    HB_CHECK_EQ(ev.count[HB_EVENT_ROLLED_BACK], 0);
    hb_sandbox_free(sb);
    hb_manager_free(m);
}

/* A crash loop fails the sandbox; hb_sandbox_restart brings it back. */
static void case_restart_failed(void)
{
    char *dir = counter(1);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox_options o;
    HB_CHECK_OK(hb_sandbox_options_init(&o, HB_SANDBOX_OPTIONS_VERSION));
    o.crash_loop_max = 1;
    hb_sandbox *sb = NULL;
    HB_CHECK_OK(hb_sandbox_new(m, &o, &sb));
    HB_CHECK_OK(hb_load(sb, dir));
    hb_callf(sb, "counter", "crash", ")v");
    HB_CHECK_EQ(status(sb).state, HB_SANDBOX_FAILED);
    HB_CHECK_EQ(hb_callf(sb, "counter", "increment", ")l", &(int64_t){0}), HB_EFAILED);
    HB_CHECK_OK(hb_sandbox_restart(sb));
    HB_CHECK_EQ(status(sb).state, HB_SANDBOX_RUNNING);
    int64_t v = 0;
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 1);
    hb_sandbox_free(sb);
    hb_manager_free(m);
}

/* A caller built against options version 1 has no no_auto_restart field:
 * whatever lies beyond its struct is ignored, and crashes restart. */
static void case_options_v1(void)
{
    char *dir = counter(1);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox_options o;
    memset(&o, 0xff, sizeof(o));
    HB_CHECK_OK(hb_sandbox_options_init(&o, 1));
    HB_CHECK_EQ(o.no_auto_restart, -1); /* bytes a v1 struct lacks were not written */
    hb_sandbox *sb = NULL;
    HB_CHECK_OK(hb_sandbox_new(m, &o, &sb));
    HB_CHECK_OK(hb_load(sb, dir));
    HB_CHECK_EQ(hb_callf(sb, "counter", "crash", ")v"), HB_ECRASHED);
    HB_CHECK_EQ(status(sb).state, HB_SANDBOX_RUNNING);
    HB_CHECK_EQ(status(sb).restarts, 1);
    hb_sandbox_free(sb);
    hb_manager_free(m);
}

static void case_list(void)
{
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *a = sandbox(m, 0, 0), *b = sandbox(m, 1, 0);
    hb_sandbox *got[4] = {0};
    size_t n = 0;
    HB_CHECK_OK(hb_manager_sandboxes(m, got, 4, &n));
    HB_CHECK_EQ(n, 2);
    HB_CHECK((got[0] == a && got[1] == b) || (got[0] == b && got[1] == a));
    HB_CHECK_OK(hb_manager_sandboxes(m, NULL, 0, &n));
    HB_CHECK_EQ(n, 2);
    hb_sandbox_free(a);
    HB_CHECK_OK(hb_manager_sandboxes(m, got, 4, &n));
    HB_CHECK_EQ(n, 1);
    HB_CHECK(got[0] == b);
    HB_CHECK_EQ(hb_manager_sandboxes(m, NULL, 1, &n), -EINVAL);
    hb_sandbox_free(b);
    hb_manager_free(m);
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"crash_stays_down", case_crash_stays_down},
        {"probation_crash_no_rollback", case_probation_crash_no_rollback},
        {"killed_idle_stays_down", case_killed_idle_stays_down},
        {"default_restarts", case_default_restarts},
        {"no_probation", case_no_probation},
        {"restart_failed", case_restart_failed},
        {"list", case_list},
        {"options_v1", case_options_v1},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
