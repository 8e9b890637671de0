/*
 * watcher/watcher.c - see watcher.h for the contract.
 *
 * Design: inotify events are not interpreted one by one. An event only marks
 * a path "dirty" (or, for a directory that went away, a whole subtree). When
 * the quiet window expires, every dirty path is reconciled against the file
 * system and the checksum map: exists and hash differs -> modified, new ->
 * created, gone -> deleted, same -> nothing. That makes every editor's save
 * dance (probe files, backups, renames, delete+create) come out as the net
 * effect, and an overflow is the same reconcile over everything.
 *
 * The one thing that cannot wait for the window is watching a directory that
 * just appeared: its watch is added at once and its contents scanned after
 * the watch landed, so nothing created inside it in between is missed.
 */
#include "watcher.h"

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

#include "util.h"

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

static const char *const default_include[] = {
    "*.c", "*.h", "*.inc", "*.cc", "*.cpp", "*.cxx", "*.hh", "*.hpp", "*.hxx",
    "hotbox.toml", "hotbox.json", "plugin.json", NULL,
};

/* A trailing '/' means "directories only", so the build-directory pattern
 * does not hide a source file called build_config.h. */
static const char *const default_exclude[] = {
    ".git/", ".hg/", ".svn/", ".hotbox/", "build*/", "node_modules/",
    "*.swp", "*.swx", "*.swo", "*~", ".#*", "#*#", "4913",
    "*.tmp", "*.o", "*.so", "*.d", NULL,
};

/* ---- path-keyed hash map ------------------------------------------------ */

/* Open addressing, linear probing, tombstones. Values are pointers to
 * structs whose first member is the char *path key, so one map type serves
 * both the checksum map and the dirty set. */
#define TOMB ((void *)(uintptr_t)1)

struct pmap {
    void **slots;
    size_t cap;  /* power of two, or 0 */
    size_t live;
    size_t tombs;
};

static const char *pkey(const void *v) { return *(char *const *)v; }

static uint64_t phash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void **pmap_lookup(const struct pmap *m, const char *key)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = phash(key) & mask;; i = (i + 1) & mask) {
        void *v = m->slots[i];
        if (!v)
            return NULL;
        if (v != TOMB && strcmp(pkey(v), key) == 0)
            return &m->slots[i];
    }
}

static void *pmap_get(const struct pmap *m, const char *key)
{
    void **s = pmap_lookup(m, key);
    return s ? *s : NULL;
}

static int pmap_resize(struct pmap *m, size_t cap)
{
    void **slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return -ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        void *v = m->slots[i];
        if (!v || v == TOMB)
            continue;
        size_t j = phash(pkey(v)) & (cap - 1);
        while (slots[j])
            j = (j + 1) & (cap - 1);
        slots[j] = v;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    m->tombs = 0;
    return 0;
}

/* Inserts v, whose key must not be present. */
static int pmap_put(struct pmap *m, void *v)
{
    if ((m->live + m->tombs + 1) * 4 >= m->cap * 3) {
        size_t cap = m->cap ? m->cap : 64;
        while ((m->live + 1) * 2 >= cap)
            cap *= 2;
        int r = pmap_resize(m, cap);
        if (r < 0)
            return r;
    }
    size_t mask = m->cap - 1;
    size_t i = phash(pkey(v)) & mask;
    while (m->slots[i] && m->slots[i] != TOMB)
        i = (i + 1) & mask;
    if (m->slots[i] == TOMB)
        m->tombs--;
    m->slots[i] = v;
    m->live++;
    return 0;
}

static void *pmap_del(struct pmap *m, const char *key)
{
    void **s = pmap_lookup(m, key);
    if (!s)
        return NULL;
    void *v = *s;
    *s = TOMB;
    m->live--;
    m->tombs++;
    return v;
}

