/*
 * tests/watcher/test_settle.c - settle_on_close: a change set is delivered
 * at the first complete write (close after writing, rename into place),
 * without waiting out the quiet window; a write still open, a deletion or
 * a watcher without the option wait for the window as before.
 *
 * The quiet window is 10 s (and so is max_delay_ms), so a set delivered by
 * the very next hb_watcher_process call can only be the early path. Each
 * step is one call; the events it needs were queued by the test's own
 * system calls before it. One case per process (argv[1]).
 */
#include "wtest.h"

#define LONG_MS 10000

static hb_watcher *early_watcher_on(const char *root, bool settle_on_close)
{
    hb_watcher_options o = HB_WATCHER_OPTIONS_INIT;
    o.quiet_ms = LONG_MS;
    o.max_delay_ms = LONG_MS;
    o.settle_on_close = settle_on_close;
    return watcher_with(root, &o);
}

/* One process() call: the set it delivers (1) or 0. */
static int process_now(hb_watcher *w, hb_change_set *cs)
{
    hb_change_set_init(cs);
    int r = hb_watcher_process(w, cs);
    if (r < 0)
        HB_FAIL_("hb_watcher_process: %d %s", r, hb_watcher_last_error(w));
    return r;
}

/* Written in place and closed: delivered at once. */
static void case_close_write(void)
{
    char *t = make_tree();
    write_in(t, "a.c", "int a;\n");
    hb_watcher *w = early_watcher_on(t, true);
    write_in(t, "a.c", "int a = 2;\n");
    hb_change_set cs;
    HB_CHECK_EQ(process_now(w, &cs), 1);
    HB_CHECK_EQ(cs.n_changes, 1);
    CHECK_KIND(&cs, t, "a.c", HB_CHANGE_MODIFIED);
    hb_change_set_release(&cs);
    HB_CHECK_EQ(hb_watcher_next_timeout_ms(w), -1); /* nothing left pending */
    hb_watcher_free(w);
}

/* Temp file + rename (IN_MOVED_TO on the tracked name): delivered at once;
 * the temp file's own events are not tracked. */
static void case_rename(void)
{
    char *t = make_tree();
    write_in(t, "a.c", "int a;\n");
    hb_watcher *w = early_watcher_on(t, true);
    char *a = P(t, "a.c");
    replace_at(a, "int a = 3;\n");
    hb_change_set cs;
    HB_CHECK_EQ(process_now(w, &cs), 1);
    HB_CHECK_EQ(cs.n_changes, 1);
    CHECK_KIND(&cs, t, "a.c", HB_CHANGE_MODIFIED);
    hb_change_set_release(&cs);
    free(a);
    hb_watcher_free(w);
}

/* A file still open for writing settles nothing early: its set waits for
 * the quiet window until the writer closes it, then comes at once with the
 * final content. */
static void case_open_write(void)
{
    char *t = make_tree();
    write_in(t, "a.c", "int a;\n");
    hb_watcher *w = early_watcher_on(t, true);
    char *a = P(t, "a.c");
    int fd = open(a, O_WRONLY | O_TRUNC | O_CLOEXEC);
    HB_CHECK(fd >= 0);
    HB_CHECK_OK(hb__write_full(fd, "int a", 5));
    hb_change_set cs;
    HB_CHECK_EQ(process_now(w, &cs), 0);
    HB_CHECK_INT(hb_watcher_next_timeout_ms(w), >, LONG_MS / 2); /* the quiet window */
    HB_CHECK_OK(hb__write_full(fd, " = 4;\n", 6));
    HB_CHECK_EQ(process_now(w, &cs), 0);
    HB_CHECK_EQ(close(fd), 0);
    HB_CHECK_EQ(process_now(w, &cs), 1);
    HB_CHECK_EQ(cs.n_changes, 1);
    CHECK_KIND(&cs, t, "a.c", HB_CHANGE_MODIFIED);
    hb_change_set_release(&cs);
    free(a);
    hb_watcher_free(w);
}

/* A deletion is not a complete write: it waits for the window. */
static void case_delete_waits(void)
{
    char *t = make_tree();
    write_in(t, "a.c", "int a;\n");
    hb_watcher *w = early_watcher_on(t, true);
    char *a = P(t, "a.c");
    HB_CHECK_EQ(unlink(a), 0);
    hb_change_set cs;
    HB_CHECK_EQ(process_now(w, &cs), 0);
    HB_CHECK_INT(hb_watcher_next_timeout_ms(w), >, LONG_MS / 2);
    free(a);
    hb_watcher_free(w);
}

/* Content still decides: closing a file rewritten with the same bytes
 * settles at once, to nothing. */
static void case_same_content(void)
{
    char *t = make_tree();
    write_in(t, "a.c", "int a;\n");
    hb_watcher *w = early_watcher_on(t, true);
    write_in(t, "a.c", "int a;\n");
    hb_change_set cs;
    HB_CHECK_EQ(process_now(w, &cs), 0);
    HB_CHECK_EQ(hb_watcher_next_timeout_ms(w), -1); /* settled: no window left */
    hb_watcher_free(w);
}

/* Without the option a complete write waits for the quiet window. */
static void case_off_by_default(void)
{
    char *t = make_tree();
    write_in(t, "a.c", "int a;\n");
    hb_watcher *w = early_watcher_on(t, false);
    write_in(t, "a.c", "int a = 5;\n");
    hb_change_set cs;
    HB_CHECK_EQ(process_now(w, &cs), 0);
    HB_CHECK_INT(hb_watcher_next_timeout_ms(w), >, LONG_MS / 2);
    hb_watcher_free(w);
}

static const wt_case cases[] = {
    {"close_write", case_close_write},     {"rename", case_rename},
    {"open_write", case_open_write},       {"delete_waits", case_delete_waits},
    {"same_content", case_same_content},   {"off_by_default", case_off_by_default},
};

int main(int argc, char **argv)
{
    return wt_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
