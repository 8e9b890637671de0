/* harness/snapshot.c - named state snapshots of a sandbox's plugins: save
 * (the save hook, stored in the catalogue by versions/snapshots.c), restore
 * (the active version reloaded with the snapshot's state through its
 * migrate hook, or refused naming both state schemas), list and delete. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox_impl.h"

static int store_fail(hb_sandbox *sb, int r, const char *what)
{
    pthread_mutex_lock(&sb->m->lock);
    int code = hb__sandbox_fail(sb, r, "%s: %s", what, hb_store_last_error(sb->m->store));
    pthread_mutex_unlock(&sb->m->lock);
    return code;
}

static int check_name(hb_sandbox *sb, const char *name)
{
    if (hb_store_valid_snapshot_name(name))
        return 0;
    return hb__sandbox_fail(sb, -EINVAL, "snapshot name '%s' is not 1 to %d characters of "
                            "A-Z a-z 0-9 . _ -", name, HB_STORE_MAX_SNAPSHOT_NAME);
}

/* The slot of a loaded plugin whose snapshot NAME is valid, with a worker
 * running; else NULL with *r the failure (set as the sandbox's error). */
static hb_slot *snapshot_slot(hb_sandbox *sb, const char *plugin, const char *name, int *r)
{
    if ((*r = check_name(sb, name)) < 0 || (*r = hb__ensure_worker(sb)) < 0)
        return NULL;
    hb_slot *s = hb__slot_find(sb, plugin);
    if (!s)
        *r = hb__sandbox_fail(sb, HB_ENOPLUGIN, "plugin %s is not loaded in sandbox %s", plugin,
                              sb->name);
    return s;
}

int hb_snapshot_save(hb_sandbox *sb, const char *plugin, const char *name)
{
    if (!sb || !plugin || !name)
        return -EINVAL;
    int r;
    hb_slot *s = snapshot_slot(sb, plugin, name, &r);
    if (!s)
        return r;
    if (!(s->hooks & HB_PROTO_HOOK_SAVE))
        return hb__sandbox_fail(sb, -EOPNOTSUPP, "snapshot %s: %s v%llu has no save hook, so "
                                "it has no state to snapshot", name, plugin,
                                (unsigned long long)s->version);
    uint64_t asked = hb__now_ns(); /* the checkpoint must be one taken now */
    if ((r = hb__checkpoint_one(sb, s)) < 0)
        return r;
    if (!(s = hb__slot_find(sb, plugin)) || !s->ckpts.latest.valid ||
        s->ckpts.latest.taken_ns < asked)
        return hb__sandbox_fail(sb, HB_EHOOK, "snapshot %s: the save hook of %s gave no state",
                                name, plugin);
    const hb_ckpt *ck = &s->ckpts.latest;
    pthread_mutex_lock(&sb->m->lock);
    r = hb_store_snapshot_put(sb->m->store, plugin, name, ck->version, ck->schema, ck->data,
                              ck->len);
    pthread_mutex_unlock(&sb->m->lock);
    return r < 0 ? store_fail(sb, r, "storing the snapshot") : 0;
}

/* LOADs the slot's active version again with state ck (after an UNLOAD
 * when it is loaded in the worker). A crash or hang is recovered from as
 * for any operation. */
static int load_with(hb_sandbox *sb, hb_slot *s, bool loaded, const hb_ckpt *ck,
                     hb_load_reply *lr, char **err)
{
    int r = loaded ? hb__rpc_unload(sb, s->name, err) : 0;
    if (r == 0)
        r = hb__rpc_load(sb, s->name, s->path, s->version, ck, lr, err);
    if (r == HB_ECRASHED || r == HB_EHUNG)
        hb__recover(sb, s->name, s->version, r, *err ? *err : hb_strerror(r));
    return r;
}

/* The snapshot went in: it is the plugin's checkpoint from now on. */
static int restored(hb_sandbox *sb, hb_slot *s, const hb_checkpoint_rec *snap,
                    const hb_load_reply *lr)
{
    s->schema = lr->schema;
    s->hooks = lr->hooks;
    s->state_lost = false;
    return hb__checkpoint_record(sb, s, snap->version, snap->schema, snap->blob, snap->len);
}

