/* harness/watch.c - watch mode: the watcher's change sets become rebuilds
 * and hot swaps of the plugins they affect.
 *
 * A change affects a plugin when the changed file is inside the plugin's
 * directory or is one of the inputs its last compile read (the depfile), so
 * editing a shared header reloads every plugin that includes it and nothing
 * else. Plugins that fail to build stay known and are retried on change.
 *
 * Builds run on this thread, so files may change while one runs (a second
 * save, a formatter re-saving, a file still being written). Each build is
 * judged against a digest of the plugin's files taken before and after it:
 * when they differ the build is superseded. Its failure is not reported
 * (it is likely a half-written file), and the plugin is marked stale and
 * built again, without the compile cache, once the files are quiet.
 *
 * A build starts at the first complete write of a watched file (the
 * watcher's settle_on_close: a close after writing, or a rename into
 * place), not after a quiet window: the edit-to-swap time is then the
 * compiler's. The supersede rule above is what keeps that correct: a
 * formatter saving again while the build runs moves the digest, and the
 * final build is that of the last save. */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "harness.h"
#include "watcher.h"

#include "watch_impl.h"

static bool path_in(const char *path, const char *dir);
static int cmp_str(const void *a, const void *b);

/* A plugin directory: sources of its own, or plugin.json's "sources". */
static bool has_sources(const char *dir)
{
    return hb_compiler_is_plugin_dir(dir);
}

static wplug *find_plug_dir(hb_watch *w, const char *dir)
{
    for (size_t i = 0; i < w->nplugs; i++)
        if (strcmp(w->plugs[i].dir, dir) == 0)
            return &w->plugs[i];
    return NULL;
}

/* The inputs of p's latest stored version, and the files outside the roots
 * among them followed from now on (watch_follow.c); since: when the build
 * that stored it began. */
static void refresh_inputs(hb_watch *w, wplug *p, const struct timespec *since)
{
    hb_manager *m = w->sb->m;
    hb_version_rec rec = {0};
    int r = hb_store_latest(m->store, p->name, &rec);
    if (r == 0) {
        hb__strv_free(p->inputs);
        p->inputs = rec.inputs;
        rec.inputs = NULL;
        hb__watch_follow_inputs(w, p, since);
    }
    hb_version_rec_release(&rec);
}

static wplug *add_plug(hb_watch *w, const char *dir)
{
    wplug *np = realloc(w->plugs, (w->nplugs + 1) * sizeof(*np));
    if (!np)
        return NULL;
    w->plugs = np;
    wplug *p = &w->plugs[w->nplugs];
    memset(p, 0, sizeof(*p));
    p->dir = strdup(dir);
    p->name = hb__basename(dir);
    if (!p->dir || !p->name) {
        free(p->dir);
        free(p->name);
        return NULL;
    }
    w->nplugs++;
    return p;
}

/* A plugin already loaded in the sandbox (by the caller, before watching)
 * is adopted: watch mode reloads it rather than loading it again. One
 * loaded from another directory under the same name is left alone. */
static bool adopt_loaded(hb_watch *w, wplug *p)
{
    hb_slot *s = hb__slot_find(w->sb, p->name);
    if (!s)
        return false;
    if (strcmp(s->dir, p->dir) != 0) {
        hb__emit(w->sb->m, w->sb, HB_EVENT_WARNING, p->name, s->version, 0, -EEXIST, NULL,
                 "%s is already loaded in this sandbox from %s: %s is not watched", p->name,
                 s->dir, p->dir);
        return false;
    }
    p->loaded = true;
    return true;
}

/* Before a failed build is reported: whether p's files stay as they were
 * (digest) for one quiet window. Any file event in the meantime means
 * something is still being written: the failure is judged again once the
 * files settle. Waits on the watcher's fd, at most quiet_ms. */
