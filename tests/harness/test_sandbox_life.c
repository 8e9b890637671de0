/* tests/harness/test_sandbox_life.c - a sandbox's lifetime against its
 * manager and its worker: a manager freed while the caller still holds a
 * sandbox detaches it (the handle stays valid, operations say so), and
 * crash-loop backoff is a deadline the next operation meets, not a wait
 * inside the crashing call.
 * Each case runs as: test_sandbox_life CASE. */
#include <malloc.h>

#include "e2e.h"

static e2e_events ev;

static char *crashing_counter(void)
{
    return e2e_write("counter", "counter.c",
                     e2e_counter_src(1, 1, "int64_t bad(void) { volatile int *p = 0; *p = 1; return 0; }\n"
                                           "HB_PLUGIN(\"counter\", 1, 0, 0, save, migrate);"));
}

/* The caller still holds sb when the manager goes. */
static void case_manager_free_detaches(void)
{
    /* Freed memory is overwritten, so a handle freed under the caller is
     * caught even without a sanitizer. Under AddressSanitizer (whose
     * allocator has no mallopt) a use after free is caught by it instead. */
#if defined(__SANITIZE_ADDRESS__)
    (void)mallopt(M_PERTURB, 0xa5);
#else
    HB_CHECK_EQ(mallopt(M_PERTURB, 0xa5), 1);
#endif
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = e2e_loaded(m, NULL, dir);
    int64_t v;
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    hb_manager_free(m);
    HB_CHECK_EQ(hb_callf(sb, "counter", "increment", ")l", &v), HB_EFAILED);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "manager was freed");
    HB_CHECK_EQ(hb_reload(sb, "counter"), HB_EFAILED);
    HB_CHECK_EQ(hb_load(sb, dir), HB_EFAILED);
    HB_CHECK_EQ(hb_rollback(sb, "counter", 0), HB_EFAILED);
    HB_CHECK_EQ(hb_checkpoint(sb, NULL), HB_EFAILED);
    hb_sandbox_usage u;
    HB_CHECK_OK(hb_sandbox_usage_get(sb, &u));
    HB_CHECK(u.failed);
    HB_CHECK_EQ(u.worker_pid, 0);
    hb_sandbox_free(sb);
}

/* Crashes in a row: after the second one in the window the crashing call
 * returns without restarting (the restart has a deadline); the next
 * operation restarts the worker and is served. */
static void case_backoff_is_a_deadline(void)
{
    char *dir = crashing_counter();
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.crash_loop_max = 50;
    so.crash_loop_window_ms = 60000;
    hb_sandbox *sb = e2e_loaded(m, &so, dir);
    int64_t v;
    hb_sandbox_usage u;
    HB_CHECK_EQ(hb_callf(sb, "counter", "bad", ")l", &v), HB_ECRASHED);
    HB_CHECK_OK(hb_sandbox_usage_get(sb, &u));
    HB_CHECK_EQ(u.restarts, 1); /* the first crash restarts at once */
    for (int i = 0; i < 3; i++) /* backoff 10, 20, 40 ms */
        HB_CHECK_EQ(hb_callf(sb, "counter", "bad", ")l", &v), HB_ECRASHED);
    HB_CHECK_OK(hb_sandbox_usage_get(sb, &u));
    HB_CHECK_EQ(u.crashes, 4);
    HB_CHECK_EQ(u.restarts, 3);         /* the last restart is not done yet */
    HB_CHECK_EQ(hb_sandbox_worker_pid(sb), 0);
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v)); /* restarts, served */
    HB_CHECK_OK(hb_sandbox_usage_get(sb, &u));
    HB_CHECK_EQ(u.restarts, 4);
    HB_CHECK(hb_sandbox_worker_pid(sb) > 0);
    HB_CHECK_EQ(ev.count[HB_EVENT_RESTARTED], 4);
    e2e_free(sb, m);
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"manager_free_detaches", case_manager_free_detaches},
        {"backoff_is_a_deadline", case_backoff_is_a_deadline},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
