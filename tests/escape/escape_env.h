/* tests/escape/escape_env.h - the manager and the sandbox an escape case runs
 * in (shared by test_escape.c and test_rootdrop.c).
 *
 * The manager's state directory is in a new directory (root, under
 * $TMPDIR or /tmp), which hb_escape_cleanup removes unless HB_TEST_KEEP.
 *
 * With HB_ESCAPE_POOLED set the case
 * runs in a worker of the manager's pool (harness/pool.c), started before
 * the sandbox asked: it must be contained exactly as a fresh one. A first
 * sandbox with the same options warms the pool; the case's sandbox must
 * take that worker. */
#ifndef HB_TESTS_ESCAPE_ENV_H
#define HB_TESTS_ESCAPE_ENV_H

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hbtest.h"
#include "hotbox/hotbox.h"

/* Writes text to path (created or truncated); fails the case on error. */
static inline void hb_escape_write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        HB_FAIL_("%s: %s", path, strerror(errno));
    fputs(text, f);
    HB_CHECK(fclose(f) == 0);
}

/* The tasks the host can hold: the smaller of its pid_max and threads-max,
 * read here on the host's /proc (a jail's pid namespace may show a pid_max
 * of its own, but every pid it hands out is one of these). */
static inline long long hb_escape_host_task_room(void)
{
    static const char *const files[] = {"/proc/sys/kernel/pid_max",
                                        "/proc/sys/kernel/threads-max"};
    long long room = -1;
    for (size_t i = 0; i < 2; i++) {
        FILE *f = fopen(files[i], "re");
        long long v = -1;
        if (!f || fscanf(f, "%lld", &v) != 1 || v <= 0)
            HB_FAIL_("cannot read %s", files[i]);
        fclose(f);
        if (room < 0 || v < room)
            room = v;
    }
    return room;
}

/* A manager on state, compiling with isolation and cc (NULL: the default). */
static inline hb_manager *hb_escape_manager_at(const char *state, hb_isolation isolation,
                                               const char *cc, hb_event_fn on_event)
{
    hb_manager_options o;
    HB_CHECK_OK(hb_manager_options_init(&o, HB_MANAGER_OPTIONS_VERSION));
    o.state_dir = state;
    o.isolation = isolation;
    o.cc = cc;
    o.on_event = on_event;
    hb_manager *m = NULL;
    HB_CHECK_OK(hb_manager_new(&o, &m));
    return m;
}

/* root (len bytes): filled with the new directory, named prefix-XXXXXX. */
static inline hb_manager *hb_escape_manager_new(char *root, size_t len, const char *prefix,
                                                hb_event_fn on_event)
{
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(root, len, "%s/%s-XXXXXX", tmp, prefix);
    HB_CHECK(mkdtemp(root) != NULL);
    char state[4200];
    snprintf(state, sizeof(state), "%s/.hotbox", root);
    return hb_escape_manager_at(state, HB_ISOLATION_LOCAL, NULL, on_event);
}

static inline void hb_escape_cleanup(hb_manager **m, const char *root)
{
    hb_manager_free(*m);
    *m = NULL;
    if (root[0] && !getenv("HB_TEST_KEEP")) {
        char cmd[4200];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", root);
    }
}

static inline hb_sandbox *hb_escape_sandbox_new(hb_manager *m, const hb_sandbox_options *so)
{
    hb_sandbox *sb = NULL;
    hb_pool_stats ps = {0};
    bool pooled = getenv("HB_ESCAPE_POOLED") != NULL;
    if (pooled) {
        if (hb_sandbox_new(m, so, &sb) != 0)
            HB_FAIL_("hb_sandbox_new (warming the pool): %s", hb_manager_last_error(m));
        hb_sandbox_free(sb);
        for (int i = 0;; i++) {
            HB_CHECK_OK(hb_manager_pool_stats(m, &ps));
            if (ps.ready > 0 && ps.starting == 0)
                break;
            if (i > 4000) /* 20 s */
                HB_FAIL_("no pooled worker within 20 s");
            (void)poll(NULL, 0, 5);
        }
    }
    if (hb_sandbox_new(m, so, &sb) != 0)
        HB_FAIL_("hb_sandbox_new: %s", hb_manager_last_error(m));
    if (pooled) {
        hb_pool_stats now;
        HB_CHECK_OK(hb_manager_pool_stats(m, &now));
        HB_CHECK_EQ(now.hits, ps.hits + 1); /* the case's worker is the pooled one */
    }
    return sb;
}

/* hb_escape_sandbox_new with the escape cases' options: profile, a call
 * time limit of 20 s (slow machines), max_state_size (0: the default). */
static inline hb_sandbox *hb_escape_sandbox_of(hb_manager *m, hb_profile profile,
                                               size_t max_state)
{
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.profile = profile;
    so.call_timeout_ms = 20000;
    if (max_state)
        so.max_state_size = max_state;
    return hb_escape_sandbox_new(m, &so);
}

#endif /* HB_TESTS_ESCAPE_ENV_H */
