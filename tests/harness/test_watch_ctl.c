/* tests/harness/test_watch_ctl.c - CI controls of watch mode through the
 * public API: exclude globs (hb_watch_options.exclude) and pausing
 * auto-reload (hb_watch_pause/resume). Real files, inotify and compiles;
 * waits poll the watch fd with a deadline as the failure path. */
#include <poll.h>

#include "e2e.h"

static e2e_events ev;
static hb_sandbox *sb;
static hb_manager *m;

/* Runs hb_watch_process until it acted (returns the count) or timeout_ms
 * passes without that (returns -1). */
static int wait_cycle(hb_watch *w, int timeout_ms)
{
    for (;;) {
        struct pollfd p = {.fd = hb_watch_fd(w), .events = POLLIN};
        if (poll(&p, 1, timeout_ms) <= 0)
            return -1;
        int r = hb_watch_process(w);
        HB_CHECK(r >= 0);
        if (r > 0)
            return r;
    }
}

/* Paused: handles change sets until the watch has settled (everything
 * written so far was read), within a deadline; each must act on nothing. */
static void drain_paused(hb_watch *w)
{
    for (int i = 0; i < 200; i++) {
        struct pollfd p = {.fd = hb_watch_fd(w), .events = POLLIN};
        int n = poll(&p, 1, 50);
        HB_CHECK(n >= 0);
        if (n > 0)
            HB_CHECK_EQ(hb_watch_process(w), 0);
        else if (hb_watch_pending(w) == 0)
            return;
    }
    HB_CHECK(!"the paused watch did not settle within 10 s");
}

static hb_watch *start(const char *const *exclude)
{
    char root[4200];
    snprintf(root, sizeof(root), "%s/plugins", e2e_root);
    m = e2e_manager(&ev);
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    const char *roots[] = {root, NULL};
    hb_watch_options wo;
    memset(&wo, 0, sizeof(wo));
    wo.version = HB_WATCH_OPTIONS_VERSION;
    wo.exclude = exclude;
    hb_watch *w = NULL;
    HB_CHECK_OK(hb_watch_new(sb, roots, &wo, &w));
    return w;
}

static void stop(hb_watch *w)
{
    hb_watch_free(w);
    e2e_free(sb, m);
}

static int32_t version(void)
{
    int32_t v = -1;
    HB_CHECK_OK(hb_callf(sb, "counter", "version", ")i", &v));
    return v;
}

static void case_exclude(void)
{
    e2e_write("plugins/counter", "counter.c", e2e_counter_src(1, 1, NULL));
    e2e_write("plugins/counter", "scratch_notes.c", "static int scratch_unused;\n");
    e2e_write("plugins/gen_out", "gen.c", e2e_counter_src(1, 1, "HB_PLUGIN(\"gen_out\", 1, 0, 0, 0, 0);"));
    const char *excl[] = {"scratch_*.c", "gen_*/", NULL};
    hb_watch *w = start(excl);
    /* An excluded directory under a root of plugin directories is no plugin. */
    char **names = NULL;
    HB_CHECK_OK(hb_watch_plugins(w, &names));
    HB_CHECK(names[0] != NULL);
    HB_CHECK_STR(names[0], "counter");
    HB_CHECK(names[1] == NULL);
    hb_free(names);
    /* A change to an excluded file starts no build... */
    e2e_write("plugins/counter", "scratch_notes.c", "static int scratch_unused2;\n");
    HB_CHECK_EQ(wait_cycle(w, 600), -1);
    HB_CHECK_EQ(ev.count[HB_EVENT_SWAPPED], 0);
    /* ...nor does a new file in an excluded directory... */
    e2e_write("plugins/gen_out", "more.c", "static int more_unused;\n");
    HB_CHECK_EQ(wait_cycle(w, 600), -1);
    /* ...while the plugin's own files still reload it. */
    e2e_write("plugins/counter", "counter.c", e2e_counter_src(2, 1, NULL));
    HB_CHECK_EQ(wait_cycle(w, 10000), 1);
    HB_CHECK_EQ(ev.count[HB_EVENT_SWAPPED], 1);
    HB_CHECK_EQ(version(), 2);
    stop(w);
}

static void case_pause(void)
{
    e2e_write("plugins/counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_watch *w = start(NULL);
    HB_CHECK_EQ(hb_watch_resume(w), 0); /* not paused: nothing to do */
    HB_CHECK_OK(hb_watch_pause(w));
    HB_CHECK_CONTAINS(ev.last[HB_EVENT_NOTICE], "paused");
    /* Two saves while paused: read, remembered, not built. */
    e2e_write("plugins/counter", "counter.c", e2e_counter_src(2, 1, NULL));
    drain_paused(w);
    e2e_write("plugins/counter", "counter.c", e2e_counter_src(3, 1, NULL));
    drain_paused(w);
    HB_CHECK_EQ(ev.count[HB_EVENT_SWAPPED], 0);
    HB_CHECK_EQ(version(), 1);
    /* Resume: one build of the final content, one swap. */
    HB_CHECK_EQ(hb_watch_resume(w), 1);
    HB_CHECK_CONTAINS(ev.last[HB_EVENT_NOTICE], "resumed");
    HB_CHECK_EQ(ev.count[HB_EVENT_SWAPPED], 1);
    HB_CHECK_EQ(version(), 3);
    /* And auto-reload works again. */
    e2e_write("plugins/counter", "counter.c", e2e_counter_src(4, 1, NULL));
    HB_CHECK_EQ(wait_cycle(w, 10000), 1);
    HB_CHECK_EQ(version(), 4);
    HB_CHECK_EQ(hb_watch_resume(w), 0);
    stop(w);
}

static const e2e_case cases[] = {{"exclude", case_exclude}, {"pause", case_pause}};

int main(int argc, char **argv)
{
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
