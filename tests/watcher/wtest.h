/*
 * tests/watcher/wtest.h - helpers shared by the watcher's tests: a private
 * temporary tree, writes as editors do them, waiting for change sets
 * through the watcher's fd (deadlines as the failure path, no sleeps), and
 * the case runner (one case per process).
 */
#ifndef HB_WTEST_H
#define HB_WTEST_H

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hbtest.h"
#include "util.h"
#include "watcher.h"

#define QUIET_MS 20
#define WAIT_MS 5000

static char *g_tree; /* removed at exit */

static __attribute__((unused)) void cleanup_tree(void)
{
    if (g_tree) {
        hb__rm_rf(g_tree);
        free(g_tree);
        g_tree = NULL;
    }
}

static __attribute__((unused)) char *make_tree(void)
{
    char *dir = NULL, *real = NULL;
    HB_CHECK_OK(hb__mkdtemp_in("/tmp", "hb-watch-", &dir));
    HB_CHECK_OK(hb__realpath(dir, &real)); /* what the watcher reports */
    free(dir);
    g_tree = real;
    atexit(cleanup_tree);
    return real;
}

static __attribute__((unused)) char *P(const char *dir, const char *name) /* caller frees */
{
    char *p = hb__path_join(dir, name);
    HB_CHECK(p != NULL);
    return p;
}

static __attribute__((unused)) void write_at(const char *path, const char *content)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        HB_FAIL_("open %s: %s", path, strerror(errno));
    HB_CHECK_OK(hb__write_full(fd, content, strlen(content)));
    HB_CHECK_EQ(close(fd), 0);
}

static __attribute__((unused)) void write_in(const char *dir, const char *name, const char *content)
{
    char *p = P(dir, name);
    write_at(p, content);
    free(p);
}

/* Temp file + rename, without the fsyncs of hb__write_file_atomic: how git
 * checkout and most tools replace files. */
static __attribute__((unused)) void replace_at(const char *path, const char *content)
{
    char *tmp = hb__asprintf("%s.tmp-replace", path);
    HB_CHECK(tmp != NULL);
    write_at(tmp, content);
    if (rename(tmp, path) < 0)
        HB_FAIL_("rename %s: %s", tmp, strerror(errno));
    free(tmp);
}

static __attribute__((unused)) void mkdir_in(const char *dir, const char *name)
{
    char *p = P(dir, name);
    if (mkdir(p, 0755) < 0)
        HB_FAIL_("mkdir %s: %s", p, strerror(errno));
    free(p);
}

/* A watcher with options o on root. */
static __attribute__((unused)) hb_watcher *watcher_with(const char *root,
                                                        const hb_watcher_options *o)
{
    hb_watcher *w = NULL;
    char *err = NULL;
    int r = hb_watcher_new(o, &w, &err);
    if (r < 0)
        HB_FAIL_("hb_watcher_new: %d %s", r, err ? err : "");
    r = hb_watcher_add_root(w, root, &err);
    if (r < 0)
        HB_FAIL_("hb_watcher_add_root(%s): %d %s", root, r, err ? err : "");
    free(err);
    return w;
}

static __attribute__((unused)) hb_watcher *watcher_on(const char *root)
{
    hb_watcher_options o = HB_WATCHER_OPTIONS_INIT;
    o.quiet_ms = QUIET_MS;
    return watcher_with(root, &o);
}

/* Waits for the next change set through the watcher's fd. 1: got one. */
static __attribute__((unused)) int wait_set(hb_watcher *w, int timeout_ms, hb_change_set *cs)
{
    uint64_t end = hb__now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        int r = hb_watcher_process(w, cs);
        if (r < 0)
            HB_FAIL_("hb_watcher_process: %d %s", r, hb_watcher_last_error(w));
        if (r == 1)
            return 1;
        uint64_t now = hb__now_ns();
        if (now >= end)
            return 0;
        struct pollfd pfd = {.fd = hb_watcher_fd(w), .events = POLLIN};
        int left = (int)((end - now + 999999u) / 1000000u);
        if (poll(&pfd, 1, left) < 0 && errno != EINTR)
            HB_FAIL_("poll: %s", strerror(errno));
    }
}

