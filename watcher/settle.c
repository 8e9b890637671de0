/*
 * watcher/settle.c - from dirty paths to a settled change set: the quiet
 * window (timerfd), the checksum of every tracked file, and reconciling
 * each dirty path (or, after an overflow, everything) against the file
 * system. Content decides, not events.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "watcher_int.h"

/* ---- timer and activity ------------------------------------------------- */

void hb__w_note_activity(hb_watcher *w)
{
    uint64_t t = hb__now_ns();
    if (!w->pending)
        w->first_ns = t;
    w->pending = true;
    w->last_ns = t;
}

uint64_t hb__w_deadline_ns(const hb_watcher *w)
{
    if (w->write_done)
        return w->last_ns; /* a write completed: due now (settle_on_close) */
    uint64_t quiet = w->last_ns + (uint64_t)w->quiet_ms * 1000000u;
    uint64_t cap = w->first_ns + (uint64_t)w->max_delay_ms * 1000000u;
    return quiet < cap ? quiet : cap;
}

static int set_timer(hb_watcher *w, uint64_t deadline, bool arm)
{
    struct itimerspec its = {0};
    if (arm) {
        its.it_value.tv_sec = (time_t)(deadline / 1000000000u);
        its.it_value.tv_nsec = (long)(deadline % 1000000000u);
        if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
            its.it_value.tv_nsec = 1; /* all zero would disarm */
    }
    /* Setting the timer also clears an expiry not yet read, so a disarmed
     * timer never leaves the epoll fd readable. */
    if (timerfd_settime(w->tfd, arm ? TFD_TIMER_ABSTIME : 0, &its, NULL) < 0)
        return hb__w_set_error(w, -errno, "timerfd_settime: %s", strerror(errno));
    w->timer_armed = arm;
    w->timer_deadline = deadline;
    return 0;
}

int hb__w_update_timer(hb_watcher *w)
{
    /* The earlier of the pending set's deadline and a wake-up asked for. */
    uint64_t d = w->pending ? hb__w_deadline_ns(w) : 0;
    if (w->wake_ns && (!d || w->wake_ns < d))
        d = w->wake_ns;
    if (!d)
        return w->timer_armed ? set_timer(w, 0, false) : 0;
    if (w->timer_armed && w->timer_deadline == d)
        return 0;
    return set_timer(w, d, true);
}

/* ---- changes and the checksum map ------------------------------------------ */

static int add_change(hb_watcher *w, const char *path, hb_change_kind kind, bool is_dir)
{
    if (w->n_ch == w->cap_ch) {
        size_t cap = w->cap_ch ? w->cap_ch * 2 : 16;
        hb_change *nc = realloc(w->ch, cap * sizeof(*nc));
        if (!nc)
            return hb__w_set_error(w, -ENOMEM, "out of memory");
        w->ch = nc;
        w->cap_ch = cap;
    }
    char *p = strdup(path);
    if (!p)
        return hb__w_set_error(w, -ENOMEM, "out of memory");
    w->ch[w->n_ch++] = (hb_change){.path = p, .kind = kind, .is_dir = is_dir};
    return 0;
}

void hb__w_fentry_free(struct fentry *e)
{
    if (e) {
        free(e->path);
        free(e);
    }
}

static int forget_path(hb_watcher *w, const char *path, bool report)
{
    struct fentry *e = hb__w_pmap_del(&w->files, path);
    if (!e)
        return 0;
    int r = report ? add_change(w, path, HB_CHANGE_DELETED, e->is_dir) : 0;
    hb__w_fentry_free(e);
    return r;
}

static int new_entry(hb_watcher *w, const char *path, bool is_dir, struct fentry **out)
{
    if (w->files.live >= w->max_files)
        return hb__w_set_error(w, -E2BIG,
                         "cannot track %s: more than max_files = %zu files and directories; "
                         "raise the limit or exclude directories",
                         path, w->max_files);
    struct fentry *e = hb__w_pmap_add(&w->files, path, sizeof(*e));
    if (!e)
        return hb__w_set_error(w, -ENOMEM, "out of memory");
    e->is_dir = is_dir;
    *out = e;
    return 0;
}

static void record_stat(struct fentry *e, const struct stat *st)
{
    e->id = hb__file_id(st);
    /* A write in the same timestamp tick as our hash would leave the stat
     * identical ("racy git"): such entries are always re-hashed. */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    e->racy = st->st_mtim.tv_sec >= now.tv_sec - 2 || st->st_ctim.tv_sec >= now.tv_sec - 2;
}

static bool same_stat(const struct fentry *e, const struct stat *st)
{
    return !e->racy && hb__file_id_same(&e->id, st);
}

enum probe { PROBE_NONE, PROBE_FILE, PROBE_DIR };

/* What is at path now: a directory (not through a symlink), a regular file
 * (possibly through a symlink), or nothing we track. */