static bool settles_unchanged(hb_watch *w, wplug *p, const char *digest)
{
    struct pollfd pfd = {.fd = hb_watcher_fd(w->w), .events = POLLIN};
    int n;
    uint64_t deadline = hb__now_ns() + (uint64_t)w->quiet_ms * 1000000u;
    do {
        uint64_t now = hb__now_ns();
        int left = now < deadline ? (int)((deadline - now + 999999u) / 1000000u) : 0;
        n = poll(&pfd, 1, left);
    } while (n < 0 && errno == EINTR);
    if (hb_watcher_pending(w->w) != 0)
        return false;
    char again[HB_SHA256_HEX];
    hb__watch_digest(p, again);
    return strcmp(again, digest) == 0;
}

/* One build of p (its first load or a reload) and what it means: see the
 * comment at the top. Returns hb_load's or hb_reload's result. */
static int build_plug(hb_watch *w, wplug *p)
{
    hb_sandbox *sb = w->sb;
    bool reload = (p->loaded && hb__slot_find(sb, p->name)) || adopt_loaded(w, p);
    if (!reload && p->loaded)
        p->loaded = false; /* lost (a worker restart dropped it) */
    if (!reload && hb__slot_find(sb, p->name))
        return -EEXIST; /* someone else's plugin of that name: said once above */
    char before[HB_SHA256_HEX], after[HB_SHA256_HEX];
    struct timespec since = w->since;
    if (!w->starting)
        clock_gettime(CLOCK_REALTIME_COARSE, &since);
    hb__watch_digest(p, before);
    uint64_t v_before = 0, v_after = 0;
    hb_slot *slot = reload ? hb__slot_find(sb, p->name) : NULL;
    if (slot)
        v_before = slot->version;
    unsigned long said = sb->failure_events;
    sb->held = &w->held;
    sb->build_fresh = p->stale;
    p->stale = false;
    int r = reload ? hb_reload(sb, p->name) : hb_load(sb, p->dir);
    sb->held = NULL;
    sb->build_fresh = false;
    hb__watch_digest(p, after); /* with the inputs the build started from */
    refresh_inputs(w, p, &since);
    slot = hb__slot_find(sb, p->name); /* the reload may have moved the slots */
    p->loaded = slot != NULL;
    if (slot)
        v_after = slot->version;
    bool changed = reload ? v_after != v_before : p->loaded;
    bool moved = strcmp(before, after) != 0;
    if (!moved && w->held.held)
        moved = !settles_unchanged(w, p, after); /* still being written: judge later */
    if (moved) {
        p->stale = true;
        p->untested |= changed;
        hb__held_event_clear(&w->held);
        return r;
    }
    hb__emit_held(sb->m, sb, &w->held);
    if (r < 0) {
        /* A refusal that said nothing itself (a sandbox limit, say) is
         * still a failure of this plugin: the stream says so. */
        if (sb->failure_events == said)
            hb__emit(sb->m, sb, HB_EVENT_SWAP_FAILED, p->name, 0, 0, r, NULL, "%s: %s", p->name,
                     hb_sandbox_last_error(sb));
        p->failed = true;
        return r;
    }
    /* Also after a rollback (v2 crashed, v1 serves): back to v1's source,
     * nothing swaps, and the stream says so instead of nothing. */
    bool rolled = p->built && p->built != v_after;
    if ((p->failed || rolled) && reload && v_after == v_before)
        hb__emit(sb->m, sb, HB_EVENT_UP_TO_DATE, p->name, v_after, 0, 0, NULL,
                 "%s builds again: v%llu, the live version, matches its sources", p->name,
                 (unsigned long long)v_after);
    p->failed = false;
    p->built = v_after;
    if (p->loaded && (changed || p->untested) && w->selftests) {
        p->untested = false;
        hb_run_selftests(sb, p->name, NULL, NULL);
    }
    return r;
}

/* A loaded plugin (other than p) that the active version of which was
 * linked against p, or NULL. */
