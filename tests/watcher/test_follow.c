/*
 * tests/watcher/test_follow.c - hb_watcher_follow: files outside the roots
 * (a header beside a watched plugin directory, a symlinked source's target)
 * reported like files under a root, and nothing else of their directory.
 */
#include "wtest.h"

/* A followed file's saves are reported (in place, by rename, delete and
 * create), a touch is not, and nothing else of its directory is: not
 * another file, not a new subdirectory (never descended). */
static void case_outside(void)
{
    char *t = make_tree();
    char *r = P(t, "root"), *inc = P(t, "include"), *v = P(inc, "v.h");
    mkdir_in(t, "root");
    mkdir_in(t, "include");
    write_in(r, "main.c", "x");
    write_at(v, "#define V 1\n");
    write_in(inc, "other.h", "o");
    hb_watcher *w = watcher_on(r);
    char *err = NULL;
    HB_CHECK_EQ(hb_watcher_follow(w, v, &err), 1);
    HB_CHECK_EQ(hb_watcher_follow(w, v, &err), 0); /* once */
    HB_CHECK_EQ(hb_watcher_follow(w, "relative.h", &err), -EINVAL);
    free(err);
    err = NULL;
    size_t watches = hb_watcher_watch_count(w);
    HB_CHECK_EQ(watches, 2); /* the root and include/ */

    write_in(inc, "other.h", "o2"); /* not followed */
    mkdir_in(inc, "sub");
    write_in(inc, "sub/deep.h", "d");
    expect_nothing(w);
    HB_CHECK_EQ(hb_watcher_watch_count(w), watches);

    hb_change_set cs;
    write_at(v, "#define V 2\n");
    expect_set(w, &cs);
    HB_CHECK_EQ(cs.n_changes, 1);
    CHECK_KIND(&cs, inc, "v.h", HB_CHANGE_MODIFIED);
    hb_change_set_release(&cs);

    write_at(v, "#define V 2\n"); /* same content */
    expect_nothing(w);

    replace_at(v, "#define V 3\n");
    expect_set(w, &cs);
    HB_CHECK_EQ(cs.n_changes, 1);
    CHECK_KIND(&cs, inc, "v.h", HB_CHANGE_MODIFIED);
    hb_change_set_release(&cs);

    HB_CHECK_EQ(unlink(v), 0);
    expect_set(w, &cs);
    CHECK_KIND(&cs, inc, "v.h", HB_CHANGE_DELETED);
    hb_change_set_release(&cs);
    write_at(v, "#define V 4\n");
    expect_set(w, &cs);
    CHECK_KIND(&cs, inc, "v.h", HB_CHANGE_CREATED);
    hb_change_set_release(&cs);

    /* The root's own files are still reported as before. */
    write_in(r, "main.c", "y");
    expect_set(w, &cs);
    HB_CHECK_EQ(cs.n_changes, 1);
    CHECK_KIND(&cs, r, "main.c", HB_CHANGE_MODIFIED);
    hb_change_set_release(&cs);
    hb_watcher_free(w);
    HB_FREE_ALL(r, inc, v);
}

/* A followed file in the parent directory of a root that goes away: the
 * watch that waits for the root to come back is on the same directory,
 * and must not take the followed file's events away. */
static void case_root_parent(void)
{
    char *t = make_tree();
    char *r = P(t, "root"), *v = P(t, "v.h");
    mkdir_in(t, "root");
    write_in(r, "main.c", "x");
    write_at(v, "1");
    hb_watcher *w = watcher_on(r);
    char *err = NULL;
    HB_CHECK_EQ(hb_watcher_follow(w, v, &err), 1);
    HB_CHECK_OK(hb__rm_rf(r));
    hb_change_set cs;
    expect_set(w, &cs);
    HB_CHECK(cs.root_gone);
    hb_change_set_release(&cs);

    write_at(v, "2"); /* in place: IN_CLOSE_WRITE / IN_MODIFY only */
    expect_set(w, &cs);
    HB_CHECK_EQ(cs.n_changes, 1);
    CHECK_KIND(&cs, t, "v.h", HB_CHANGE_MODIFIED);
    hb_change_set_release(&cs);

    mkdir_in(t, "root"); /* and the root comes back */
    write_in(r, "main.c", "z");
    expect_set(w, &cs);
    CHECK_KIND(&cs, r, "main.c", HB_CHANGE_CREATED);
    hb_change_set_release(&cs);
    write_at(v, "3");
    expect_set(w, &cs);
    CHECK_KIND(&cs, t, "v.h", HB_CHANGE_MODIFIED);
    hb_change_set_release(&cs);
    hb_watcher_free(w);
    free(err);
    HB_FREE_ALL(r, v);
}

/* Events lost to a queue overflow: the rescan checks followed files too. */
static void case_overflow(void)
{
    char *t = make_tree();
    char *r = P(t, "root"), *inc = P(t, "include"), *v = P(inc, "v.h");
    mkdir_in(t, "root");
    mkdir_in(t, "include");
    write_at(v, "1");
    hb_watcher *w = watcher_on(r);
    char *err = NULL;
    HB_CHECK_EQ(hb_watcher_follow(w, v, &err), 1);
    write_at(v, "2");
    hb__watcher_simulate_overflow(w);
    hb_change_set cs;
    expect_set(w, &cs);
    HB_CHECK(cs.overflowed);
    CHECK_KIND(&cs, inc, "v.h", HB_CHANGE_MODIFIED);
    hb_change_set_release(&cs);
    hb_watcher_free(w);
    free(err);
    HB_FREE_ALL(r, inc, v);
}

static const wt_case cases[] = {
    {"outside", case_outside},
    {"root_parent", case_root_parent},
    {"overflow", case_overflow},
};

int main(int argc, char **argv)
{
    return wt_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
