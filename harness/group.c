/* harness/group.c - hb_reload: build the plugin again and make the new
 * version active; a provider that loaded plugins depend on is reloaded
 * together with them, atomically (checkpoint and unload the dependents,
 * swap the provider, load the dependents again bound to it; any failure
 * puts every member back). Also the order watch mode builds plugins in
 * (hb__dependency_order). The dependency graph is versions/graph.c; this
 * file is where the harness turns the store's `depends` lists into its
 * nodes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox_impl.h"
#include "graph.h"

/* Releases graph nodes whose `depends` lists are malloc'ed. */
static void free_nodes(hb_graph_node *nodes, size_t n)
{
    for (size_t i = 0; nodes && i < n; i++)
        hb__strv_free((char **)nodes[i].depends);
    free(nodes);
}

/* ---- build order ---------------------------------------------------------------- */

static const char *name_at(const void *recs, size_t rec_size, size_t name_off, size_t i)
{
    return *(char *const *)((const char *)recs + i * rec_size + name_off);
}

void hb__dependency_order(hb_manager *m, size_t *idx, size_t n, const void *recs,
                          size_t rec_size, size_t name_off)
{
    if (n < 2)
        return;
    hb_graph_node *nodes = calloc(n, sizeof(*nodes));
    size_t *order = calloc(n, sizeof(size_t));
    size_t *out = calloc(n, sizeof(size_t));
    if (!nodes || !order || !out)
        goto out;
    for (size_t i = 0; i < n; i++) {
        nodes[i].name = name_at(recs, rec_size, name_off, idx[i]);
        hb_version_rec rec = {0};
        int r = hb_store_latest(m->store, nodes[i].name, &rec);
        if (r == 0) {
            nodes[i].depends = rec.depends;
            rec.depends = NULL;
        }
        hb_version_rec_release(&rec);
    }
    if (hb_graph_order(nodes, n, order) == 0) {
        for (size_t k = 0; k < n; k++)
            out[k] = idx[order[k]];
        memcpy(idx, out, n * sizeof(size_t));
    }
out:
    free_nodes(nodes, n);
    HB_FREE_ALL(order, out);
}

/* ---- reloading a provider with its dependents ----------------------------------- */

/* The `depends` of each slot's active version, as graph nodes (the lists
 * are malloc'ed: release with free_nodes). */
static hb_graph_node *slot_nodes(hb_sandbox *sb)
{
    hb_graph_node *nodes = calloc(sb->nslots + 1, sizeof(*nodes));
    for (size_t i = 0; nodes && i < sb->nslots; i++) {
        hb_version_rec rec = {0};
        int r = hb_store_get(sb->m->store, sb->slots[i].name, sb->slots[i].version, &rec);
        nodes[i].name = sb->slots[i].name;
        nodes[i].depends = r == 0 ? rec.depends : NULL;
        rec.depends = NULL;
        hb_version_rec_release(&rec);
    }
    return nodes;
}

/* The slots that depend on slot pi (transitively), in load order, into
 * dep (room for nslots); their count. */
static size_t find_dependents(hb_sandbox *sb, size_t pi, size_t *dep)
{
    hb_graph_node *nodes = slot_nodes(sb);
    bool *is = calloc(sb->nslots + 1, sizeof(bool));
    size_t n = 0;
    if (nodes && is && hb_graph_dependents(nodes, sb->nslots, pi, is) == 0)
        for (size_t i = 0; i < sb->nslots; i++)
            if (is[i])
                dep[n++] = i;
    free(is);
    free_nodes(nodes, sb->nslots);
    return n;
}

/* Loads the dependents dep[from..to) again with their latest checkpoints
 * (best effort: putting a group back). */
static void reload_members(hb_sandbox *sb, const size_t *dep, size_t from, size_t to)
{
    char *err = NULL;
    for (size_t k = from; k < to; k++) {
        hb__rpc_reload_slot(sb, &sb->slots[dep[k]], &err);
        free(err);
        err = NULL;
    }
}

