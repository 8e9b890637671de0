/*
 * watcher/watcher_int.h - private: the watcher's state, shared by its rooms.
 *
 *   watcher.c  the public API, options, patterns, errors, the event loop
 *   pathmap.c  path-keyed map (checksums, dirty set) and the wd <-> path table
 *   tree.c     the recursive watch set: walking, directories and roots that
 *              come and go
 *   settle.c   the quiet window, the dirty set, checksums and reconciling
 *              them into a change set
 *   files.c    files outside the roots that are followed too
 */
#ifndef HB_WATCHER_INT_H
#define HB_WATCHER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/inotify.h>
#include <sys/types.h>
#include <time.h>

#include "fileid.h"
#include "util.h"
#include "watcher.h"

#define DEFAULT_QUIET_MS 20u
#define DEFAULT_MAX_DELAY_MS 1000u
#define DEFAULT_MAX_WATCHES 65536u
#define DEFAULT_MAX_FILES 200000u
#define MAX_WARNINGS 64u
#define MAX_READS_PER_PROCESS 64

/* Directories only: events on the files inside, and on the directory itself
 * (a root being deleted or moved). IN_EXCL_UNLINK: no events for files that
 * were unlinked but are still open. IN_DONT_FOLLOW: a symlink is never
 * resolved (the walk does not hand us symlinks anyway; this closes the race
 * where a directory is replaced by a symlink between readdir and the add). */
#define WATCH_MASK                                                              \
    (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |     \
     IN_DELETE_SELF | IN_MOVE_SELF | IN_MODIFY | IN_ATTRIB | IN_ONLYDIR |       \
     IN_DONT_FOLLOW | IN_EXCL_UNLINK)

/* ---- path-keyed map (pathmap.c) ------------------------------------------
 * Open addressing, linear probing, tombstones. Values are pointers to
 * structs whose first member is the char *path key, so one map type serves
 * both the checksum map and the dirty set. */
#define TOMB ((void *)(uintptr_t)1)

struct pmap {
    void **slots;
    size_t cap;  /* power of two, or 0 */
    size_t live;
    size_t tombs;
};

void *hb__w_pmap_get(const struct pmap *m, const char *key);
int hb__w_pmap_put(struct pmap *m, void *v); /* v's key must not be present */
void *hb__w_pmap_del(struct pmap *m, const char *key);
/* The map owns its entries' memory: a new zeroed entry of size bytes
 * holding a copy of path, put in m (NULL, m unchanged, when out of memory);
 * removing and freeing every entry at or below prefix; freeing every entry
 * and the slots, leaving m empty. */
void *hb__w_pmap_add(struct pmap *m, const char *path, size_t size);
void hb__w_pmap_del_under(struct pmap *m, const char *prefix);
void hb__w_pmap_clear(struct pmap *m);
/* Whether path is prefix itself or lies below it. */
bool hb__w_path_under(const char *path, const char *prefix);

/* ---- the watcher's state -------------------------------------------------- */

struct fentry { /* one tracked path */
    char *path;
    bool is_dir;
    bool racy; /* mtime too close to when it was hashed for the stat fast path */
    uint32_t gen;
    hb_file_id id; /* when hash was taken (util/fileid.h) */
    char hash[HB_SHA256_HEX];
};

struct dirty { /* one path to reconcile */
    char *path;
    bool subtree; /* a directory went away: recheck everything below */
};

struct wdir { /* one inotify watch; the array is sorted by wd */
    int wd;
    uint32_t gen;
    char *path;
    bool flat; /* a followed file's directory outside the roots (files.c) */
};

struct root {
    char *path;
    int wd;
    bool gone;
};

struct awaited { /* a root that went away, until it is back */
    char *path;
    int parent_wd; /* IN_CREATE | IN_MOVED_TO on its parent directory */
};

struct hb_watcher {
    int ifd, tfd, efd;
    unsigned quiet_ms, max_delay_ms;
    size_t max_watches, max_files;
    char **include;
    char **exclude; /* with the trailing '/' of dir-only patterns removed */
    bool *exclude_dir_only;
    size_t n_exclude;

    struct root *roots;
    size_t n_roots;
    struct wdir *dirs;
    size_t n_dirs, cap_dirs;
    struct pmap files;
    struct pmap dirty;
    struct pmap followed; /* hb_watcher_follow's paths (files.c) */
    uint32_t gen;