static __attribute__((unused)) void dump_set(const char *what, const hb_change_set *cs)
{
    fprintf(stderr, "%s: %zu changes%s%s\n", what, cs->n_changes,
            cs->overflowed ? " (overflowed)" : "", cs->root_gone ? " (root gone)" : "");
    for (size_t i = 0; i < cs->n_changes && i < 40; i++)
        fprintf(stderr, "  %-8s %s%s\n", hb_change_kind_name(cs->changes[i].kind),
                cs->changes[i].path, cs->changes[i].is_dir ? "/" : "");
    for (size_t i = 0; i < cs->n_warnings; i++)
        fprintf(stderr, "  warning: %s\n", cs->warnings[i]);
}

static __attribute__((unused)) void expect_set(hb_watcher *w, hb_change_set *cs)
{
    hb_change_set_init(cs);
    if (!wait_set(w, WAIT_MS, cs))
        HB_FAIL_("no change set within %d ms", WAIT_MS);
    dump_set("got", cs);
}

/* Runs the watcher until what is pending has settled: 1 and *cs when that
 * gave a change set, 0 when it settled to nothing (no timer armed: nothing
 * more can come from what happened so far). Waits for the watcher's own
 * deadline, not a fixed time; WAIT_MS is the failure path. Inotify events
 * are queued by the system call that causes them, so whatever the test
 * did before the call is seen. */
static __attribute__((unused)) int wait_settled(hb_watcher *w, hb_change_set *cs)
{
    uint64_t end = hb__now_ns() + (uint64_t)WAIT_MS * 1000000u;
    for (;;) {
        int r = hb_watcher_process(w, cs);
        if (r < 0)
            HB_FAIL_("hb_watcher_process: %d %s", r, hb_watcher_last_error(w));
        if (r == 1)
            return 1;
        int next = hb_watcher_next_timeout_ms(w);
        if (next < 0)
            return 0;
        uint64_t now = hb__now_ns();
        if (now >= end)
            HB_FAIL_("pending changes did not settle within %d ms", WAIT_MS);
        struct pollfd pfd = {.fd = hb_watcher_fd(w), .events = POLLIN};
        if (poll(&pfd, 1, next + 1) < 0 && errno != EINTR)
            HB_FAIL_("poll: %s", strerror(errno));
    }
}

static __attribute__((unused)) void expect_nothing(hb_watcher *w)
{
    hb_change_set cs;
    hb_change_set_init(&cs);
    if (wait_settled(w, &cs)) {
        dump_set("unexpected", &cs);
        HB_FAIL_("expected no change set, got %zu changes", cs.n_changes);
    }
    /* Settled and idle: no timer armed, nothing readable. */
    HB_CHECK_EQ(hb_watcher_next_timeout_ms(w), -1);
    struct pollfd pfd = {.fd = hb_watcher_fd(w), .events = POLLIN};
    HB_CHECK_EQ(poll(&pfd, 1, 0), 0);
}

/* The kind reported for dir/name, or 0. */
static __attribute__((unused)) int kind_of(const hb_change_set *cs, const char *dir, const char *name)
{
    char *p = name ? P(dir, name) : strdup(dir);
    int kind = 0;
    for (size_t i = 0; i < cs->n_changes; i++)
        if (strcmp(cs->changes[i].path, p) == 0)
            kind = cs->changes[i].kind;
    free(p);
    return kind;
}

#define CHECK_KIND(cs, dir, name, k) HB_CHECK_EQ(kind_of(cs, dir, name), k)

typedef struct wt_case {
    const char *name;
    void (*fn)(void);
} wt_case;

/* `prog CASE` runs one case in this process (how CTest runs them, one test
 * per case); `prog` alone runs every case, each in a child process of its
 * own, and reports each. */
static __attribute__((unused)) int wt_main(int argc, char **argv, const wt_case *cases, size_t n)
{
    if (argc >= 2) {
        for (size_t i = 0; i < n; i++)
            if (strcmp(argv[1], cases[i].name) == 0) {
                cases[i].fn();
                cleanup_tree();
                printf("PASS %s\n", cases[i].name);
                return 0;
            }
        fprintf(stderr, "unknown case %s\n", argv[1]);
        return 2;
    }
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0)
            HB_FAIL_("fork: %s", strerror(errno));
        if (pid == 0) {
            cases[i].fn();
            cleanup_tree();
            _exit(0);
        }
        int st;
        while (waitpid(pid, &st, 0) < 0)
            if (errno != EINTR)
                HB_FAIL_("waitpid: %s", strerror(errno));
        bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        bool skip = WIFEXITED(st) && WEXITSTATUS(st) == 77;
        printf("%s %s\n", ok ? "PASS" : skip ? "SKIP" : "FAIL", cases[i].name);
        failed += !ok && !skip;
    }
    return failed ? 1 : 0;
}

#endif