/* Whether path is prefix itself or lies below it. */
static bool path_under(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* ---- watcher state ------------------------------------------------------ */

struct fentry { /* one tracked path */
    char *path;
    bool is_dir;
    bool racy; /* mtime too close to when it was hashed for the stat fast path */
    uint32_t gen;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
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
    uint32_t gen;

    bool pending, rescan_all, overflowed;
    uint64_t first_ns, last_ns; /* first and last relevant event pending */
    bool timer_armed;
    uint64_t timer_deadline;

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

static uint64_t now_ns(void) { return hb__now_ns(); }

void hb_watcher_options_init(hb_watcher_options *opts)
{
    hb_watcher_options o = HB_WATCHER_OPTIONS_INIT;
    *opts = o;
}

const char *const *hb_watcher_default_include(void) { return default_include; }
const char *const *hb_watcher_default_exclude(void) { return default_exclude; }

const char *hb_change_kind_name(hb_change_kind kind)
{
    switch (kind) {
    case HB_CHANGE_CREATED: return "created";
    case HB_CHANGE_MODIFIED: return "modified";
    case HB_CHANGE_DELETED: return "deleted";
    }
    return "unknown";
}

void hb_change_set_init(hb_change_set *cs) { memset(cs, 0, sizeof(*cs)); }

void hb_change_set_release(hb_change_set *cs)
{
    if (!cs)
        return;
    for (size_t i = 0; i < cs->n_changes; i++)
        free(cs->changes[i].path);
    free(cs->changes);
    for (size_t i = 0; i < cs->n_gone_roots; i++)
        free(cs->gone_roots[i]);
    free(cs->gone_roots);
    for (size_t i = 0; i < cs->n_warnings; i++)
        free(cs->warnings[i]);
    free(cs->warnings);
    hb_change_set_init(cs);
}

static int set_error(hb_watcher *w, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int set_error(hb_watcher *w, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    free(w->last_error);
    w->last_error = msg;
    return code;
}

static void add_warning(hb_watcher *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_warning(hb_watcher *w, const char *fmt, ...)
{
    if (w->n_warnings >= MAX_WARNINGS) {
        w->suppressed++;
        return;
    }
    char **nw = realloc(w->warnings, (w->n_warnings + 1) * sizeof(*nw));
    if (!nw)
        return; /* a lost warning is not worth failing the watcher for */
    w->warnings = nw;
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (msg)
        w->warnings[w->n_warnings++] = msg;
}

/* ---- patterns ----------------------------------------------------------- */

static bool is_included(const hb_watcher *w, const char *name)
{
    for (char **p = w->include; *p; p++)
        if (fnmatch(*p, name, 0) == 0)
            return true;
    return false;
}

static bool is_excluded(const hb_watcher *w, const char *name, bool is_dir)
{
    for (size_t i = 0; i < w->n_exclude; i++) {
        if (w->exclude_dir_only[i] && !is_dir)
            continue;
        if (fnmatch(w->exclude[i], name, 0) == 0)
            return true;
    }
    return false;
}

static int add_patterns(char ***v, size_t *n, const char *const *src)
{
    for (; src && *src; src++) {
        char **nv = realloc(*v, (*n + 2) * sizeof(**v));
        if (!nv)
            return -ENOMEM;
        *v = nv;
        if (!(nv[*n] = strdup(*src)))
            return -ENOMEM;
        nv[++*n] = NULL;
    }
    return 0;
}

/* ---- timer and activity ------------------------------------------------- */

static void note_activity(hb_watcher *w)
{
    uint64_t t = now_ns();
    if (!w->pending)
        w->first_ns = t;
    w->pending = true;
    w->last_ns = t;
}

static uint64_t deadline_ns(const hb_watcher *w)
{
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
        return set_error(w, -errno, "timerfd_settime: %s", strerror(errno));
    w->timer_armed = arm;
    w->timer_deadline = deadline;
    return 0;
}

static int update_timer(hb_watcher *w)
{
    if (!w->pending)
        return w->timer_armed ? set_timer(w, 0, false) : 0;
    uint64_t d = deadline_ns(w);
    if (w->timer_armed && w->timer_deadline == d)
        return 0;
    return set_timer(w, d, true);
}

/* ---- watches ------------------------------------------------------------ */

static size_t dir_pos(const hb_watcher *w, int wd) /* first index with dirs[i].wd >= wd */
{
    size_t lo = 0, hi = w->n_dirs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (w->dirs[mid].wd < wd)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct wdir *dir_find(hb_watcher *w, int wd)
{
    size_t i = dir_pos(w, wd);
    return i < w->n_dirs && w->dirs[i].wd == wd ? &w->dirs[i] : NULL;
}

static void dir_forget(hb_watcher *w, int wd) /* the kernel already dropped it */
{
    size_t i = dir_pos(w, wd);
    if (i >= w->n_dirs || w->dirs[i].wd != wd)
        return;
    free(w->dirs[i].path);
    memmove(&w->dirs[i], &w->dirs[i + 1], (w->n_dirs - i - 1) * sizeof(*w->dirs));
    w->n_dirs--;
}

static struct root *root_by_wd(hb_watcher *w, int wd)
{
    for (size_t i = 0; i < w->n_roots; i++)
        if (w->roots[i].wd == wd && !w->roots[i].gone)
            return &w->roots[i];
    return NULL;
}

/* Removes every watch at or below path. Their IN_IGNORED events arrive
 * later for wds we no longer know, and are dropped. */
static void drop_watches_under(hb_watcher *w, const char *path)
{
    size_t j = 0;
    for (size_t i = 0; i < w->n_dirs; i++) {
        if (path_under(w->dirs[i].path, path)) {
            inotify_rm_watch(w->ifd, w->dirs[i].wd); /* EINVAL if already gone: fine */
            free(w->dirs[i].path);
            continue;
        }
        w->dirs[j++] = w->dirs[i];
    }
    w->n_dirs = j;
}

static void read_knob(const char *path, char *out, size_t size)
{
    void *data = NULL;
    size_t len = 0;
    snprintf(out, size, "unknown");
    if (hb__read_file(path, 64, &data, &len) == 0) {
        snprintf(out, size, "%.*s", (int)strcspn(data, "\n"), (char *)data);
        free(data);
    }
}

static int kernel_watch_limit_error(hb_watcher *w, const char *path)
{
    /* The global sysctl, and the per-user-namespace one (which can be lower
     * inside a container). */
    char cur[32], ns[32], nsnote[160] = "";
    read_knob("/proc/sys/fs/inotify/max_user_watches", cur, sizeof(cur));
    read_knob("/proc/sys/user/max_inotify_watches", ns, sizeof(ns));
    if (strcmp(ns, "unknown") != 0 && strcmp(ns, cur) != 0)
        snprintf(nsnote, sizeof(nsnote), "; this user namespace allows %s "
                 "(/proc/sys/user/max_inotify_watches)", ns);
    unsigned long suggest = 524288, v = strtoul(cur, NULL, 10);
    if (v * 2 > suggest)
        suggest = v * 2;
    return set_error(w, -ENOSPC,
                     "cannot watch %s: the kernel's inotify watch limit is reached "
                     "(fs.inotify.max_user_watches = %s, shared by every program of this "
                     "user%s; hotbox watches %zu directories). Raise it with "
                     "`sudo sysctl fs.inotify.max_user_watches=%lu` (persist it in "
                     "/etc/sysctl.d/), or exclude large directories",
                     path, cur, nsnote, w->n_dirs, suggest);
}

/* Watches one directory. Returns 1 when newly watched (or moved: path
 * updated), 0 when it already was under this path, -ENOENT-ish skips as
 * 0 with *wd_out -1, and fatal errors negative. */
static int watch_dir(hb_watcher *w, const char *path, bool fatal_access, int *wd_out)
{
    *wd_out = -1;
    int wd = inotify_add_watch(w->ifd, path, WATCH_MASK);
    if (wd < 0) {
        int e = errno;
        if (e == ENOSPC)
            return kernel_watch_limit_error(w, path);
        if ((e == EACCES || e == EPERM) && !fatal_access) {
            add_warning(w, "permission denied: %s (not watched)", path);
            return 0;
        }
        if ((e == ENOENT || e == ENOTDIR || e == ELOOP) && !fatal_access)
            return 0; /* vanished or replaced by a non-directory: events will say */
        return set_error(w, -e, "cannot watch %s: %s", path, strerror(e));
    }
    *wd_out = wd;
    size_t i = dir_pos(w, wd);
    if (i < w->n_dirs && w->dirs[i].wd == wd) {
        w->dirs[i].gen = w->gen;
        if (strcmp(w->dirs[i].path, path) == 0)
            return 0;
        char *p = strdup(path); /* the same directory under a new name */
        if (!p)
            return set_error(w, -ENOMEM, "out of memory");
        free(w->dirs[i].path);
        w->dirs[i].path = p;
        return 1;
    }
    if (w->n_dirs >= w->max_watches) {
        inotify_rm_watch(w->ifd, wd);
        return set_error(w, -E2BIG,
                         "cannot watch %s: more than max_watches = %zu directories; "
                         "raise the limit or exclude directories",
                         path, w->max_watches);
    }
    if (w->n_dirs == w->cap_dirs) {
        size_t cap = w->cap_dirs ? w->cap_dirs * 2 : 64;
        struct wdir *nd = realloc(w->dirs, cap * sizeof(*nd));
        if (!nd) {
            inotify_rm_watch(w->ifd, wd);
            return set_error(w, -ENOMEM, "out of memory");
        }
        w->dirs = nd;
        w->cap_dirs = cap;
    }
    char *p = strdup(path);
    if (!p) {
        inotify_rm_watch(w->ifd, wd);
        return set_error(w, -ENOMEM, "out of memory");
    }
    memmove(&w->dirs[i + 1], &w->dirs[i], (w->n_dirs - i) * sizeof(*w->dirs));
    w->dirs[i] = (struct wdir){.wd = wd, .gen = w->gen, .path = p};
    w->n_dirs++;
    return 1;
}

/* ---- changes and the checksum map ------------------------------------------ */

static int add_change(hb_watcher *w, const char *path, hb_change_kind kind, bool is_dir)
{
    if (w->n_ch == w->cap_ch) {
        size_t cap = w->cap_ch ? w->cap_ch * 2 : 16;
        hb_change *nc = realloc(w->ch, cap * sizeof(*nc));
        if (!nc)
            return set_error(w, -ENOMEM, "out of memory");
        w->ch = nc;
        w->cap_ch = cap;
    }
    char *p = strdup(path);
    if (!p)
        return set_error(w, -ENOMEM, "out of memory");
    w->ch[w->n_ch++] = (hb_change){.path = p, .kind = kind, .is_dir = is_dir};
    return 0;
}

static void fentry_free(struct fentry *e)
{
    if (e) {
        free(e->path);
        free(e);
    }
}

static int forget_path(hb_watcher *w, const char *path, bool report)
{
    struct fentry *e = pmap_del(&w->files, path);
    if (!e)
        return 0;
    int r = report ? add_change(w, path, HB_CHANGE_DELETED, e->is_dir) : 0;
    fentry_free(e);
    return r;
}

static int new_entry(hb_watcher *w, const char *path, bool is_dir, struct fentry **out)
{
    if (w->files.live >= w->max_files)
        return set_error(w, -E2BIG,
                         "cannot track %s: more than max_files = %zu files and directories; "
                         "raise the limit or exclude directories",
                         path, w->max_files);
    struct fentry *e = calloc(1, sizeof(*e));
    if (!e || !(e->path = strdup(path))) {
        free(e);
        return set_error(w, -ENOMEM, "out of memory");
    }
    e->is_dir = is_dir;
    int r = pmap_put(&w->files, e);
    if (r < 0) {
        fentry_free(e);
        return set_error(w, r, "out of memory");
    }
    *out = e;
    return 0;
}

static void record_stat(struct fentry *e, const struct stat *st)
{
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    e->size = st->st_size;
    e->mtime = st->st_mtim;
    e->ctime = st->st_ctim;
    /* A write in the same timestamp tick as our hash would leave the stat
     * identical ("racy git"): such entries are always re-hashed. */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    e->racy = st->st_mtim.tv_sec >= now.tv_sec - 2 || st->st_ctim.tv_sec >= now.tv_sec - 2;
}

static bool same_stat(const struct fentry *e, const struct stat *st)
{
    return !e->racy && e->dev == st->st_dev && e->ino == st->st_ino && e->size == st->st_size &&
           e->mtime.tv_sec == st->st_mtim.tv_sec && e->mtime.tv_nsec == st->st_mtim.tv_nsec &&
           e->ctime.tv_sec == st->st_ctim.tv_sec && e->ctime.tv_nsec == st->st_ctim.tv_nsec;
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
static int check_path(hb_watcher *w, const char *path, bool report, bool fast)
{
    struct stat st;
    enum probe kind = probe_path(path, &st);
    struct fentry *e = pmap_get(&w->files, path);
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
    r = hb__sha256_file(path, hash);
    if (r == -ENOENT || r == -ENOTDIR || r == -ELOOP)
        return forget_path(w, path, report); /* gone between stat and open */
    if (r < 0) {
        add_warning(w, "cannot read %s: %s (ignored)", path, strerror(-r));
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

static int mark_dirty(hb_watcher *w, const char *path, bool subtree)
{
    struct dirty *d = pmap_get(&w->dirty, path);
    if (d) {
        d->subtree |= subtree;
        return 0;
    }
    if (w->dirty.live >= w->max_files) {
        /* Too much churn to track path by path: look at everything. */
        w->rescan_all = true;
        return 0;
    }
    d = calloc(1, sizeof(*d));
    if (!d || !(d->path = strdup(path))) {
        free(d);
        return set_error(w, -ENOMEM, "out of memory");
    }
    d->subtree = subtree;
    int r = pmap_put(&w->dirty, d);
    if (r < 0) {
        free(d->path);
        free(d);
        return set_error(w, r, "out of memory");
    }
    return 0;
}

static void clear_dirty(hb_watcher *w)
{
    for (size_t i = 0; i < w->dirty.cap; i++) {
        struct dirty *d = w->dirty.slots[i];
        if (d && d != TOMB) {
            free(d->path);
            free(d);
        }
    }
    free(w->dirty.slots);
    memset(&w->dirty, 0, sizeof(w->dirty));
}

/* ---- walking a tree ------------------------------------------------------- */

struct pathstack {
    char **v;
    size_t n, cap;
};

static int ps_push(struct pathstack *s, char *p)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        char **nv = realloc(s->v, cap * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n++] = p;
    return 0;
}

static void ps_free(struct pathstack *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
}

static int visit(hb_watcher *w, const char *path, enum walk_mode mode)
{
    switch (mode) {
    case WALK_BASELINE: return check_path(w, path, false, false);
    case WALK_MARK_DIRTY: return mark_dirty(w, path, false);
    case WALK_RESCAN: return check_path(w, path, true, true);
    }
    return 0;
}

/* Scans one watched directory: pushes subdirectories, visits files. */
static int scan_dir(hb_watcher *w, const char *dir, enum walk_mode mode, struct pathstack *stack)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == EACCES || errno == EPERM)
            add_warning(w, "permission denied: %s (contents not watched)", dir);
        return 0; /* vanished: its parent's events say so */
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return set_error(w, -ENOMEM, "out of memory");
    }
    int r = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
            continue;
        unsigned char type = de->d_type;
        if (type == DT_UNKNOWN) {
            struct stat st;
            if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                continue;
            type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG
                 : S_ISLNK(st.st_mode)  ? DT_LNK : DT_UNKNOWN;
        }
        bool is_dir = type == DT_DIR;
        if (!is_dir && type != DT_REG && type != DT_LNK)
            continue;
        if (is_excluded(w, name, is_dir) || (!is_dir && !is_included(w, name)))
            continue;
        char *child = hb__path_join(dir, name);
        if (!child) {
            r = set_error(w, -ENOMEM, "out of memory");
            break;
        }
        if ((r = visit(w, child, mode)) < 0) {
            free(child);
            break;
        }
        if (!is_dir) {
            free(child);
            continue;
        }
        if ((r = ps_push(stack, child)) < 0) {
            free(child);
            r = set_error(w, r, "out of memory");
            break;
        }
    }
    closedir(d);
    return r;
}

/* Watches top and every non-excluded directory below it, adding each watch
 * before reading the directory so nothing created meanwhile is missed.
 * Symlinked directories are never descended (readdir reports them DT_LNK). */
static int walk(hb_watcher *w, const char *top, enum walk_mode mode, bool top_fatal, int *top_wd)
{
    struct pathstack stack = {0};
    int r = 0;
    char *first = strdup(top);
    if (!first || ps_push(&stack, first) < 0) {
        free(first);
        return set_error(w, -ENOMEM, "out of memory");
    }
    bool is_top = true;
    while (stack.n) {
        char *dir = stack.v[--stack.n];
        int wd;
        r = watch_dir(w, dir, is_top && top_fatal, &wd);
        if (is_top && top_wd)
            *top_wd = wd;
        /* An already-known watch under the same path was walked when it
         * appeared; only a rescan (or the first walk) reads it again. */
        bool descend = wd >= 0 && (r == 1 || mode != WALK_MARK_DIRTY);
        if (r >= 0 && descend)
            r = scan_dir(w, dir, mode, &stack);
        free(dir);
        is_top = false;
        if (r < 0)
            break;
        r = 0;
    }
    ps_free(&stack);
    return r;
}

/* ---- events --------------------------------------------------------------- */

static void mark_root_gone(hb_watcher *w, struct root *rt)
{
    rt->gone = true;
    drop_watches_under(w, rt->path);
    note_activity(w);
}

/* ---- roots that come back ------------------------------------------------ */

static void await_drop(hb_watcher *w, size_t i)
{
    int wd = w->awaited[i].parent_wd;
    free(w->awaited[i].path);
    memmove(&w->awaited[i], &w->awaited[i + 1], (w->n_awaited - i - 1) * sizeof(*w->awaited));
    w->n_awaited--;
    bool shared = false;
    for (size_t k = 0; k < w->n_awaited; k++)
        shared |= w->awaited[k].parent_wd == wd;
    if (!shared && wd >= 0 && !dir_find(w, wd))
        inotify_rm_watch(w->ifd, wd);
}

/* Watches the awaited root at index i again: its directory and files are
 * reported as created in the next change set. Returns 0 when it does not
 * exist (yet), 1 when it is watched again, or a negative -errno. */
static int await_attach(hb_watcher *w, size_t i)
{
    const char *path = w->awaited[i].path;
    struct stat st;
    if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
        return 0;
    struct root *nr = realloc(w->roots, (w->n_roots + 1) * sizeof(*nr));
    if (!nr)
        return set_error(w, -ENOMEM, "out of memory");
    w->roots = nr;
    char *copy = strdup(path);
    if (!copy)
        return set_error(w, -ENOMEM, "out of memory");
    int wd = -1;
    int r = mark_dirty(w, copy, false);
    if (r >= 0)
        r = walk(w, copy, WALK_MARK_DIRTY, false, &wd);
    if (r < 0 || wd < 0) {
        free(copy);
        return r < 0 ? r : 0; /* gone again: its parent's events say when back */
    }
    w->roots[w->n_roots++] = (struct root){.path = copy, .wd = wd};
    await_drop(w, i);
    note_activity(w);
    return 1;
}

/* A root that was deleted or renamed is awaited: its parent directory is
 * watched (that directory only) until a directory of the same name appears
 * there, and then the root is watched again. */
static void await_root(hb_watcher *w, const char *path)
{
    char *parent = strdup(path);
    char *slash = parent ? strrchr(parent, '/') : NULL;
    if (!slash) {
        free(parent);
        return;
    }
    if (slash == parent)
        slash[1] = '\0';
    else
        *slash = '\0';
    struct awaited *na = realloc(w->awaited, (w->n_awaited + 1) * sizeof(*na));
    char *copy = strdup(path);
    int wd = na && copy ? inotify_add_watch(w->ifd, parent, IN_CREATE | IN_MOVED_TO | IN_ONLYDIR)
                        : -1;
    free(parent);
    if (na)
        w->awaited = na;
    if (wd < 0) {
        add_warning(w, "%s: its parent directory cannot be watched, so it is not watched again "
                       "if it comes back (%s)", path, strerror(errno));
        free(copy);
        return;
    }
    w->awaited[w->n_awaited++] = (struct awaited){.path = copy, .parent_wd = wd};
}

static int root_back(hb_watcher *w, const struct inotify_event *ev)
{
    if (!ev->len || !(ev->mask & IN_ISDIR) || !(ev->mask & (IN_CREATE | IN_MOVED_TO)))
        return 0;
    for (size_t i = 0; i < w->n_awaited; i++) {
        const char *path = w->awaited[i].path, *base = strrchr(path, '/');
        if (w->awaited[i].parent_wd == ev->wd && base && strcmp(base + 1, ev->name) == 0) {
            int r = await_attach(w, i);
            return r < 0 ? r : 0;
        }
    }
    return 0;
}

static int handle_event(hb_watcher *w, const struct inotify_event *ev)
{
    if (ev->mask & IN_Q_OVERFLOW) {
        w->rescan_all = w->overflowed = true;
        note_activity(w);
        return 0;
    }
    struct wdir *d = dir_find(w, ev->wd);
    if (!d)
        return root_back(w, ev); /* an awaited root's parent, or a dropped watch */
    struct root *rt = root_by_wd(w, ev->wd);
    if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
        /* For a subdirectory the parent's IN_DELETE/IN_MOVED_FROM carries
         * the news; only a root has no watched parent. */
        if (rt)
            mark_root_gone(w, rt);
        else if (ev->mask & IN_IGNORED)
            dir_forget(w, ev->wd);
        return 0;
    }
    if (!ev->len || !ev->name[0])
        return 0;
    bool is_dir = ev->mask & IN_ISDIR;
    if (is_excluded(w, ev->name, is_dir) || (!is_dir && !is_included(w, ev->name)))
        return 0; /* irrelevant: does not even extend the quiet window */
    char *path = hb__path_join(d->path, ev->name); /* d may move below */
    if (!path)
        return set_error(w, -ENOMEM, "out of memory");
    int r = 0;
    if (is_dir && (ev->mask & (IN_CREATE | IN_MOVED_TO))) {
        r = mark_dirty(w, path, false);
        if (r >= 0)
            r = walk(w, path, WALK_MARK_DIRTY, false, NULL);
    } else if (is_dir && (ev->mask & (IN_DELETE | IN_MOVED_FROM))) {
        drop_watches_under(w, path);
        r = mark_dirty(w, path, true);
    } else if (is_dir) {
        free(path);
        return 0; /* attributes of a directory: nothing to rebuild */
    } else {
        r = mark_dirty(w, path, false);
    }
    free(path);
    if (r >= 0)
        note_activity(w);
    return r;
}

static int read_events(hb_watcher *w)
{
    char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (int reads = 0; reads < MAX_READS_PER_PROCESS; reads++) {
        ssize_t n = read(w->ifd, buf, sizeof(buf));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 0;
            return set_error(w, -errno, "reading inotify events: %s", strerror(errno));
        }
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            int r = handle_event(w, ev);
            if (r < 0)
                return r;
            p += sizeof(*ev) + ev->len;
        }
    }
    return 0; /* more may be queued: the fd stays readable */
}

