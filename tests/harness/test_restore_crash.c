/*
 * tests/harness/test_restore_crash.c - a checkpoint whose restore kills the
 * new worker (the plugin's migrate crashes or hangs on its own bytes) after
 * the worker died: the plugin restarts with fresh state (a state-reset
 * event that says so, HB_ESTATELOST on the next call) and the sandbox
 * serves again. Before, every restart attempt restored the same checkpoint
 * and died the same way, the restarted event named "pid 0" and claimed the
 * checkpoint was served, and every call failed with HB_ECRASHED.
 */
#include <poll.h>
#include <signal.h>

#include "harness/e2e.h"

static e2e_events ev;

static void restore_kills(const char *body, const char *how)
{
    /* its migrate runs only to restore a checkpoint here: no swap */
    char *dir = e2e_counter_plugin(true, body);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.swap_timeout_ms = 1500; /* a restore that hangs is ended by this */
    hb_sandbox *sb = e2e_loaded(m, &so, dir);
    int64_t v = 0;
    for (int i = 0; i < 3; i++)
        HB_CHECK_OK(hb_callf(sb, "c", "inc", ")l", &v));
    HB_CHECK_EQ(v, 3);
    HB_CHECK_OK(hb_checkpoint(sb, NULL));
    int pid = hb_sandbox_worker_pid(sb);
    struct pollfd p = {.fd = hb_sandbox_worker_fd(sb), .events = POLLIN};
    HB_CHECK_EQ(kill(pid, SIGKILL), 0);
    HB_CHECK_EQ(poll(&p, 1, 20000), 1);
    /* The restart restores the checkpoint, which kills the new worker; the
     * plugin then starts fresh. The call says its state was lost. */
    HB_CHECK_EQ(hb_callf(sb, "c", "inc", ")l", &v), HB_ESTATELOST);
    HB_CHECK_EQ(ev.count[HB_EVENT_STATE_RESET], 1);
    HB_CHECK_CONTAINS(ev.last[HB_EVENT_STATE_RESET], how);
    HB_CHECK_CONTAINS(ev.last[HB_EVENT_STATE_RESET], "fresh state");
    HB_CHECK(strchr(ev.last[HB_EVENT_STATE_RESET], '\n') == NULL); /* one line */
    HB_CHECK(strstr(ev.last[HB_EVENT_RESTARTED], "pid 0") == NULL);
    HB_CHECK(strstr(ev.last[HB_EVENT_RESTARTED], "from its checkpoint") == NULL);
    HB_CHECK(hb_sandbox_worker_pid(sb) > 0);
    HB_CHECK_OK(hb_callf(sb, "c", "inc", ")l", &v));
    HB_CHECK_EQ(v, 1);
    HB_CHECK_OK(hb_callf(sb, "c", "inc", ")l", &v));
    HB_CHECK_EQ(v, 2);
    uint64_t active = 0;
    HB_CHECK_OK(hb_active_version(sb, "c", &active));
    HB_CHECK_EQ(active, 1);
    e2e_free(sb, m);
}

static void case_migrate_crashes(void)
{
    restore_kills("volatile int *p = 0; *p = 1;", "restoring it crashed the worker");
}

static void case_migrate_hangs(void)
{
    restore_kills("for (;;) { __asm__ volatile(\"\"); }", "restoring it hung the worker");
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"migrate_crashes", case_migrate_crashes},
        {"migrate_hangs", case_migrate_hangs},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