    bool pending, rescan_all, overflowed;
    bool settle_on_close; /* the option */
    bool write_done;      /* a tracked file's write completed: settle now */
    uint64_t first_ns, last_ns; /* first and last relevant event pending */
    bool timer_armed;
    uint64_t timer_deadline;
    uint64_t wake_ns; /* hb_watcher_wake_in's deadline; 0: none */

    hb_change *ch;
    size_t n_ch, cap_ch;
    char **warnings;
    size_t n_warnings, suppressed;
    char **gone;
    size_t n_gone;
    struct awaited *awaited;
    size_t n_awaited;

    char *last_error;
};

enum walk_mode {
    WALK_BASELINE,   /* add_root: record checksums, report nothing */
    WALK_MARK_DIRTY, /* a directory appeared: mark what is inside */
    WALK_RESCAN,     /* overflow: reconcile everything now */
};

struct pathstack {
    char **v;
    size_t n, cap;
};

/* ---- watcher.c --------------------------------------------------------------- */
int hb__w_set_error(hb_watcher *w, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void hb__w_add_warning(hb_watcher *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool hb__w_is_included(const hb_watcher *w, const char *name);
bool hb__w_is_excluded(const hb_watcher *w, const char *name, bool is_dir);

/* ---- wd <-> path (pathmap.c) ----------------------------------------------- */
struct wdir *hb__w_dir_find(hb_watcher *w, int wd);
void hb__w_dir_forget(hb_watcher *w, int wd); /* the kernel already dropped it */
struct root *hb__w_root_by_wd(hb_watcher *w, int wd);
/* Removes every watch at or below path. Their IN_IGNORED events arrive
 * later for wds we no longer know, and are dropped. */
void hb__w_drop_watches_under(hb_watcher *w, const char *path);
/* Watches one directory. Returns 1 when newly watched (or moved: path
 * updated), 0 when it already was under this path, -ENOENT-ish skips as
 * 0 with *wd_out -1, and fatal errors negative. */
int hb__w_watch_dir(hb_watcher *w, const char *path, bool fatal_access, int *wd_out);

/* ---- the watch set (tree.c) -------------------------------------------------- */
int hb__w_ps_push(struct pathstack *s, char *p);
void hb__w_ps_free(struct pathstack *s);
/* Watches top and every non-excluded directory below it (see tree.c). */
int hb__w_walk(hb_watcher *w, const char *top, enum walk_mode mode, bool top_fatal, int *top_wd);
void hb__w_mark_root_gone(hb_watcher *w, struct root *rt);
void hb__w_await_drop(hb_watcher *w, size_t i);
int hb__w_await_attach(hb_watcher *w, size_t i);
void hb__w_await_root(hb_watcher *w, const char *path);
/* An event on an awaited root's parent: the root may be back. */
int hb__w_root_back(hb_watcher *w, const struct inotify_event *ev);
/* Forgets everything at or below path without reporting it. */
void hb__w_forget_tree(hb_watcher *w, const char *path);

/* ---- settling (settle.c) ----------------------------------------------------- */
void hb__w_note_activity(hb_watcher *w);
uint64_t hb__w_deadline_ns(const hb_watcher *w);
int hb__w_update_timer(hb_watcher *w);
void hb__w_fentry_free(struct fentry *e);
/* Reconciles one path with the map. report=false records a baseline.
 * fast allows the stat fast path (used by rescans of everything). */
int hb__w_check_path(hb_watcher *w, const char *path, bool report, bool fast);
int hb__w_mark_dirty(hb_watcher *w, const char *path, bool subtree);
void hb__w_clear_dirty(hb_watcher *w);
void hb__w_discard_output(hb_watcher *w);
/* Settles everything pending into *out: 1 when it is non-empty, 0, or a
 * negative -errno. */
int hb__w_reconcile(hb_watcher *w, hb_change_set *out);

/* ---- followed files outside the roots (files.c) -------------------------- */
bool hb__w_is_followed(const hb_watcher *w, const char *path);
/* An event in a flat directory: marks a followed file dirty. */
int hb__w_followed_event(hb_watcher *w, const struct wdir *d, const struct inotify_event *ev);
/* An overflow: reconciles every followed file outside the roots. */
int hb__w_followed_rescan(hb_watcher *w);

#endif /* HB_WATCHER_INT_H */