static enum probe probe_path(const char *path, struct stat *st)
{
    if (lstat(path, st) < 0)
        return PROBE_NONE;
    if (S_ISDIR(st->st_mode))
        return PROBE_DIR;
    if (S_ISLNK(st->st_mode) && stat(path, st) < 0)
        return PROBE_NONE;
    return S_ISREG(st->st_mode) ? PROBE_FILE : PROBE_NONE;
}

/* Reconciles one path with the map. report=false records a baseline.
 * fast allows the stat fast path (used by rescans of everything). */
int hb__w_check_path(hb_watcher *w, const char *path, bool report, bool fast)
{
    struct stat st;
    enum probe kind = probe_path(path, &st);
    struct fentry *e = hb__w_pmap_get(&w->files, path);
    int r;

    if (kind == PROBE_DIR) {
        if (e && e->is_dir) {
            e->gen = w->gen;
            return 0;
        }
        if (e && (r = forget_path(w, path, report)) < 0)
            return r;
        if ((r = new_entry(w, path, true, &e)) < 0)
            return r;
        e->gen = w->gen;
        return report ? add_change(w, path, HB_CHANGE_CREATED, true) : 0;
    }
    if (kind == PROBE_NONE)
        return forget_path(w, path, report);

    if (e && e->is_dir) {
        if ((r = forget_path(w, path, report)) < 0)
            return r;
        e = NULL;
    }
    if (e && fast && same_stat(e, &st)) {
        e->gen = w->gen;
        return 0;
    }
    char hash[HB_SHA256_HEX];
    r = hb__sha256_file_cached(path, hash);
    if (r == -ENOENT || r == -ENOTDIR || r == -ELOOP)
        return forget_path(w, path, report); /* gone between stat and open */
    if (r < 0) {
        hb__w_add_warning(w, "cannot read %s: %s (ignored)", path, strerror(-r));
        if (e)
            e->gen = w->gen; /* keep the old checksum: do not report a deletion */
        return 0;
    }
    hb_change_kind change = HB_CHANGE_MODIFIED;
    if (!e) {
        if ((r = new_entry(w, path, false, &e)) < 0)
            return r;
        change = HB_CHANGE_CREATED;
    } else if (strcmp(e->hash, hash) == 0) {
        change = 0;
    }
    memcpy(e->hash, hash, sizeof(hash));
    record_stat(e, &st);
    e->gen = w->gen;
    return report && change ? add_change(w, path, change, false) : 0;
}

int hb__w_mark_dirty(hb_watcher *w, const char *path, bool subtree)
{
    struct dirty *d = hb__w_pmap_get(&w->dirty, path);
    if (d) {
        d->subtree |= subtree;
        return 0;
    }
    if (w->dirty.live >= w->max_files) {
        /* Too much churn to track path by path: look at everything. */
        w->rescan_all = true;
        return 0;
    }
    d = hb__w_pmap_add(&w->dirty, path, sizeof(*d));
    if (!d)
        return hb__w_set_error(w, -ENOMEM, "out of memory");
    d->subtree = subtree;
    return 0;
}

void hb__w_clear_dirty(hb_watcher *w)
{
    hb__w_pmap_clear(&w->dirty);
}

/* ---- hb__w_reconcile ------------------------------------------------------------- */

/* Paths in the map at or below prefix (copies, since checking edits the map). */
static int collect_under(hb_watcher *w, const char *prefix, struct pathstack *out)
{
    for (size_t i = 0; i < w->files.cap; i++) {
        struct fentry *e = w->files.slots[i];
        if (!e || e == TOMB || !hb__w_path_under(e->path, prefix))
            continue;
        char *p = strdup(e->path);
        if (!p || hb__w_ps_push(out, p) < 0) {
            free(p);
            return hb__w_set_error(w, -ENOMEM, "out of memory");
        }
    }
    return 0;
}

static bool under_live_root(const hb_watcher *w, const char *path)
{
    for (size_t i = 0; i < w->n_roots; i++)
        if (!w->roots[i].gone && hb__w_path_under(path, w->roots[i].path))
            return true;
    return false;
}

static int rescan_all(hb_watcher *w)
{
    hb__w_clear_dirty(w);
    int r;
    for (size_t i = 0; i < w->n_roots; i++) {
        if (w->roots[i].gone)
            continue;
        if ((r = hb__w_walk(w, w->roots[i].path, WALK_RESCAN, false, NULL)) < 0)
            return r;
    }
    if ((r = hb__w_followed_rescan(w)) < 0)
        return r;
    struct pathstack stale = {0};
    for (size_t i = 0; i < w->files.cap; i++) {
        struct fentry *e = w->files.slots[i];
        if (!e || e == TOMB || e->gen == w->gen || !under_live_root(w, e->path))
            continue;
        char *p = strdup(e->path);
        if (!p || hb__w_ps_push(&stale, p) < 0) {
            free(p);
            hb__w_ps_free(&stale);
            return hb__w_set_error(w, -ENOMEM, "out of memory");
        }
    }
    r = 0;
    for (size_t i = 0; i < stale.n && r >= 0; i++)
        r = forget_path(w, stale.v[i], true);
    hb__w_ps_free(&stale);
    /* Directories that vanished while events were lost. */
    size_t j = 0;
    for (size_t i = 0; i < w->n_dirs; i++) {
        if (w->dirs[i].gen != w->gen && under_live_root(w, w->dirs[i].path)) {
            inotify_rm_watch(w->ifd, w->dirs[i].wd);
            free(w->dirs[i].path);
            continue;
        }
        w->dirs[j++] = w->dirs[i];
    }
    w->n_dirs = j;
    return r;
}