/* ---- reconcile ------------------------------------------------------------- */

/* Paths in the map at or below prefix (copies, since checking edits the map). */
static int collect_under(hb_watcher *w, const char *prefix, struct pathstack *out)
{
    for (size_t i = 0; i < w->files.cap; i++) {
        struct fentry *e = w->files.slots[i];
        if (!e || e == TOMB || !path_under(e->path, prefix))
            continue;
        char *p = strdup(e->path);
        if (!p || ps_push(out, p) < 0) {
            free(p);
            return set_error(w, -ENOMEM, "out of memory");
        }
    }
    return 0;
}

static bool under_live_root(const hb_watcher *w, const char *path)
{
    for (size_t i = 0; i < w->n_roots; i++)
        if (!w->roots[i].gone && path_under(path, w->roots[i].path))
            return true;
    return false;
}

static int rescan_all(hb_watcher *w)
{
    clear_dirty(w);
    int r;
    for (size_t i = 0; i < w->n_roots; i++) {
        if (w->roots[i].gone)
            continue;
        if ((r = walk(w, w->roots[i].path, WALK_RESCAN, false, NULL)) < 0)
            return r;
    }
    struct pathstack stale = {0};
    for (size_t i = 0; i < w->files.cap; i++) {
        struct fentry *e = w->files.slots[i];
        if (!e || e == TOMB || e->gen == w->gen || !under_live_root(w, e->path))
            continue;
        char *p = strdup(e->path);
        if (!p || ps_push(&stale, p) < 0) {
            free(p);
            ps_free(&stale);
            return set_error(w, -ENOMEM, "out of memory");
        }
    }
    r = 0;
    for (size_t i = 0; i < stale.n && r >= 0; i++)
        r = forget_path(w, stale.v[i], true);
    ps_free(&stale);
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
                r = check_path(w, below.v[k], true, false);
            ps_free(&below);
        }
        if (r >= 0)
            r = check_path(w, d->path, true, false);
    }
    w->dirty = dirty;
    clear_dirty(w);
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
        ps_free(&below);
        char **ng = realloc(w->gone, (w->n_gone + 1) * sizeof(*ng));
        if (r >= 0 && !ng)
            r = set_error(w, -ENOMEM, "out of memory");
        if (ng)
            w->gone = ng;
        if (r < 0) {
            w->roots[j++] = *rt;
            continue;
        }
        w->gone[w->n_gone++] = rt->path; /* ownership moves to the set */
        await_root(w, rt->path);
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