static const char *loaded_dependent(hb_watch *w, const wplug *p)
{
    hb_sandbox *sb = w->sb;
    for (size_t i = 0; i < sb->nslots; i++) {
        const hb_slot *s = &sb->slots[i];
        if (strcmp(s->name, p->name) == 0)
            continue;
        hb_version_rec rec = {0};
        int r = hb_store_get(sb->m->store, s->name, s->version, &rec);
        bool hit = r == 0 && hb__strv_contains(rec.depends, p->name);
        hb_version_rec_release(&rec);
        if (hit)
            return s->name;
    }
    return NULL;
}

static void remove_plug(hb_watch *w, wplug *p)
{
    if (p->loaded)
        hb_unload(w->sb, p->name);
    free(p->name);
    free(p->dir);
    hb__strv_free(p->inputs);
    hb__strv_free(p->followed);
    size_t i = (size_t)(p - w->plugs);
    memmove(&w->plugs[i], &w->plugs[i + 1], (w->nplugs - i - 1) * sizeof(*p));
    w->nplugs--;
}

/* Plugin directories of a root, sorted by name for a stable load order. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether a directory name matches one of the caller's exclude globs. */
static bool excluded_dir(const hb_watch *w, const char *name)
{
    for (char **p = w->exclude; p && *p; p++) {
        size_t l = strlen(*p);
        char pat[PATH_MAX];
        snprintf(pat, sizeof(pat), "%.*s", (int)(l && (*p)[l - 1] == '/' ? l - 1 : l), *p);
        if (fnmatch(pat, name, 0) == 0)
            return true;
    }
    return false;
}

static void scan_root(hb_watch *w, size_t ri)
{
    const char *root = w->roots[ri];
    if (w->root_is_plugin[ri]) {
        if (!find_plug_dir(w, root))
            add_plug(w, root);
        return;
    }
    DIR *d = opendir(root);
    if (!d)
        return;
    char **dirs = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || excluded_dir(w, e->d_name))
            continue;
        char *sub = hb__path_join(root, e->d_name);
        struct stat st;
        bool is_link = sub && lstat(sub, &st) == 0 && S_ISLNK(st.st_mode);
        if (is_link && stat(sub, &st) == 0 && S_ISDIR(st.st_mode) && has_sources(sub))
            hb__emit(w->sb->m, w->sb, HB_EVENT_WARNING, NULL, 0, 0, 0, NULL,
                     "%s is a symbolic link to a directory of sources: not loaded (watch mode "
                     "does not follow symlinked directories; watch the directory it points to)",
                     sub);
        if (sub && !is_link && lstat(sub, &st) == 0 && S_ISDIR(st.st_mode) && has_sources(sub)) {
            char **nd = realloc(dirs, (n + 1) * sizeof(*nd));
            if (nd) {
                dirs = nd;
                dirs[n++] = sub;
                continue;
            }
        }
        free(sub);
    }
    closedir(d);
    if (n)
        qsort(dirs, n, sizeof(*dirs), cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (!find_plug_dir(w, dirs[i]))
            add_plug(w, dirs[i]);
        free(dirs[i]);
    }
    free(dirs);
}