/* Step 1: the dependents, last loaded first: state saved, then unloaded.
 * *unloaded counts those gone (the last *unloaded of dep). */
static int unbind_dependents(hb_sandbox *sb, const char *provider, const size_t *dep, size_t n,
                             size_t *unloaded)
{
    char *err = NULL;
    int r = 0;
    for (size_t k = n; k-- > 0;) {
        hb_slot *d = &sb->slots[dep[k]];
        if ((d->hooks & HB_PROTO_HOOK_SAVE) && (r = hb__checkpoint_one(sb, d)) < 0)
            break;
        if ((r = hb__rpc_unload(sb, d->name, &err)) < 0) {
            hb__sandbox_fail(sb, r, "unloading %s to re-bind it to %s failed: %s", d->name, provider,
                        err ? err : hb_strerror(r));
            break;
        }
        (*unloaded)++;
    }
    free(err);
    return r;
}

/* Step 3 failed at dependent k: the whole group goes back (dependents
 * unloaded, the provider rolled back, the dependents loaded again). */
static int rebind_failed(hb_sandbox *sb, const char *provider, uint64_t old_version,
                         const hb_version_rec *rec, const hb_timings *t, const size_t *dep,
                         size_t n, size_t k, pid_t pid, int r, const char *err)
{
    hb_slot *d = &sb->slots[dep[k]];
    hb__sandbox_fail(sb, r, "%s v%llu could not be re-bound to %s v%llu: %s; the whole group goes back",
                d->name, (unsigned long long)d->version, provider,
                (unsigned long long)rec->version, err ? err : hb_strerror(r));
    char *why = strdup(sb->last_error);
    char *e2 = NULL;
    for (size_t j = k; j-- > 0;) {
        hb__rpc_unload(sb, sb->slots[dep[j]].name, &e2);
        free(e2);
        e2 = NULL;
    }
    if (sb->wc.pid == pid)
        hb__rollback_to(sb, provider, old_version);
    hb__set_status(sb, provider, rec->version, HB_VERSION_BAD);
    if (sb->wc.pid == pid)
        reload_members(sb, dep, 0, n);
    if (why)
        hb__sandbox_set_err(sb, why);
    hb__emit(sb->m, sb, HB_EVENT_SWAP_FAILED, provider, rec->version, old_version, r, t, "%s",
             sb->last_error);
    return r;
}

/* Reloads the provider in slot pi to rec together with the plugins that
 * depend on it (dep[0..n), in load order), atomically. */
static int reload_group(hb_sandbox *sb, size_t pi, const hb_version_rec *rec, hb_timings *t,
                        uint64_t t0, const size_t *dep, size_t n)
{
    char *provider = strdup(sb->slots[pi].name);
    if (!provider)
        return hb__sandbox_fail(sb, -ENOMEM, "out of memory");
    pid_t pid = sb->wc.pid;
    uint64_t old_version = sb->slots[pi].version;
    char *err = NULL;
    size_t unloaded = 0;
    int r = unbind_dependents(sb, provider, dep, n, &unloaded);
    if (r < 0) {
        /* Put back those already unloaded (the provider never changed). */
        if (sb->wc.pid == pid)
            reload_members(sb, dep, n - unloaded, n);
        goto out;
    }
    r = hb__swap_to(sb, &sb->slots[pi], rec, t, false, t0); /* step 2: the provider */
    if (sb->wc.pid != pid) {
        r = r < 0 ? r : HB_ECRASHED; /* a restarted worker loaded everyone */
        goto out;
    }
    if (r < 0) {
        /* The provider did not change: the dependents go back as they were. */
        char *why = strdup(sb->last_error ? sb->last_error : "");
        reload_members(sb, dep, 0, n);
        if (why)
            hb__sandbox_set_err(sb, why);
        goto out;
    }
    /* Step 3: the dependents again, in load order, bound to the new provider. */
    for (size_t k = 0; k < n; k++) {
        if ((r = hb__rpc_reload_slot(sb, &sb->slots[dep[k]], &err)) < 0) {
            r = rebind_failed(sb, provider, old_version, rec, t, dep, n, k, pid, r, err);
            goto out;
        }
    }
    hb__emit(sb->m, sb, HB_EVENT_NOTICE, provider, rec->version, old_version, 0, t,
             "%s v%llu -> v%llu with %zu dependent plugin%s re-bound in order", provider,
             (unsigned long long)old_version, (unsigned long long)rec->version, n,
             n == 1 ? "" : "s");
out:
    free(provider);
    free(err);
    return r;
}

