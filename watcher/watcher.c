/*
 * watcher/watcher.c - see watcher.h for the contract. The public API, the
 * options and patterns, and the event loop; the rest lives in pathmap.c,
 * tree.c and settle.c (see watcher_int.h).
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

#include "edittrace.h"
#include "watcher_int.h"
#include "util.h"

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

void hb_watcher_options_init(hb_watcher_options *opts)
{
    hb_watcher_options o = HB_WATCHER_OPTIONS_INIT;
    *opts = o;
}

const char *const *hb_watcher_default_include(void) { return default_include; }
const char *const *hb_watcher_default_exclude(void) { return default_exclude; }

HB_ENUM_NAMES(hb_change_kind_name, hb_change_kind, [HB_CHANGE_CREATED] = "created",
              [HB_CHANGE_MODIFIED] = "modified", [HB_CHANGE_DELETED] = "deleted")

void hb_change_set_init(hb_change_set *cs) { memset(cs, 0, sizeof(*cs)); }

void hb_change_set_release(hb_change_set *cs)
{
    if (!cs)
        return;
    for (size_t i = 0; i < cs->n_changes; i++)
        free(cs->changes[i].path);
    free(cs->changes);
    hb__strs_free(cs->gone_roots, cs->n_gone_roots);
    hb__strs_free(cs->warnings, cs->n_warnings);
    hb_change_set_init(cs);
}

int hb__w_set_error(hb_watcher *w, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = hb__vasprintf(fmt, ap);
    va_end(ap);
    free(w->last_error);
    w->last_error = msg;
    return code;
}

void hb__w_add_warning(hb_watcher *w, const char *fmt, ...)
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
    char *msg = hb__vasprintf(fmt, ap);
    va_end(ap);
    if (msg)
        w->warnings[w->n_warnings++] = msg;
}

/* ---- patterns ----------------------------------------------------------- */

bool hb__w_is_included(const hb_watcher *w, const char *name)
{
    for (char **p = w->include; *p; p++)
        if (fnmatch(*p, name, 0) == 0)
            return true;
    return false;
}

bool hb__w_is_excluded(const hb_watcher *w, const char *name, bool is_dir)
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

static int handle_event(hb_watcher *w, const struct inotify_event *ev)
{
    if (ev->mask & IN_Q_OVERFLOW) {
        w->rescan_all = w->overflowed = true;
        hb__w_note_activity(w);
        return 0;
    }
    struct wdir *d = hb__w_dir_find(w, ev->wd);
    if (!d)
        return hb__w_root_back(w, ev); /* an awaited root's parent, or a dropped watch */
    struct root *rt = hb__w_root_by_wd(w, ev->wd);
    if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
        /* For a subdirectory the parent's IN_DELETE/IN_MOVED_FROM carries
         * the news; only a root has no watched parent. */
        if (rt)
            hb__w_mark_root_gone(w, rt);
        else if (ev->mask & IN_IGNORED)
            hb__w_dir_forget(w, ev->wd);
        return 0;
    }
    if (!ev->len || !ev->name[0])
        return 0;
    if (d->flat)
        return hb__w_followed_event(w, d, ev);
    bool is_dir = ev->mask & IN_ISDIR;
    if (hb__w_is_excluded(w, ev->name, is_dir) || (!is_dir && !hb__w_is_included(w, ev->name)))
        return 0; /* irrelevant: does not even extend the quiet window */
    char *path = hb__path_join(d->path, ev->name); /* d may move below */
    if (!path)
        return hb__w_set_error(w, -ENOMEM, "out of memory");
    int r = 0;
    if (is_dir && (ev->mask & (IN_CREATE | IN_MOVED_TO))) {
        r = hb__w_mark_dirty(w, path, false);
        if (r >= 0)
            r = hb__w_walk(w, path, WALK_MARK_DIRTY, false, NULL);
    } else if (is_dir && (ev->mask & (IN_DELETE | IN_MOVED_FROM))) {
        hb__w_drop_watches_under(w, path);
        r = hb__w_mark_dirty(w, path, true);
    } else if (is_dir) {
        free(path);
        return 0; /* attributes of a directory: nothing to rebuild */
    } else {
        r = hb__w_mark_dirty(w, path, false);
        if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO))
            w->write_done = w->settle_on_close;
    }
    free(path);
    if (r >= 0)
        hb__w_note_activity(w);
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
            return hb__w_set_error(w, -errno, "reading inotify events: %s", strerror(errno));
        }
        hb__et_mark(HB_ET_WAKE);
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
    w->settle_on_close = o.settle_on_close;

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
    HB_CLOSE_ALL(w->efd, w->tfd, w->ifd); /* closing ifd drops every watch */
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
    hb__w_pmap_clear(&w->files);
    hb__w_pmap_clear(&w->followed);
    hb__w_clear_dirty(w);
    hb__w_discard_output(w);
    free(w->ch);
    hb__strs_free(w->warnings, w->n_warnings);
    hb__strs_free(w->gone, w->n_gone);
    HB_FREE_ALL(w->last_error, w);
}