int hb_watch_new(hb_sandbox *sb, const char *const *roots, const hb_watch_options *opts,
                 hb_watch **out)
{
    if (!sb || !roots || !roots[0] || !out)
        return -EINVAL;
    if (!sb->m) /* detached: its manager was freed */
        return HB_EFAILED;
    if (opts && hb__options_check(&hb__watch_options_kind, opts->version) < 0)
        return HB_EOPTVERSION;
    hb_watch *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->sb = sb;
    /* The first builds may have run before their plugins are loaded (in
     * parallel, below): what they read is judged from now. */
    clock_gettime(CLOCK_REALTIME_COARSE, &w->since);
    w->starting = true;
    w->selftests = !opts || opts->run_selftests >= 0;
    w->quiet_ms = opts && opts->quiet_ms ? opts->quiet_ms : 20;
    hb_watch_options full = HB_WATCH_OPTIONS_INIT;
    hb_watch_options d = HB_WATCH_OPTIONS_INIT;
    hb__options_take(&hb__watch_options_kind, &full, &d, opts);
    if (full.exclude && !(w->exclude = hb__strv_dup((char *const *)full.exclude))) {
        free(w);
        return -ENOMEM;
    }
    size_t n = 0;
    while (roots[n])
        n++;
    w->roots = calloc(n + 1, sizeof(char *));
    w->root_is_plugin = calloc(n + 1, sizeof(bool));
    if (!w->roots || !w->root_is_plugin) {
        hb_watch_free(w);
        return -ENOMEM;
    }
    int r = 0;
    char *err = NULL;
    for (size_t i = 0; i < n; i++) {
        char *abs = NULL;
        r = hb__realpath(roots[i], &abs);
        struct stat st;
        if (r == 0 && (stat(abs, &st) < 0 || !S_ISDIR(st.st_mode)))
            r = -ENOTDIR;
        if (r < 0) {
            free(abs);
            hb__seterr(&err, r, "cannot watch %s: %s", roots[i], hb_strerror(r));
            goto fail;
        }
        w->roots[w->nroots] = abs;
        w->root_is_plugin[w->nroots] = has_sources(abs);
        w->nroots++;
    }
    /* The state directory may live under a root: never watch it. */
    char *state_base = hb__basename(sb->m->state_dir);
    size_t nx = hb__strv_len(w->exclude);
    const char **extra = calloc(nx + 2, sizeof(char *));
    if (!extra) {
        free(state_base);
        r = -ENOMEM;
        goto fail;
    }
    extra[0] = state_base;
    for (size_t i = 0; i < nx; i++)
        extra[i + 1] = w->exclude[i];
    hb_watcher_options wo = HB_WATCHER_OPTIONS_INIT;
    wo.quiet_ms = opts ? opts->quiet_ms : 0;
    /* Build at the first complete write (close or rename), not after the
     * quiet window: a later save supersedes the build (see the top). */
    wo.settle_on_close = true;
    wo.exclude_extra = extra;
    r = hb_watcher_new(&wo, &w->w, &err);
    free(state_base);
    free(extra);
    if (r < 0)
        goto fail;
    for (size_t i = 0; i < w->nroots; i++) {
        free(err);
        err = NULL;
        r = hb_watcher_add_root(w->w, w->roots[i], &err);
        if (r < 0)
            goto fail;
    }
    for (size_t i = 0; i < w->nroots; i++)
        scan_root(w, i);
    /* Build everything before loading anything, in parallel (independent
     * compiles, bounded by the cores); then link again only the plugins
     * built before a provider of theirs was stored, and load providers
     * before the plugins that use them. The loads find the builds in the
     * compile cache: every plugin is compiled once. */
    {
        char **dirs = calloc(w->nplugs + 1, sizeof(char *));
        char **names = calloc(w->nplugs + 1, sizeof(char *));
        for (size_t i = 0; dirs && names && i < w->nplugs; i++) {
            dirs[i] = w->plugs[i].dir;
            names[i] = w->plugs[i].name;
        }
        if (dirs && names)
            hb__build_parallel(sb->m, dirs, names, w->nplugs);
        free(dirs);
        free(names);
        for (size_t i = 0; i < w->nplugs; i++) {
            if (!hb__build_needs_relink(sb->m, w->plugs[i].name))
                continue;
            hb_build_out b;
            char *berr = NULL;
            hb__build(sb->m, w->plugs[i].dir, w->plugs[i].name, &b, &berr);
            hb__build_out_release(&b);
            free(berr);
        }
    }
    size_t *order = calloc(w->nplugs + 1, sizeof(size_t));
    for (size_t i = 0; order && i < w->nplugs; i++)
        order[i] = i;
    if (order)
        hb__dependency_order(sb->m, order, w->nplugs, w->plugs, sizeof(wplug),
                             offsetof(wplug, name));
    for (size_t k = 0; k < w->nplugs; k++)
        build_plug(w, &w->plugs[order ? order[k] : k]);
    free(order);
    w->starting = false;
    size_t loaded = 0;
    for (size_t i = 0; i < w->nplugs; i++)
        loaded += w->plugs[i].loaded;
    hb__emit(sb->m, sb, HB_EVENT_WATCHING, NULL, 0, 0, 0, NULL,
             "watching %zu plugin%s (%zu loaded) in %zu director%s", w->nplugs,
             w->nplugs == 1 ? "" : "s", loaded, w->nroots, w->nroots == 1 ? "y" : "ies");
    free(err);
    *out = w;
    return 0;
fail:
    free(sb->last_error);
    sb->last_error = err ? err : strdup(hb_strerror(r));
    hb_watch_free(w);
    return r;
}

