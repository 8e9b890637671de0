/*
 * tests/harness/test_statelost_text.c - the HB_ESTATELOST text of the call
 * after a restart says what the plugin serves from now, for each way the
 * restart went (harness/call.c, recover.c):
 *   from_checkpoint  its latest checkpoint was restored: "it serves from
 *                    that checkpoint now" (and it does);
 *   no_checkpoint    it never had one: fresh state, said so;
 *   restore_failed   restoring the checkpoint killed the new worker: fresh
 *                    state, said so (before: "it serves from that
 *                    checkpoint now", which was false).
 */
#include <poll.h>
#include <signal.h>

#include "harness/e2e.h"

static e2e_events ev;

/* Loads the plugin, calls inc `calls` times (a checkpoint after `ckpt` of
 * them, when ckpt >= 0), kills the worker and returns the text of the
 * next call, which must be HB_ESTATELOST; *after: that call made again. */
static char *lost_text(bool hooks, const char *body, int calls, int ckpt, int64_t *after)
{
    char *dir = e2e_counter_plugin(hooks, body);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.swap_timeout_ms = 1500;
    hb_sandbox *sb = e2e_loaded(m, &so, dir);
    int64_t v = 0;
    for (int i = 0; i < calls; i++) {
        if (i == ckpt)
            HB_CHECK_OK(hb_checkpoint(sb, NULL));
        HB_CHECK_OK(hb_callf(sb, "c", "inc", ")l", &v));
    }
    int pid = hb_sandbox_worker_pid(sb);
    struct pollfd p = {.fd = hb_sandbox_worker_fd(sb), .events = POLLIN};
    HB_CHECK_EQ(kill(pid, SIGKILL), 0);
    HB_CHECK_EQ(poll(&p, 1, 20000), 1);
    HB_CHECK_EQ(hb_callf(sb, "c", "inc", ")l", &v), HB_ESTATELOST);
    char *text = strdup(hb_sandbox_last_error(sb));
    HB_CHECK(text != NULL);
    printf("%s\n", text);
    HB_CHECK_OK(hb_callf(sb, "c", "inc", ")l", after));
    e2e_free(sb, m);
    return text;
}

static void case_from_checkpoint(void)
{
    int64_t v = 0;
    char *t = lost_text(true, "", 5, 3, &v); /* checkpoint at 3, two calls lost */
    HB_CHECK_CONTAINS(t, "since its last checkpoint was lost; it serves from that checkpoint now");
    HB_CHECK_EQ(v, 4);
    free(t);
}

static void case_no_checkpoint(void)
{
    int64_t v = 0;
    char *t = lost_text(false, "", 3, -1, &v);
    HB_CHECK_CONTAINS(t, "was lost (it had no checkpoint); it serves with fresh state now");
    if (strstr(t, "from that checkpoint"))
        HB_FAIL_("the text claims a checkpoint: %s", t);
    HB_CHECK_EQ(v, 1);
    free(t);
}

static void case_restore_failed(void)
{
    int64_t v = 0;
    char *t = lost_text(true, "volatile int *p = 0; *p = 1;", 4, 3, &v);
    HB_CHECK_CONTAINS(t, "restoring its checkpoint failed, so it serves with fresh state now");
    if (strstr(t, "from that checkpoint"))
        HB_FAIL_("the text claims the checkpoint: %s", t);
    HB_CHECK_EQ(v, 1);
    free(t);
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"from_checkpoint", case_from_checkpoint},
        {"no_checkpoint", case_no_checkpoint},
        {"restore_failed", case_restore_failed},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