static int reconcile_dirty(hb_watcher *w)
{
    struct pmap dirty = w->dirty;
    memset(&w->dirty, 0, sizeof(w->dirty));
    int r = 0;
    for (size_t i = 0; i < dirty.cap && r >= 0; i++) {
        struct dirty *d = dirty.slots[i];
        if (!d || d == TOMB)
            continue;
        if (d->subtree) {
            struct pathstack below = {0};
            r = collect_under(w, d->path, &below);
            for (size_t k = 0; k < below.n && r >= 0; k++)
                r = hb__w_check_path(w, below.v[k], true, false);
            hb__w_ps_free(&below);
        }
        if (r >= 0)
            r = hb__w_check_path(w, d->path, true, false);
    }
    w->dirty = dirty;
    hb__w_clear_dirty(w);
    return r;
}

static int reconcile_gone_roots(hb_watcher *w)
{
    size_t j = 0;
    int r = 0;
    for (size_t i = 0; i < w->n_roots; i++) {
        struct root *rt = &w->roots[i];
        if (!rt->gone || r < 0) {
            w->roots[j++] = *rt;
            continue;
        }
        struct pathstack below = {0};
        r = collect_under(w, rt->path, &below);
        for (size_t k = 0; k < below.n && r >= 0; k++)
            r = forget_path(w, below.v[k], true);
        hb__w_ps_free(&below);
        char **ng = realloc(w->gone, (w->n_gone + 1) * sizeof(*ng));
        if (r >= 0 && !ng)
            r = hb__w_set_error(w, -ENOMEM, "out of memory");
        if (ng)
            w->gone = ng;
        if (r < 0) {
            w->roots[j++] = *rt;
            continue;
        }
        w->gone[w->n_gone++] = rt->path; /* ownership moves to the set */
        hb__w_await_root(w, rt->path);
    }
    w->n_roots = j;
    return r;
}

static int cmp_change(const void *a, const void *b)
{
    const hb_change *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    if (c)
        return c;
    /* A path that changed type: the deletion comes first. */
    int kx = x->kind == HB_CHANGE_DELETED ? 0 : 1, ky = y->kind == HB_CHANGE_DELETED ? 0 : 1;
    return kx - ky;
}

void hb__w_discard_output(hb_watcher *w)
{
    for (size_t i = 0; i < w->n_ch; i++)
        free(w->ch[i].path);
    w->n_ch = 0;
}

int hb__w_reconcile(hb_watcher *w, hb_change_set *out)
{
    w->gen++;
    int r = 0;
    bool overflowed = w->overflowed;
    if (w->rescan_all)
        r = rescan_all(w);
    else
        r = reconcile_dirty(w);
    if (r >= 0)
        r = reconcile_gone_roots(w);
    w->rescan_all = w->overflowed = false;
    w->pending = w->write_done = false;
    /* A root already back (re-created before its parent was watched). */
    for (size_t i = 0; i < w->n_awaited && r >= 0;) {
        int a = hb__w_await_attach(w, i);
        if (a < 0)
            r = a;
        else if (a == 0)
            i++;
    }
    if (r < 0) {
        hb__w_discard_output(w);
        return r;
    }
    if (w->suppressed) {
        size_t n = w->suppressed;
        w->suppressed = 0;
        w->n_warnings--; /* make room: MAX_WARNINGS is never exceeded */
        free(w->warnings[w->n_warnings]);
        hb__w_add_warning(w, "%zu more warnings not shown", n + 1);
    }
    if (!w->n_ch && !w->n_gone && !w->n_warnings && !overflowed)
        return 0;
    if (w->n_ch)
        qsort(w->ch, w->n_ch, sizeof(*w->ch), cmp_change);
    hb_change_set cs;
    hb_change_set_init(&cs);
    cs.changes = w->ch;
    cs.n_changes = w->n_ch;
    cs.overflowed = overflowed;
    cs.root_gone = w->n_gone > 0;
    cs.gone_roots = w->gone;
    cs.n_gone_roots = w->n_gone;
    cs.warnings = w->warnings;
    cs.n_warnings = w->n_warnings;
    w->ch = NULL;
    w->n_ch = w->cap_ch = 0;
    w->gone = NULL;
    w->n_gone = 0;
    w->warnings = NULL;
    w->n_warnings = 0;
    *out = cs;
    return 1;
}