void hb_watch_free(hb_watch *w)
{
    if (!w)
        return;
    hb_watcher_free(w->w);
    for (size_t i = 0; i < w->nroots; i++)
        free(w->roots[i]);
    free(w->roots);
    free(w->root_is_plugin);
    for (size_t i = 0; i < w->nplugs; i++) {
        free(w->plugs[i].name);
        free(w->plugs[i].dir);
        hb__strv_free(w->plugs[i].inputs);
        hb__strv_free(w->plugs[i].followed);
    }
    free(w->plugs);
    hb__strv_free(w->exclude);
    hb__held_event_clear(&w->held);
    free(w);
}

int hb_watch_fd(hb_watch *w)
{
    return w ? hb_watcher_fd(w->w) : -EINVAL;
}

int hb_watch_plugins(hb_watch *w, char ***out)
{
    if (!w || !out)
        return -EINVAL;
    const char **names = malloc((w->nplugs + 1) * sizeof(*names));
    if (!names)
        return -ENOMEM;
    for (size_t i = 0; i < w->nplugs; i++)
        names[i] = w->plugs[i].name;
    char **v = hb__strv_pack(names, w->nplugs);
    free(names);
    if (!v)
        return -ENOMEM;
    *out = v;
    return 0;
}

static bool path_in(const char *path, const char *dir)
{
    size_t l = strlen(dir);
    return strncmp(path, dir, l) == 0 && path[l] == '/';
}

/* Whether dir is a root that is itself a plugin (one that came back after
 * it was deleted or renamed away). */
static bool is_plugin_root(hb_watch *w, const char *dir)
{
    for (size_t i = 0; i < w->nroots; i++)
        if (w->root_is_plugin[i] && strcmp(w->roots[i], dir) == 0)
            return true;
    return false;
}

/* The container root a new directory would be a plugin of, if any. */
static bool under_container_root(hb_watch *w, const char *dir)
{
    char *copy = strdup(dir);
    if (!copy)
        return false;
    char *slash = strrchr(copy, '/');
    bool yes = false;
    if (slash) {
        *slash = '\0';
        for (size_t i = 0; i < w->nroots && !yes; i++)
            yes = !w->root_is_plugin[i] && strcmp(w->roots[i], copy) == 0;
    }
    free(copy);
    return yes;
}

/* Milliseconds from the newest save among the changed files to now. */
static double detect_latency(const hb_change_set *cs)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    double best = -1;
    for (size_t i = 0; i < cs->n_changes; i++) {
        struct stat st;
        if (cs->changes[i].kind == HB_CHANGE_DELETED || stat(cs->changes[i].path, &st) < 0)
            continue;
        double ms = (double)(now.tv_sec - st.st_mtim.tv_sec) * 1e3 +
                    (double)(now.tv_nsec - st.st_mtim.tv_nsec) / 1e6;
        if (ms >= 0 && (best < 0 || ms < best))
            best = ms;
    }
    return best < 0 ? 0 : best;
}

static bool any_stale(const hb_watch *w)
{
    for (size_t i = 0; i < w->nplugs; i++)
        if (w->plugs[i].stale && !w->plugs[i].orphaned)
            return true;
    return false;
}

/* Plugins still stale after the bounded rebuilds, with no file event
 * pending to bring the watch back: their files kept changing through every
 * build, and the file that did is outside the watched roots (so no event
 * will come). Asks the watcher for a wake-up, backing off from 50 ms to
 * 1.6 s while it goes on, so hb_watch_fd becomes readable and the next
 * hb_watch_process builds them again: hb_watch_pending's 1 is then true. */
