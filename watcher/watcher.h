/*
 * watcher/watcher.h - inotify -> debounced, checksummed change sets.
 *
 * A watcher follows one or more root directories recursively and turns the
 * storm of inotify events an editor or a tool produces (write in place,
 * temp-file-then-rename, vim's 4913 probe and backup files, delete then
 * create, sed -i, git checkout) into one settled list of files that really
 * changed.
 *
 * Invariants and ownership
 *  - Events are coalesced until a quiet window (default 20 ms) passes with no
 *    new relevant event; then one change set is delivered (with
 *    settle_on_close, already when a tracked file's write completes). A writer that never
 *    stops cannot starve delivery: a set is delivered at most max_delay_ms
 *    after the first pending event even if events keep arriving.
 *  - Content decides, not events. Every tracked file's SHA-256 is kept; a file
 *    whose content is the same as at the last delivery (touch, saving without
 *    changes, delete-then-recreate with the same bytes) yields no change. A
 *    file created and deleted inside one window yields nothing.
 *  - Only files whose name matches an include pattern are tracked (hashed and
 *    reported). Directories below a root are reported too (is_dir) when they
 *    appear or disappear, so a caller can see a new plugin directory.
 *  - Exclude patterns are matched with fnmatch() against every path component
 *    below a root; a pattern ending in '/' matches directories only. An
 *    excluded directory is never watched nor descended, so churn in .git/ or
 *    a build directory costs nothing and never appears.
 *  - Symbolic links are never followed while descending: a symlink to a
 *    directory is not descended (no loops). A symlink to a regular file whose
 *    name matches include is tracked by its target's content as seen when the
 *    link's directory has an event or on a rescan; changes to a target outside
 *    the roots are not watched unless the target is followed
 *    (hb_watcher_follow).
 *  - Files outside the roots may be followed one by one (hb_watcher_follow):
 *    each one's directory is watched, that directory only, and only the
 *    followed names in it are reported.
 *  - Roots may not overlap (a root inside another is -EEXIST).
 *  - An idle watcher makes no system calls and has no timer armed: its fd only
 *    becomes readable when an inotify event arrives or a pending quiet window
 *    expires.
 *  - A watcher is used by one thread at a time. It never prints; problems
 *    that do not stop it (a subdirectory it may not read) are reported as
 *    warnings in the next change set; errors that do are returned, with the
 *    text in hb_watcher_last_error().
 *  - Every resource is bounded: max_watches directories, max_files tracked
 *    paths (files and directories together). Exceeding either is -E2BIG with
 *    a message naming the option. The kernel's own limit on watches
 *    (fs.inotify.max_user_watches) is -ENOSPC with a message giving the
 *    current value and the sysctl that raises it.
 *
 * Use
 *    hb_watcher *w; char *err = NULL;
 *    hb_watcher_new(NULL, &w, &err);
 *    hb_watcher_add_root(w, "plugins", &err);
 *    for (;;) {
 *        poll({hb_watcher_fd(w), POLLIN}, -1);
 *        hb_change_set cs;
 *        int r = hb_watcher_process(w, &cs);
 *        if (r < 0) fail(hb_watcher_last_error(w));
 *        if (r == 1) { use(&cs); hb_change_set_release(&cs); }
 *    }
 */
#ifndef HB_WATCHER_H
#define HB_WATCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hb_watcher hb_watcher;

#define HB_WATCHER_OPTIONS_VERSION 1

typedef struct hb_watcher_options {
    int version;               /* HB_WATCHER_OPTIONS_VERSION */
    unsigned quiet_ms;         /* quiet window; 0 means the default, 20 */
    unsigned max_delay_ms;     /* deliver at the latest this long after the
                                  first pending event; 0 means 1000 */
    size_t max_watches;        /* watched directories; 0 means 65536 */
    size_t max_files;          /* tracked files + dirs; 0 means 200000 */
    /* NULL-terminated fnmatch patterns on the file name. NULL means the
     * defaults (hb_watcher_default_include()). Copied by hb_watcher_new. */
    const char *const *include;
    /* NULL-terminated exclude patterns replacing the defaults
     * (hb_watcher_default_exclude()); NULL means the defaults. */
    const char *const *exclude;
    /* Extra exclude patterns added to whichever set above is in force, e.g.
     * the name of a state directory other than .hotbox. May be NULL. */
    const char *const *exclude_extra;
    /* Settle at the first complete write instead of waiting out the quiet
     * window: as soon as a tracked file is closed after writing
     * (IN_CLOSE_WRITE) or a file is renamed onto a tracked name
     * (IN_MOVED_TO), everything pending is settled and delivered. Events
     * that follow start the next set as usual. A write that is not closed
     * yet (IN_MODIFY only), a deletion or a new directory still waits for
     * the quiet window. For a caller that supersedes work when more changes
     * arrive (watch mode starts the build at once and builds again if the
     * files move meanwhile). */
    bool settle_on_close;
} hb_watcher_options;

#define HB_WATCHER_OPTIONS_INIT                                                                \
    {HB_WATCHER_OPTIONS_VERSION, 0, 0, 0, 0, NULL, NULL, NULL, false}
void hb_watcher_options_init(hb_watcher_options *opts);

/* The built-in pattern lists, NULL-terminated, static. */
const char *const *hb_watcher_default_include(void);
const char *const *hb_watcher_default_exclude(void);

