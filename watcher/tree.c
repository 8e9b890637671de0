/*
 * watcher/tree.c - the recursive watch set: walking a tree (adding each
 * watch before reading its directory, so nothing created meanwhile is
 * missed), and roots that are deleted or renamed and come back.
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

/* ---- walking a tree ------------------------------------------------------- */

int hb__w_ps_push(struct pathstack *s, char *p)
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

void hb__w_ps_free(struct pathstack *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
}

static int visit(hb_watcher *w, const char *path, enum walk_mode mode)
{
    switch (mode) {
    case WALK_BASELINE: return hb__w_check_path(w, path, false, false);
    case WALK_MARK_DIRTY: return hb__w_mark_dirty(w, path, false);
    case WALK_RESCAN: return hb__w_check_path(w, path, true, true);
    }
    return 0;
}

/* Scans one watched directory: pushes subdirectories, visits files. */
static int scan_dir(hb_watcher *w, const char *dir, enum walk_mode mode, struct pathstack *stack)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == EACCES || errno == EPERM)
            hb__w_add_warning(w, "permission denied: %s (contents not watched)", dir);
        return 0; /* vanished: its parent's events say so */
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return hb__w_set_error(w, -ENOMEM, "out of memory");
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
        if (hb__w_is_excluded(w, name, is_dir) || (!is_dir && !hb__w_is_included(w, name)))
            continue;
        char *child = hb__path_join(dir, name);
        if (!child) {
            r = hb__w_set_error(w, -ENOMEM, "out of memory");
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
        if ((r = hb__w_ps_push(stack, child)) < 0) {
            free(child);
            r = hb__w_set_error(w, r, "out of memory");
            break;
        }
    }
    closedir(d);
    return r;
}

/* Watches top and every non-excluded directory below it, adding each watch
 * before reading the directory so nothing created meanwhile is missed.
 * Symlinked directories are never descended (readdir reports them DT_LNK). */
int hb__w_walk(hb_watcher *w, const char *top, enum walk_mode mode, bool top_fatal, int *top_wd)
{
    struct pathstack stack = {0};
    int r = 0;
    char *first = strdup(top);
    if (!first || hb__w_ps_push(&stack, first) < 0) {
        free(first);
        return hb__w_set_error(w, -ENOMEM, "out of memory");
    }
    bool is_top = true;
    while (stack.n) {
        char *dir = stack.v[--stack.n];
        int wd;
        r = hb__w_watch_dir(w, dir, is_top && top_fatal, &wd);
        if (is_top && top_wd)
            *top_wd = wd;
        /* An already-known watch under the same path was walked when it
         * appeared; only a rescan (or the first hb__w_walk) reads it again. */
        bool descend = wd >= 0 && (r == 1 || mode != WALK_MARK_DIRTY);
        if (r >= 0 && descend)
            r = scan_dir(w, dir, mode, &stack);
        free(dir);
        is_top = false;
        if (r < 0)
            break;
        r = 0;
    }
    hb__w_ps_free(&stack);
    return r;
}

/* ---- events --------------------------------------------------------------- */

void hb__w_mark_root_gone(hb_watcher *w, struct root *rt)
{
    rt->gone = true;
    hb__w_drop_watches_under(w, rt->path);
    hb__w_note_activity(w);
}

/* ---- roots that come back ------------------------------------------------ */

void hb__w_await_drop(hb_watcher *w, size_t i)
{
    int wd = w->awaited[i].parent_wd;
    free(w->awaited[i].path);
    memmove(&w->awaited[i], &w->awaited[i + 1], (w->n_awaited - i - 1) * sizeof(*w->awaited));
    w->n_awaited--;
    bool shared = false;
    for (size_t k = 0; k < w->n_awaited; k++)
        shared |= w->awaited[k].parent_wd == wd;
    if (!shared && wd >= 0 && !hb__w_dir_find(w, wd))
        inotify_rm_watch(w->ifd, wd);
}

/* Watches the awaited root at index i again: its directory and files are
 * reported as created in the next change set. Returns 0 when it does not
 * exist (yet), 1 when it is watched again, or a negative -errno. */
int hb__w_await_attach(hb_watcher *w, size_t i)
{
    const char *path = w->awaited[i].path;
    struct stat st;
    if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
        return 0;
    struct root *nr = realloc(w->roots, (w->n_roots + 1) * sizeof(*nr));
    if (!nr)
        return hb__w_set_error(w, -ENOMEM, "out of memory");
    w->roots = nr;
    char *copy = strdup(path);
    if (!copy)
        return hb__w_set_error(w, -ENOMEM, "out of memory");
    int wd = -1;
    int r = hb__w_mark_dirty(w, copy, false);
    if (r >= 0)
        r = hb__w_walk(w, copy, WALK_MARK_DIRTY, false, &wd);
    if (r < 0 || wd < 0) {
        free(copy);
        return r < 0 ? r : 0; /* gone again: its parent's events say when back */
    }
    w->roots[w->n_roots++] = (struct root){.path = copy, .wd = wd};
    hb__w_await_drop(w, i);
    hb__w_note_activity(w);
    return 1;
}

/* A root that was deleted or renamed is awaited: its parent directory is
 * watched (that directory only) until a directory of the same name appears
 * there, and then the root is watched again. */
void hb__w_await_root(hb_watcher *w, const char *path)
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
    /* IN_MASK_ADD: the directory may be watched already for a followed
     * file (files.c), whose events must keep coming. */
    int wd = na && copy ? inotify_add_watch(w->ifd, parent,
                                            IN_CREATE | IN_MOVED_TO | IN_ONLYDIR | IN_MASK_ADD)
                        : -1;
    free(parent);
    if (na)
        w->awaited = na;
    if (wd < 0) {
        hb__w_add_warning(w, "%s: its parent directory cannot be watched, so it is not watched again "
                       "if it comes back (%s)", path, strerror(errno));
        free(copy);
        return;
    }
    w->awaited[w->n_awaited++] = (struct awaited){.path = copy, .parent_wd = wd};
}

int hb__w_root_back(hb_watcher *w, const struct inotify_event *ev)
{
    if (!ev->len || !(ev->mask & IN_ISDIR) || !(ev->mask & (IN_CREATE | IN_MOVED_TO)))
        return 0;
    for (size_t i = 0; i < w->n_awaited; i++) {
        const char *path = w->awaited[i].path, *base = strrchr(path, '/');
        if (w->awaited[i].parent_wd == ev->wd && base && strcmp(base + 1, ev->name) == 0) {
            int r = hb__w_await_attach(w, i);
            return r < 0 ? r : 0;
        }
    }
    return 0;
}

/* Forgets everything at or below path without reporting it. */
void hb__w_forget_tree(hb_watcher *w, const char *path)
{
    hb__w_drop_watches_under(w, path);
    hb__w_pmap_del_under(&w->files, path);
    hb__w_pmap_del_under(&w->dirty, path);
}
