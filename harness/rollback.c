/* harness/rollback.c - rolling a plugin back to an older stored version:
 * rollback_to() (used inside the library: probation, group reload) and the
 * public hb_rollback, a thin wrapper. The target is the caller's, or the
 * fallback policy's pick (versions/policy.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox_impl.h"
#include "policy.h"

static int pick_target(hb_sandbox *sb, hb_slot *s, uint64_t version, hb_version_rec *out)
{
    hb_manager *m = sb->m;
    if (version) {
        int r = hb_store_get(m->store, s->name, version, out);
        if (r < 0)
            return hb__sandbox_fail(sb, HB_ENOVERSION, "%s has no stored version %llu", s->name,
                               (unsigned long long)version);
        return 0;
    }
    int r = hb_policy_fallback_find(m->store, s->name, s->version, 0, out);
    if (r == -ENOENT)
        r = HB_ENOVERSION;
    if (r < 0)
        hb__sandbox_fail(sb, r, "%s has no good version older than v%llu to roll back to", s->name,
                    (unsigned long long)s->version);
    return r;
}

/* Loads the target fresh to learn the schema it writes, then, when there
 * is a checkpoint in that schema, loads it again with that state. *restored
 * says which happened. */
static int load_with_own_state(hb_sandbox *sb, hb_slot *s, const hb_version_rec *rec,
                               const char *path, hb_load_reply *lr, bool *restored, char **err)
{
    *restored = false;
    int r = hb__rpc_load(sb, s->name, path, rec->version, NULL, lr, err);
    const hb_ckpt *own = r == 0 ? hb_ckset_for_schema(&s->ckpts, lr->schema) : NULL;
    if (own && hb__rpc_unload(sb, s->name, err) == 0) {
        r = hb__rpc_load(sb, s->name, path, rec->version, own, lr, err);
        *restored = r == 0;
    }
    return r;
}

/* The target refused the current state (typically a newer layout it
 * cannot read). Falls back to the last checkpoint written in the target's
 * own schema, or fresh state: unload, then load the target with that
 * checkpoint, and if that fails put the current version back with the
 * state it just saved. */
static int rollback_own_state(hb_sandbox *sb, hb_slot *s, const hb_version_rec *rec,
                              hb_timings *t, uint64_t t0)
{
    const char *plugin = s->name;
    uint64_t old_version = s->version;
    int r = hb__checkpoint_one(sb, s);
    if (r < 0)
        return r;
    char *err = NULL, *path = NULL;
    hb_ckpt cur = {0};
    hb_checkpoint_set(&cur, s->ckpts.latest.version, s->ckpts.latest.schema,
                      s->ckpts.latest.data, s->ckpts.latest.len, hb__now_ns());
    if ((r = hb__rpc_unload(sb, plugin, &err)) < 0)
        goto out;
    path = hb__object_path(sb, rec->object_sha256);
    hb_load_reply lr;
    bool restored = false;
    r = path ? load_with_own_state(sb, s, rec, path, &lr, &restored, &err) : -ENOMEM;
    if (r < 0) {
        hb_load_reply back;
        if (hb__wc_alive(&sb->wc))
            hb__rpc_load(sb, plugin, s->path, old_version, &cur, &back, &err);
        goto out;
    }
    hb__slot_activate(s, path, rec->version, rec->object_sha256);
    path = NULL;
    hb__probation_clear(s);
    s->schema = lr.schema;
    s->hooks = lr.hooks;
    hb__set_status(sb, plugin, old_version, HB_VERSION_ROLLED_BACK);
    hb__set_status(sb, plugin, rec->version, HB_VERSION_ACTIVE);
    t->total_ms = hb__ms_since(t0);
    hb__emit(sb->m, sb, HB_EVENT_ROLLED_BACK, plugin, rec->version, old_version, 0, t,
             "%s v%llu -> v%llu (%s)", plugin, (unsigned long long)old_version,
             (unsigned long long)rec->version,
             restored ? "state from its own last checkpoint" : "fresh state");
    if (!restored)
        hb__emit(sb->m, sb, HB_EVENT_STATE_RESET, plugin, rec->version, old_version, 0, NULL,
                 "%s v%llu could not read v%llu's state and has no checkpoint of its own: fresh state",
                 plugin, (unsigned long long)rec->version, (unsigned long long)old_version);
out:
    if (r < 0)
        hb__sandbox_fail(sb, r, "rollback of %s to v%llu failed: %s", plugin,
                    (unsigned long long)rec->version, err ? err : hb_strerror(r));
    hb_checkpoint_release(&cur);
    free(path);
    free(err);
    return r;
}

int hb__rollback_to(hb_sandbox *sb, const char *plugin, uint64_t version)
{
    if (!hb__slot_find(sb, plugin))
        return hb__sandbox_fail(sb, HB_ENOPLUGIN, "plugin %s is not loaded in sandbox %s", plugin,
                           sb->name);
    int r = hb__ensure_worker(sb);
    if (r < 0)
        return r;
    hb_slot *s = hb__slot_find(sb, plugin);
    if (!s)
        return hb__sandbox_fail(sb, HB_ENOPLUGIN, "plugin %s was lost when its worker restarted",
                           plugin);
    hb_version_rec rec = {0};
    if ((r = pick_target(sb, s, version, &rec)) < 0)
        return r;
    if (rec.version != s->version) {
        uint64_t t0 = hb__now_ns();
        hb_timings t = {0};
        r = hb__swap_to(sb, s, &rec, &t, true, t0);
        if (r == HB_EHOOK && (s = hb__slot_find(sb, plugin)) != NULL)
            r = rollback_own_state(sb, s, &rec, &t, t0);
    }
    hb_version_rec_release(&rec);
    return r;
}

int hb_rollback(hb_sandbox *sb, const char *plugin, uint64_t version)
{
    if (!sb || !plugin)
        return -EINVAL;
    int r = hb__sandbox_usable(sb);
    if (r < 0)
        return r;
    r = hb__rollback_to(sb, plugin, version);
    hb__store_durable(sb); /* after the event: off the swap path */
    return r;
}