int hb_watcher_add_root(hb_watcher *w, const char *path, char **err)
{
    if (!w || !path)
        return hb__seterr(err, -EINVAL, "invalid arguments");
    char *abs = NULL;
    struct stat st;
    int r = hb__realpath(path, &abs);
    if (r < 0) {
        r = hb__w_set_error(w, r, "cannot watch %s: %s", path, strerror(-r));
        goto fail;
    }
    if (stat(abs, &st) < 0 || !S_ISDIR(st.st_mode)) {
        r = hb__w_set_error(w, -ENOTDIR, "cannot watch %s: not a directory", path);
        goto fail;
    }
    for (size_t i = 0; i < w->n_roots; i++) {
        const char *o = w->roots[i].path;
        if (!w->roots[i].gone && (hb__w_path_under(abs, o) || hb__w_path_under(o, abs))) {
            r = hb__w_set_error(w, -EEXIST, "cannot watch %s: overlaps the watched root %s", abs, o);
            goto fail;
        }
    }
    struct root *nr = realloc(w->roots, (w->n_roots + 1) * sizeof(*nr));
    if (!nr) {
        r = hb__w_set_error(w, -ENOMEM, "out of memory");
        goto fail;
    }
    w->roots = nr;
    for (size_t i = 0; i < w->n_awaited; i++)
        if (strcmp(w->awaited[i].path, abs) == 0) {
            hb__w_await_drop(w, i); /* the caller adds it back itself */
            break;
        }
    size_t saved_warnings = w->n_warnings;
    int wd = -1;
    w->gen++;
    r = hb__w_walk(w, abs, WALK_BASELINE, true, &wd);
    if (r < 0) {
        hb__w_forget_tree(w, abs);
        goto fail;
    }
    w->roots[w->n_roots++] = (struct root){.path = abs, .wd = wd};
    if (w->n_warnings > saved_warnings) {
        hb__w_note_activity(w); /* deliver the warnings through the fd */
        if ((r = hb__w_update_timer(w)) < 0)
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
            hb__w_await_drop(w, i);
            free(abs);
            return 0;
        }
    }
    for (size_t i = 0; i < w->n_roots; i++) {
        struct root *rt = &w->roots[i];
        if (strcmp(rt->path, path) != 0 && !(abs && strcmp(rt->path, abs) == 0))
            continue;
        hb__w_forget_tree(w, rt->path);
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
    uint64_t d = hb__w_deadline_ns(w), now = hb__now_ns();
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
    if (w->wake_ns && hb__now_ns() >= w->wake_ns)
        w->wake_ns = 0; /* the wake-up asked for is delivered: this call */
    int r = read_events(w);
    if (r < 0)
        return r;
    if (w->pending && hb__now_ns() >= hb__w_deadline_ns(w)) {
        r = hb__w_reconcile(w, out);
        hb__et_mark(HB_ET_SETTLED);
        int t = hb__w_update_timer(w);
        return r < 0 ? r : t < 0 ? t : r;
    }
    r = hb__w_update_timer(w);
    return r < 0 ? r : 0;
}

int hb_watcher_wake_in(hb_watcher *w, unsigned ms)
{
    if (!w)
        return -EINVAL;
    w->wake_ns = hb__now_ns() + (uint64_t)ms * 1000000u;
    return hb__w_update_timer(w);
}

int hb_watcher_pending(hb_watcher *w)
{
    if (!w)
        return -EINVAL;
    int r = read_events(w);
    if (r < 0)
        return r;
    r = hb__w_update_timer(w);
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
    hb__w_note_activity(w);
    hb__w_update_timer(w);
}
