/*
 * watcher/files.c - files outside the roots that a caller follows too: a
 * header a plugin includes from beside its directory, the target of a
 * symlinked source. Each one's directory is watched, that directory only
 * (never descended), and only the followed names in it are reported, like
 * files under a root (settled, by content).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "watcher_int.h"

struct followed { /* one followed path (the pmap key comes first) */
    char *path;
};

static bool under_live_root(const hb_watcher *w, const char *path)
{
    for (size_t i = 0; i < w->n_roots; i++)
        if (!w->roots[i].gone && hb__w_path_under(path, w->roots[i].path))
            return true;
    return false;
}

int hb_watcher_follow(hb_watcher *w, const char *path, char **err)
{
    if (!w || !path || path[0] != '/')
        return hb__seterr(err, -EINVAL, "invalid arguments");
    if (hb__w_pmap_get(&w->followed, path))
        return 0;
    if (w->followed.live >= w->max_files)
        return hb__seterr(err, -E2BIG,
                          "cannot follow %s: more than max_files = %zu followed files", path,
                          w->max_files);
    if (!hb__w_pmap_add(&w->followed, path, sizeof(struct followed)))
        return hb__seterr(err, -ENOMEM, "out of memory");
    if (under_live_root(w, path))
        return 1; /* its root's watches report it already */
    char *dir = strdup(path);
    if (!dir)
        return hb__seterr(err, -ENOMEM, "out of memory");
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    int wd = -1;
    int r = hb__w_watch_dir(w, dir, false, &wd);
    free(dir);
    struct wdir *d = wd >= 0 ? hb__w_dir_find(w, wd) : NULL;
    if (r == 1 && d)
        d->flat = true;
    if (r >= 0)
        r = hb__w_check_path(w, path, false, false); /* the baseline */
    if (r < 0)
        return hb__seterr(err, r, "%s", hb_watcher_last_error(w));
    return 1;
}

bool hb__w_is_followed(const hb_watcher *w, const char *path)
{
    return hb__w_pmap_get(&w->followed, path) != NULL;
}

int hb__w_followed_event(hb_watcher *w, const struct wdir *d, const struct inotify_event *ev)
{
    if (ev->mask & IN_ISDIR)
        return hb__w_root_back(w, ev); /* it may also be an awaited root's parent */
    char *path = hb__path_join(d->path, ev->name);
    if (!path)
        return hb__w_set_error(w, -ENOMEM, "out of memory");
    int r = 0;
    if (hb__w_is_followed(w, path)) {
        r = hb__w_mark_dirty(w, path, false);
        if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO))
            w->write_done = w->settle_on_close;
        if (r >= 0)
            hb__w_note_activity(w);
    }
    free(path);
    return r;
}

int hb__w_followed_rescan(hb_watcher *w)
{
    int r = 0;
    for (size_t i = 0; i < w->followed.cap && r >= 0; i++) {
        struct followed *f = w->followed.slots[i];
        if (f && f != TOMB && !under_live_root(w, f->path))
            r = hb__w_check_path(w, f->path, true, true);
    }
    return r;
}