static void discard_output(hb_watcher *w)
{
    for (size_t i = 0; i < w->n_ch; i++)
        free(w->ch[i].path);
    w->n_ch = 0;
}

static int reconcile(hb_watcher *w, hb_change_set *out)
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
    w->pending = false;
    /* A root already back (re-created before its parent was watched). */
    for (size_t i = 0; i < w->n_awaited && r >= 0;) {
        int a = await_attach(w, i);
        if (a < 0)
            r = a;
        else if (a == 0)
            i++;
    }
    if (r < 0) {
        discard_output(w);
        return r;
    }
    if (w->suppressed) {
        size_t n = w->suppressed;
        w->suppressed = 0;
        w->n_warnings--; /* make room: MAX_WARNINGS is never exceeded */
        free(w->warnings[w->n_warnings]);
        add_warning(w, "%zu more warnings not shown", n + 1);
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

/* ---- public API -------------------------------------------------------------- */

int hb_watcher_new(const hb_watcher_options *opts, hb_watcher **out, char **err)
{
    if (!out || (opts && opts->version != HB_WATCHER_OPTIONS_VERSION))
        return hb__seterr(err, -EINVAL, "invalid watcher options");
    hb_watcher_options o = HB_WATCHER_OPTIONS_INIT;
    if (opts)
        o = *opts;
    hb_watcher *w = calloc(1, sizeof(*w));
    if (!w)
        return hb__seterr(err, -ENOMEM, "out of memory");
    w->ifd = w->tfd = w->efd = -1;
    w->quiet_ms = o.quiet_ms ? o.quiet_ms : DEFAULT_QUIET_MS;
    w->max_delay_ms = o.max_delay_ms ? o.max_delay_ms : DEFAULT_MAX_DELAY_MS;
    if (w->max_delay_ms < w->quiet_ms)
        w->max_delay_ms = w->quiet_ms;
    w->max_watches = o.max_watches ? o.max_watches : DEFAULT_MAX_WATCHES;
    w->max_files = o.max_files ? o.max_files : DEFAULT_MAX_FILES;

    int r;
    size_t n_inc = 0;
    char **excl = NULL;
    if ((r = add_patterns(&w->include, &n_inc, o.include ? o.include : default_include)) < 0 ||
        (r = add_patterns(&excl, &w->n_exclude, o.exclude ? o.exclude : default_exclude)) < 0 ||
        (r = add_patterns(&excl, &w->n_exclude, o.exclude_extra)) < 0) {
        w->exclude = excl;
        r = hb__seterr(err, r, "out of memory");
        goto fail;
    }
    if (!w->include && (w->include = calloc(1, sizeof(char *))) == NULL) {
        r = hb__seterr(err, -ENOMEM, "out of memory");
        goto fail;
    }
    w->exclude = excl;
    w->exclude_dir_only = calloc(w->n_exclude + 1, sizeof(bool));
    if (!w->exclude_dir_only) {
        r = hb__seterr(err, -ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < w->n_exclude; i++) {
        size_t len = strlen(excl[i]);
        if (len > 1 && excl[i][len - 1] == '/') {
            excl[i][len - 1] = '\0';
            w->exclude_dir_only[i] = true;
        }
    }

    w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->ifd < 0) {
        r = -errno;
        hb__seterr(err, r, "inotify_init1: %s%s", strerror(errno),
                   errno == EMFILE ? " (fs.inotify.max_user_instances reached)" : "");
        goto fail;
    }
    w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    w->efd = w->tfd < 0 ? -1 : epoll_create1(EPOLL_CLOEXEC);
    if (w->efd < 0) {
        r = -errno;
        hb__seterr(err, r, "timerfd/epoll: %s", strerror(errno));
        goto fail;
    }
    struct epoll_event ev = {.events = EPOLLIN};
    ev.data.fd = w->ifd;
    if (epoll_ctl(w->efd, EPOLL_CTL_ADD, w->ifd, &ev) < 0) {
        r = -errno;
        hb__seterr(err, r, "epoll_ctl: %s", strerror(errno));
        goto fail;
    }
    ev.data.fd = w->tfd;
    if (epoll_ctl(w->efd, EPOLL_CTL_ADD, w->tfd, &ev) < 0) {
        r = -errno;
        hb__seterr(err, r, "epoll_ctl: %s", strerror(errno));
        goto fail;
    }
    *out = w;
    return 0;

fail:
    hb_watcher_free(w);
    return r;
}

void hb_watcher_free(hb_watcher *w)
{
    if (!w)
        return;
    if (w->efd >= 0)
        close(w->efd);
    if (w->tfd >= 0)
        close(w->tfd);
    if (w->ifd >= 0)
        close(w->ifd); /* drops every watch */
    hb__strv_free(w->include);
    hb__strv_free(w->exclude);
    free(w->exclude_dir_only);
    for (size_t i = 0; i < w->n_roots; i++)
        free(w->roots[i].path);
    free(w->roots);
    for (size_t i = 0; i < w->n_awaited; i++)
        free(w->awaited[i].path);
    free(w->awaited);
    for (size_t i = 0; i < w->n_dirs; i++)
        free(w->dirs[i].path);
    free(w->dirs);
    for (size_t i = 0; i < w->files.cap; i++) {
        struct fentry *e = w->files.slots[i];
        if (e && e != TOMB)
            fentry_free(e);
    }
    free(w->files.slots);
    clear_dirty(w);
    discard_output(w);
    free(w->ch);
    for (size_t i = 0; i < w->n_warnings; i++)
        free(w->warnings[i]);
    free(w->warnings);
    for (size_t i = 0; i < w->n_gone; i++)
        free(w->gone[i]);
    free(w->gone);
    free(w->last_error);
    free(w);
}

/* Forgets everything at or below path without reporting it. */
static void forget_tree(hb_watcher *w, const char *path)
{
    drop_watches_under(w, path);
    for (size_t i = 0; i < w->files.cap; i++) {
        struct fentry *e = w->files.slots[i];
        if (e && e != TOMB && path_under(e->path, path)) {
            w->files.slots[i] = TOMB;
            w->files.live--;
            w->files.tombs++;
            fentry_free(e);
        }
    }
    for (size_t i = 0; i < w->dirty.cap; i++) {
        struct dirty *d = w->dirty.slots[i];
        if (d && d != TOMB && path_under(d->path, path)) {
            w->dirty.slots[i] = TOMB;
            w->dirty.live--;
            w->dirty.tombs++;
            free(d->path);
            free(d);
        }
    }
}

int hb_watcher_add_root(hb_watcher *w, const char *path, char **err)
{
    if (!w || !path)
        return hb__seterr(err, -EINVAL, "invalid arguments");
    char *abs = NULL;
    struct stat st;
    int r = hb__realpath(path, &abs);
    if (r < 0) {
        r = set_error(w, r, "cannot watch %s: %s", path, strerror(-r));
        goto fail;
    }
    if (stat(abs, &st) < 0 || !S_ISDIR(st.st_mode)) {
        r = set_error(w, -ENOTDIR, "cannot watch %s: not a directory", path);
        goto fail;
    }
    for (size_t i = 0; i < w->n_roots; i++) {
        const char *o = w->roots[i].path;
        if (!w->roots[i].gone && (path_under(abs, o) || path_under(o, abs))) {
            r = set_error(w, -EEXIST, "cannot watch %s: overlaps the watched root %s", abs, o);
            goto fail;
        }
    }
    struct root *nr = realloc(w->roots, (w->n_roots + 1) * sizeof(*nr));
    if (!nr) {
        r = set_error(w, -ENOMEM, "out of memory");
        goto fail;
    }
    w->roots = nr;
    for (size_t i = 0; i < w->n_awaited; i++)
        if (strcmp(w->awaited[i].path, abs) == 0) {
            await_drop(w, i); /* the caller adds it back itself */
            break;
        }
    size_t saved_warnings = w->n_warnings;
    int wd = -1;
    w->gen++;
    r = walk(w, abs, WALK_BASELINE, true, &wd);
    if (r < 0) {
        forget_tree(w, abs);
        goto fail;
    }
    w->roots[w->n_roots++] = (struct root){.path = abs, .wd = wd};
    if (w->n_warnings > saved_warnings) {
        note_activity(w); /* deliver the warnings through the fd */
        if ((r = update_timer(w)) < 0)
            return hb__seterr(err, r, "%s", hb_watcher_last_error(w));
    }
    return 0;

fail:
    free(abs);
    return hb__seterr(err, r, "%s", hb_watcher_last_error(w));
}

int hb_watcher_remove_root(hb_watcher *w, const char *path)
{
    if (!w || !path)
        return -EINVAL;
    char *abs = NULL;
    hb__realpath(path, &abs); /* may be gone: then compare as given */
    for (size_t i = 0; i < w->n_awaited; i++) {
        if (strcmp(w->awaited[i].path, path) == 0 || (abs && !strcmp(w->awaited[i].path, abs))) {
            await_drop(w, i);
            free(abs);
            return 0;
        }
    }
    for (size_t i = 0; i < w->n_roots; i++) {
        struct root *rt = &w->roots[i];
        if (strcmp(rt->path, path) != 0 && !(abs && strcmp(rt->path, abs) == 0))
            continue;
        forget_tree(w, rt->path);
        free(rt->path);
        memmove(rt, rt + 1, (w->n_roots - i - 1) * sizeof(*rt));
        w->n_roots--;
        free(abs);
        return 0;
    }
    free(abs);
    return -ENOENT;
}

int hb_watcher_fd(const hb_watcher *w) { return w ? w->efd : -EINVAL; }

int hb_watcher_next_timeout_ms(const hb_watcher *w)
{
    if (!w || !w->pending)
        return -1;
    uint64_t d = deadline_ns(w), now = now_ns();
    if (d <= now)
        return 0;
    uint64_t ms = (d - now + 999999u) / 1000000u;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

int hb_watcher_process(hb_watcher *w, hb_change_set *out)
{
    if (!w || !out)
        return -EINVAL;
    uint64_t ticks;
    while (read(w->tfd, &ticks, sizeof(ticks)) < 0 && errno == EINTR)
        ; /* only clears the expiry; EAGAIN is the common case */
    int r = read_events(w);
    if (r < 0)
        return r;
    if (w->pending && now_ns() >= deadline_ns(w)) {
        r = reconcile(w, out);
        int t = update_timer(w);
        return r < 0 ? r : t < 0 ? t : r;
    }
    r = update_timer(w);
    return r < 0 ? r : 0;
}

int hb_watcher_pending(hb_watcher *w)
{
    if (!w)
        return -EINVAL;
    int r = read_events(w);
    if (r < 0)
        return r;
    r = update_timer(w);
    return r < 0 ? r : w->pending ? 1 : 0;
}

const char *hb_watcher_last_error(const hb_watcher *w)
{
    return w && w->last_error ? w->last_error : "";
}

size_t hb_watcher_watch_count(const hb_watcher *w) { return w ? w->n_dirs : 0; }
size_t hb_watcher_file_count(const hb_watcher *w) { return w ? w->files.live : 0; }

void hb__watcher_simulate_overflow(hb_watcher *w)
{
    if (!w)
        return;
    w->rescan_all = w->overflowed = true;
    note_activity(w);
    update_timer(w);
}