static void arm_retry(hb_watch *w)
{
    unsigned ms = 50u << (w->retries < 5 ? w->retries : 5);
    if (hb_watcher_wake_in(w->w, ms) < 0)
        return; /* the timer failed: the next file event still rebuilds */
    w->retries++;
    for (size_t i = 0; i < w->nplugs; i++)
        if (w->plugs[i].stale && !w->plugs[i].orphaned)
            hb__emit(w->sb->m, w->sb, HB_EVENT_NOTICE, w->plugs[i].name, 0, 0, 0, NULL,
                     "%s: its files kept changing during every build (a file outside the "
                     "watched directories?); building it again in %u ms",
                     w->plugs[i].name, ms);
}

/* Builds the plugins marked in touched (and the stale ones), providers
 * first. Returns how many it built. */
int hb__watch_build_marked(hb_watch *w, bool *touched)
{
    size_t order_n = 0;
    size_t *order = calloc(w->nplugs + 1, sizeof(size_t));
    if (!order)
        return -ENOMEM;
    for (size_t i = 0; i < w->nplugs; i++)
        if ((touched[i] || w->plugs[i].stale) && !w->plugs[i].orphaned)
            order[order_n++] = i;
    hb__dependency_order(w->sb->m, order, order_n, w->plugs, sizeof(wplug),
                         offsetof(wplug, name));
    for (size_t k = 0; k < order_n; k++)
        build_plug(w, &w->plugs[order[k]]);
    free(order);
    /* A file that changed during a build normally leaves inotify events
     * that bring us back once it is quiet; one outside the watched roots
     * (a header elsewhere) does not: build again now, a bounded number of
     * times. */
    int n = (int)order_n;
    for (int round = 0; round < 4 && any_stale(w) && hb_watcher_pending(w->w) == 0; round++)
        for (size_t i = 0; i < w->nplugs; i++)
            if (w->plugs[i].stale && !w->plugs[i].orphaned) {
                build_plug(w, &w->plugs[i]);
                n++;
            }
    if (!any_stale(w))
        w->retries = 0;
    else if (hb_watcher_pending(w->w) == 0)
        arm_retry(w);
    return n;
}

/* Forgets (and unloads) the plugins whose directory disappeared, or whose
 * root did; returns how many. A provider stays while a loaded plugin is
 * linked against it: unloading it would leave that plugin running its code
 * while saying it is gone, and bind nothing to it when it is back. When its
 * directory returns, it is reloaded and its dependents re-bound. */