static int restore(hb_sandbox *sb, hb_slot *s, const char *plugin, const char *name,
                   const hb_checkpoint_rec *snap)
{
    if (!(s->hooks & HB_PROTO_HOOK_MIGRATE))
        return hb__sandbox_fail(sb, HB_ESNAPSHOT, "snapshot %s of %s (state schema %u, saved by "
                                "v%llu) cannot be restored: the active v%llu (state schema %u) "
                                "has no migrate hook", name, s->name, snap->schema,
                                (unsigned long long)snap->version,
                                (unsigned long long)s->version, s->schema);
    /* The state it has now, to go back to if the snapshot is refused. */
    int r = hb__checkpoint_one(sb, s);
    if (r < 0)
        return r;
    hb_ckpt now = {0};
    if (s->ckpts.latest.valid &&
        hb_checkpoint_set(&now, s->ckpts.latest.version, s->ckpts.latest.schema,
                          s->ckpts.latest.data, s->ckpts.latest.len, hb__now_ns()) < 0)
        return -ENOMEM;
    hb_ckpt want = {0};
    if (hb_checkpoint_set(&want, snap->version, snap->schema, snap->blob, snap->len,
                          hb__now_ns()) < 0) {
        hb_checkpoint_release(&now);
        return -ENOMEM;
    }
    char *err = NULL;
    hb_load_reply lr;
    uint32_t active_schema = s->schema;
    r = load_with(sb, s, true, &want, &lr, &err);
    if (r != 0 && r != HB_EHOOK)
        s = NULL; /* may be gone: a crash was recovered from (recover.c) */
    if (r == 0 && lr.state_result == HB_PROTO_STATE_CARRIED) {
        r = restored(sb, s, snap, &lr);
    } else if (r == 0 || r == HB_EHOOK) {
        /* Refused: back to the state it had. */
        char *err2 = NULL;
        uint64_t active = s->version;
        int back = load_with(sb, s, r == 0, now.valid ? &now : NULL, &lr, &err2);
        if (back == 0) {
            s->schema = lr.schema;
            s->hooks = lr.hooks;
        } /* else recovered from a crash: s may be gone */
        r = hb__sandbox_fail(sb, HB_ESNAPSHOT, "snapshot %s of %s (state schema %u, saved by "
                             "v%llu) was refused by the migrate hook of the active v%llu (state "
                             "schema %u)%s%s; %s", name, plugin, snap->schema,
                             (unsigned long long)snap->version, (unsigned long long)active,
                             active_schema, err ? ": " : "", err ? err : "",
                             back == 0 ? "it keeps the state it had"
                                       : "it could not be given back the state it had");
        free(err2);
    } else {
        r = hb__sandbox_fail(sb, r, "restoring snapshot %s of %s: %s", name, plugin,
                             err ? err : hb_strerror(r));
    }
    free(err);
    hb_checkpoint_release(&want);
    hb_checkpoint_release(&now);
    return r;
}

int hb_snapshot_restore(hb_sandbox *sb, const char *plugin, const char *name)
{
    if (!sb || !plugin || !name)
        return -EINVAL;
    return hb__snapshot_restore(sb, plugin, name);
}

int hb__snapshot_restore(hb_sandbox *sb, const char *plugin, const char *name)
{
    int r;
    hb_slot *s = snapshot_slot(sb, plugin, name, &r);
    if (!s)
        return r;
    hb_checkpoint_rec snap = {0};
    pthread_mutex_lock(&sb->m->lock);
    r = hb_store_snapshot_get(sb->m->store, plugin, name, &snap);
    pthread_mutex_unlock(&sb->m->lock);
    if (r < 0)
        return store_fail(sb, r, "restoring a snapshot");
    /* Taken where the limit was higher: refused before the worker sees it
     * (hb__checkpoint_record would refuse it only after the load). */
    if (snap.len > sb->opts.max_state_size) {
        r = hb__sandbox_fail(sb, HB_ESTATESIZE,
                             "stored snapshot %s of %s (saved by v%llu) is %zu bytes, more than "
                             "this sandbox's max_state_size %zu: not restored; it keeps the "
                             "state it had",
                             name, plugin, (unsigned long long)snap.version, snap.len,
                             sb->opts.max_state_size);
        hb_checkpoint_rec_release(&snap);
        return r;
    }
    /* Our own copy: plugin may be the slot's name, which a crash during
     * the restore can take away (recover.c drops a slot it cannot load). */
    char *pname = strdup(plugin);
    r = pname ? restore(sb, s, pname, name, &snap) : -ENOMEM;
    free(pname);
    hb_checkpoint_rec_release(&snap);
    return r;
}

int hb_snapshot_list(hb_sandbox *sb, const char *plugin, const char *const **names,
                     size_t *count)
{
    if (!sb || !plugin || !names || !count)
        return -EINVAL;
    int r = hb__sandbox_usable(sb);
    if (r < 0)
        return r;
    char **v = NULL;
    size_t n = 0;
    pthread_mutex_lock(&sb->m->lock);
    r = hb_store_snapshot_list(sb->m->store, plugin, &v, &n);
    pthread_mutex_unlock(&sb->m->lock);
    if (r < 0)
        return store_fail(sb, r, "listing snapshots");
    char **nv = realloc(v, (n + 1) * sizeof(*nv)); /* room for the NULL */
    if (!nv) {
        hb_store_snapshot_names_free(v, n);
        return -ENOMEM;
    }
    nv[n] = NULL;
    hb_store_snapshot_names_free(sb->pub_snapshots, sb->npub_snapshots);
    sb->pub_snapshots = nv;
    sb->npub_snapshots = n;
    *names = (const char *const *)nv;
    *count = n;
    return 0;
}

int hb_snapshot_delete(hb_sandbox *sb, const char *plugin, const char *name)
{
    if (!sb || !plugin || !name)
        return -EINVAL;
    int r = check_name(sb, name);
    if (r < 0 || (r = hb__sandbox_usable(sb)) < 0)
        return r;
    pthread_mutex_lock(&sb->m->lock);
    r = hb_store_snapshot_delete(sb->m->store, plugin, name);
    pthread_mutex_unlock(&sb->m->lock);
    return r < 0 ? store_fail(sb, r, "deleting a snapshot") : 0;
}