typedef enum hb_change_kind {
    HB_CHANGE_CREATED = 1,
    HB_CHANGE_MODIFIED = 2,
    HB_CHANGE_DELETED = 3,
} hb_change_kind;

const char *hb_change_kind_name(hb_change_kind kind); /* "created", ... */

typedef struct hb_change {
    char *path; /* absolute, as bytes: may be any non-UTF-8 file name */
    hb_change_kind kind;
    bool is_dir;
} hb_change;

/* One settled batch. Caller-owned: hb_change_set_init() before use (or let
 * hb_watcher_process fill it), hb_change_set_release() after. changes are
 * sorted by path and hold at most one entry per path. */
typedef struct hb_change_set {
    hb_change *changes;
    size_t n_changes;
    /* The kernel queue overflowed (or hb__watcher_simulate_overflow was
     * called): every root was rescanned by checksum and the differences are
     * in changes. */
    bool overflowed;
    /* A watched root was deleted, renamed or unmounted. The roots in
     * gone_roots are not watched while they are away; their files are
     * reported as deleted. Their parent directory is watched (that directory
     * only) and when a directory of the same name appears there the root is
     * watched again and its files are reported as created. */
    bool root_gone;
    char **gone_roots;
    size_t n_gone_roots;
    /* Problems that did not stop the watcher, e.g. "permission denied:
     * /p/secret (not watched)". */
    char **warnings;
    size_t n_warnings;
} hb_change_set;

void hb_change_set_init(hb_change_set *cs);
void hb_change_set_release(hb_change_set *cs); /* and re-inits it */

/* Creates a watcher (no roots yet). opts may be NULL for defaults. On error
 * returns -errno and, when err is non-NULL, a malloc'ed message in *err. */
int hb_watcher_new(const hb_watcher_options *opts, hb_watcher **out, char **err);
void hb_watcher_free(hb_watcher *w); /* accepts NULL */

/* Watches path (a directory) and everything below it, and records the
 * checksum of every tracked file as the baseline: files present now are not
 * reported. Subdirectories that cannot be read are skipped with a warning
 * delivered in the next change set (the fd becomes ready for it). Returns 0,
 * -ENOTDIR, -ENOENT, -EEXIST (overlaps a root), -ENOSPC (kernel watch limit),
 * -E2BIG (own limits) or another -errno; on error nothing of the root stays
 * watched. */
int hb_watcher_add_root(hb_watcher *w, const char *path, char **err);

/* Follows one more file outside the roots (an absolute path, e.g. a header
 * a build read from elsewhere, or the target of a symlinked source): its
 * directory is watched (not descended) and changes to its content are
 * reported like those of a file under a root, with its checksum now as the
 * baseline. A path under a root is only remembered (its root reports it).
 * Returns 1 when newly followed, 0 when it already was, -E2BIG past
 * max_files, or another -errno (then *err says why). A directory that
 * cannot be watched is a warning in the next change set, not an error. */
int hb_watcher_follow(hb_watcher *w, const char *path, char **err);

/* Stops watching a root given as passed to add_root (or its realpath) and
 * forgets its files without reporting them. -ENOENT if it is not a root. */
int hb_watcher_remove_root(hb_watcher *w, const char *path);

/* An fd (epoll) that is readable when hb_watcher_process has work: inotify
 * events arrived or the quiet window of pending events expired. Owned by the
 * watcher. */
int hb_watcher_fd(const hb_watcher *w);

/* Milliseconds until process() should be called for a pending set to
 * settle, 0 if now, -1 if nothing is pending (wait for the fd only). For
 * callers that prefer their own timer to polling hb_watcher_fd. */
int hb_watcher_next_timeout_ms(const hb_watcher *w);

/* Reads pending events without blocking. Returns 1 and fills *out when a
 * settled, non-empty change set (changes, gone roots or warnings) is ready;
 * 0 when nothing is ready yet (*out untouched); negative -errno on an error
 * that stops the watcher (text in hb_watcher_last_error), e.g. -ENOSPC when
 * a new directory cannot be watched. */
int hb_watcher_process(hb_watcher *w, hb_change_set *out);

/* Reads pending events without blocking and without settling anything:
 * 1 when changes are waiting for their quiet window (a change set will
 * follow through the fd), 0 when none are, or a negative -errno as for
 * hb_watcher_process. For a caller that wants to know whether files moved
 * again before it reports on them. */
int hb_watcher_pending(hb_watcher *w);

/* Makes hb_watcher_fd readable in ms milliseconds even when no file event
 * is pending: a one-shot wake-up for a caller with work of its own to try
 * again (watch mode's plugins whose files kept changing through their
 * builds). The hb_watcher_process call after it is due delivers it (and
 * returns 0 unless files changed too). A later call replaces an earlier
 * one. */
int hb_watcher_wake_in(hb_watcher *w, unsigned ms);

/* Text of the last error, or "" . Valid until the next call on w. */
const char *hb_watcher_last_error(const hb_watcher *w);

/* Number of directories watched and paths tracked right now. */
size_t hb_watcher_watch_count(const hb_watcher *w);
size_t hb_watcher_file_count(const hb_watcher *w);

/* Test hook: behave as if the kernel reported IN_Q_OVERFLOW now. */
void hb__watcher_simulate_overflow(hb_watcher *w);

#endif /* HB_WATCHER_H */