int hb__watch_drop_gone(hb_watch *w)
{
    hb_sandbox *sb = w->sb;
    int count = 0;
    for (size_t i = 0; i < w->nplugs;) {
        wplug *p = &w->plugs[i];
        struct stat st;
        if (stat(p->dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
            const char *user = p->loaded ? loaded_dependent(w, p) : NULL;
            if (user) {
                if (!p->orphaned)
                    hb__emit(sb->m, sb, HB_EVENT_WARNING, p->name, 0, 0, 0, NULL,
                             "%s: its directory %s is gone, but %s is linked against it: "
                             "%s stays loaded until its directory is back or %s no longer "
                             "needs it",
                             p->name, p->dir, user, p->name, user);
                p->orphaned = true;
                i++;
                continue;
            }
            remove_plug(w, p);
            count++;
            continue;
        }
        p->orphaned = false;
        i++;
    }
    return count;
}

int hb_watch_pending(hb_watch *w)
{
    if (!w)
        return -EINVAL;
    int r = hb_watcher_pending(w->w);
    return r != 0 ? r : any_stale(w) ? 1 : 0;
}

int hb_watch_process(hb_watch *w)
{
    if (!w)
        return -EINVAL;
    hb_sandbox *sb = w->sb;
    hb_change_set cs;
    hb_change_set_init(&cs);
    int r = hb_watcher_process(w->w, &cs);
    if (r < 0) {
        free(sb->last_error);
        sb->last_error = hb__asprintf("watching failed: %s", hb_watcher_last_error(w->w));
        return r;
    }
    if (r == 0) {
        /* Nothing settled. Stale plugins are built again once their files
         * are quiet: when no change is pending (an edit that went back to
         * the content already seen settles as no change at all). */
        if (w->paused || !any_stale(w) || hb_watcher_next_timeout_ms(w->w) >= 0)
            return 0;
        bool *none = calloc(w->nplugs + 1, sizeof(bool));
        if (!none)
            return -ENOMEM;
        sb->detect_ms = 0;
        int n = hb__watch_build_marked(w, none);
        free(none);
        return n;
    }
    for (size_t i = 0; i < cs.n_warnings; i++)
        hb__emit(sb->m, sb, HB_EVENT_WARNING, NULL, 0, 0, 0, NULL, "%s", cs.warnings[i]);
    if (cs.overflowed)
        hb__emit(sb->m, sb, HB_EVENT_WARNING, NULL, 0, 0, 0, NULL,
                 "the inotify queue overflowed; every watched tree was rescanned by checksum");
    for (size_t i = 0; i < cs.n_gone_roots; i++)
        hb__emit(sb->m, sb, HB_EVENT_WARNING, NULL, 0, 0, 0, NULL,
                 "%s was deleted or renamed: its plugins are unloaded; it is watched again when a directory of that name comes back",
                 cs.gone_roots[i]);

    /* 1. Plugin directories that disappeared, or whose roots did (twice:
     * a provider kept for a dependent removed later in the list goes too). */
    int count = 0;
    if (w->paused)
        w->gone_deferred |= cs.n_gone_roots > 0 || cs.n_changes > 0;
    else
        count = hb__watch_drop_gone(w) + hb__watch_drop_gone(w);
    /* 2. Which plugins the changes touch (each once), and new plugin dirs. */
    bool *touched = calloc(w->nplugs + cs.n_changes + 1, sizeof(bool));
    if (!touched) {
        hb_change_set_release(&cs);
        return -ENOMEM;
    }
    for (size_t c = 0; c < cs.n_changes; c++) {
        const char *path = cs.changes[c].path;
        bool matched = false, in_plugin = false;
        for (size_t i = 0; i < w->nplugs; i++) {
            bool inside = path_in(path, w->plugs[i].dir);
            in_plugin |= inside;
            if (inside || hb__strv_contains(w->plugs[i].inputs, path) ||
                hb__strv_contains(w->plugs[i].followed, path)) {
                touched[i] = true;
                matched = true;
            }
        }
        /* A failed compile records no inputs: the header that broke it (or
         * was missing) may be any file outside the plugins or any header.
         * Failed plugins are retried when one changes. */
        if (!cs.changes[c].is_dir && (!in_plugin || hb__has_suffix(path, ".h")))
            for (size_t i = 0; i < w->nplugs; i++)
                touched[i] |= w->plugs[i].failed;
        if (matched || cs.changes[c].kind == HB_CHANGE_DELETED)
            continue;
        /* A file in a new directory directly under a container root. */
        char *dir = cs.changes[c].is_dir ? strdup(path) : NULL;
        if (!dir) {
            char *slash = strrchr(path, '/');
            dir = slash ? strndup(path, (size_t)(slash - path)) : NULL;
        }
        if (dir && (under_container_root(w, dir) || is_plugin_root(w, dir)) && has_sources(dir) &&
            !find_plug_dir(w, dir)) {
            wplug *np = add_plug(w, dir);
            if (np)
                touched[np - w->plugs] = true;
        }
        free(dir);
    }
    sb->detect_ms = detect_latency(&cs);
    hb_change_set_release(&cs);

    /* 3. Rebuild in order: plugins others depend on come first; while
     * paused, only remember what to build at hb_watch_resume. */
    if (w->paused) {
        hb__watch_defer(w, touched);
        free(touched);
        return 0;
    }
    int built = hb__watch_build_marked(w, touched);
    sb->detect_ms = 0;
    free(touched);
    if (built < 0)
        return built;
    return count + built;
}
