/*
 * watcher/pathmap.c - the watcher's maps: a path-keyed hash map (the
 * checksum map and the dirty set) and the table from inotify watch
 * descriptors to directory paths. See watcher.h for the contract.
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

/* ---- path-keyed hash map ------------------------------------------------ */

/* Open addressing, linear probing, tombstones (see watcher_int.h). */

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

void *hb__w_pmap_get(const struct pmap *m, const char *key)
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
int hb__w_pmap_put(struct pmap *m, void *v)
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

void *hb__w_pmap_del(struct pmap *m, const char *key)
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

static void entry_free(void *v)
{
    free(*(char **)v);
    free(v);
}

void *hb__w_pmap_add(struct pmap *m, const char *path, size_t size)
{
    char **v = calloc(1, size);
    if (!v || !(*v = strdup(path)) || hb__w_pmap_put(m, v) < 0) {
        if (v)
            free(*v);
        free(v);
        return NULL;
    }
    return v;
}

void hb__w_pmap_del_under(struct pmap *m, const char *prefix)
{
    for (size_t i = 0; i < m->cap; i++) {
        void *v = m->slots[i];
        if (v && v != TOMB && hb__w_path_under(pkey(v), prefix)) {
            m->slots[i] = TOMB;
            m->live--;
            m->tombs++;
            entry_free(v);
        }
    }
}

void hb__w_pmap_clear(struct pmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i] && m->slots[i] != TOMB)
            entry_free(m->slots[i]);
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

/* Whether path is prefix itself or lies below it. */
bool hb__w_path_under(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
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

struct wdir *hb__w_dir_find(hb_watcher *w, int wd)
{
    size_t i = dir_pos(w, wd);
    return i < w->n_dirs && w->dirs[i].wd == wd ? &w->dirs[i] : NULL;
}

void hb__w_dir_forget(hb_watcher *w, int wd) /* the kernel already dropped it */
{
    size_t i = dir_pos(w, wd);
    if (i >= w->n_dirs || w->dirs[i].wd != wd)
        return;
    free(w->dirs[i].path);
    memmove(&w->dirs[i], &w->dirs[i + 1], (w->n_dirs - i - 1) * sizeof(*w->dirs));
    w->n_dirs--;
}

struct root *hb__w_root_by_wd(hb_watcher *w, int wd)
{
    for (size_t i = 0; i < w->n_roots; i++)
        if (w->roots[i].wd == wd && !w->roots[i].gone)
            return &w->roots[i];
    return NULL;
}

/* Removes every watch at or below path. Their IN_IGNORED events arrive
 * later for wds we no longer know, and are dropped. */
void hb__w_drop_watches_under(hb_watcher *w, const char *path)
{
    size_t j = 0;
    for (size_t i = 0; i < w->n_dirs; i++) {
        if (hb__w_path_under(w->dirs[i].path, path)) {
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
    return hb__w_set_error(w, -ENOSPC,
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
int hb__w_watch_dir(hb_watcher *w, const char *path, bool fatal_access, int *wd_out)
{
    *wd_out = -1;
    int wd = inotify_add_watch(w->ifd, path, WATCH_MASK);
    if (wd < 0) {
        int e = errno;
        if (e == ENOSPC)
            return kernel_watch_limit_error(w, path);
        if ((e == EACCES || e == EPERM) && !fatal_access) {
            hb__w_add_warning(w, "permission denied: %s (not watched)", path);
            return 0;
        }
        if ((e == ENOENT || e == ENOTDIR || e == ELOOP) && !fatal_access)
            return 0; /* vanished or replaced by a non-directory: events will say */
        return hb__w_set_error(w, -e, "cannot watch %s: %s", path, strerror(e));
    }
    *wd_out = wd;
    size_t i = dir_pos(w, wd);
    if (i < w->n_dirs && w->dirs[i].wd == wd) {
        w->dirs[i].gen = w->gen;
        if (strcmp(w->dirs[i].path, path) == 0)
            return 0;
        char *p = strdup(path); /* the same directory under a new name */
        if (!p)
            return hb__w_set_error(w, -ENOMEM, "out of memory");
        free(w->dirs[i].path);
        w->dirs[i].path = p;
        return 1;
    }
    if (w->n_dirs >= w->max_watches) {
        inotify_rm_watch(w->ifd, wd);
        return hb__w_set_error(w, -E2BIG,
                         "cannot watch %s: more than max_watches = %zu directories; "
                         "raise the limit or exclude directories",
                         path, w->max_watches);
    }
    if (w->n_dirs == w->cap_dirs) {
        size_t cap = w->cap_dirs ? w->cap_dirs * 2 : 64;
        struct wdir *nd = realloc(w->dirs, cap * sizeof(*nd));
        if (!nd) {
            inotify_rm_watch(w->ifd, wd);
            return hb__w_set_error(w, -ENOMEM, "out of memory");
        }
        w->dirs = nd;
        w->cap_dirs = cap;
    }
    char *p = strdup(path);
    if (!p) {
        inotify_rm_watch(w->ifd, wd);
        return hb__w_set_error(w, -ENOMEM, "out of memory");
    }
    memmove(&w->dirs[i + 1], &w->dirs[i], (w->n_dirs - i) * sizeof(*w->dirs));
    w->dirs[i] = (struct wdir){.wd = wd, .gen = w->gen, .path = p};
    w->n_dirs++;
    return 1;
}