int hb__reload_with_dependents(hb_sandbox *sb, hb_slot *s, const hb_version_rec *rec,
                               hb_timings *t, uint64_t t0)
{
    size_t pi = (size_t)(s - sb->slots);
    size_t *dep = calloc(sb->nslots + 1, sizeof(size_t));
    size_t n = dep ? find_dependents(sb, pi, dep) : 0;
    int r = n ? reload_group(sb, pi, rec, t, t0, dep, n) : hb__swap_to(sb, s, rec, t, false, t0);
    free(dep);
    return r;
}

/* The build is a version that failed before and its inputs are the same:
 * not retried until the source changes. (A rolled-back version is retried:
 * reloading is an explicit request.) */
static int refuse_bad(hb_sandbox *sb, const char *plugin, const hb_version_rec *rec,
                      const hb_slot *s)
{
    int r = hb__sandbox_fail(sb, HB_EBADVERSION,
                        "%s v%llu is marked bad and its source has not changed since: v%llu keeps serving",
                        plugin, (unsigned long long)rec->version, (unsigned long long)s->version);
    hb__emit(sb->m, sb, HB_EVENT_WARNING, plugin, rec->version, s->version, r, NULL, "%s",
             sb->last_error);
    return r;
}

int hb__reload_to_built(hb_sandbox *sb, const char *plugin, hb_build_out *b, uint64_t t0)
{
    int r = hb__ensure_worker(sb);
    if (r < 0)
        return r;
    hb_slot *s = hb__slot_find(sb, plugin);
    if (!s) /* a restart may have dropped it */
        return hb__sandbox_fail(sb, HB_ENOPLUGIN, "plugin %s was lost when its worker restarted",
                                plugin);
    if (b->rec.version == s->version)
        return 0; /* nothing changed */
    if (b->rec.status == HB_VERSION_BAD)
        return refuse_bad(sb, plugin, &b->rec, s);
    return hb__reload_with_dependents(sb, s, &b->rec, &b->t, t0);
}

int hb_reload(hb_sandbox *sb, const char *plugin)
{
    if (!sb || !plugin)
        return -EINVAL;
    int r = hb__sandbox_usable(sb);
    if (r < 0)
        return r;
    hb_slot *s = hb__slot_find(sb, plugin);
    if (!s)
        return hb__sandbox_fail(sb, HB_ENOPLUGIN, "plugin %s is not loaded in sandbox %s", plugin,
                           sb->name);
    if (!*s->dir) /* loaded from a prebuilt object: there are no sources */
        return hb__sandbox_fail(sb, -EOPNOTSUPP,
                                "plugin %s was loaded from a prebuilt object, not built from a "
                                "directory: load the new object with hb_load_object",
                                plugin);
    uint64_t t0 = hb__now_ns();
    hb_build_out b = {0};
    char *dir = strdup(s->dir);
    r = dir ? hb__build_for(sb, dir, plugin, &b) : -ENOMEM;
    free(dir);
    if (r == 0)
        r = hb__reload_to_built(sb, plugin, &b, t0);
    hb__build_out_release(&b);
    hb__store_durable(sb); /* after the event: off the swap path */
    return r;
}
