/* harness/load.c - hb_load: build a plugin directory into a stored
 * version, check it against the profile's import policy and load it into
 * the sandbox's worker (resuming a named sandbox's stored checkpoint); and
 * the build and policy steps that a reload shares. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox_impl.h"
#include "policy.h"

int hb__build_for(hb_sandbox *sb, const char *dir, const char *plugin, hb_build_out *b)
{
    char *err = NULL;
    int r = hb__build_ex(sb->m, dir, plugin, !sb->build_fresh, b, &err);
    if (r < 0) {
        hb_compile_result_release(&sb->last_compile);
        sb->last_compile = b->cres;
        memset(&b->cres, 0, sizeof(b->cres));
        hb__sandbox_set_err(sb, err);
        hb_event_type type = r == HB_ECOMPILE || r == HB_ECHANGED ? HB_EVENT_COMPILE_FAILED
                                                                 : HB_EVENT_SWAP_FAILED;
        if (sb->held)
            hb__hold_event(sb->held, type, plugin, r, &b->t, sb->last_error);
        else
            hb__emit(sb->m, sb, type, plugin, 0, 0, r, &b->t, "%s", err ? err : hb_strerror(r));
        return r;
    }
    free(err);
    if (b->cache_hit)
        return 0;
    /* Keep this compile's warnings for hb_sandbox_diagnostics. */
    hb_compile_result_release(&sb->last_compile);
    sb->last_compile = b->cres;
    memset(&b->cres, 0, sizeof(b->cres));
    hb__emit(sb->m, sb, HB_EVENT_COMPILED, plugin, b->rec.version, 0, 0, &b->t,
             "%s v%llu compiled in %.1f ms", plugin, (unsigned long long)b->rec.version,
             b->t.compile_ms);
    return 0;
}

int hb__check_policy(hb_sandbox *sb, const hb_version_rec *rec)
{
    hb_profile prof = hb__runtime_profile(sb);
    char **imports = hb__strv_dup(rec->imports);
    char **needed = hb__strv_dup(rec->needed);
    /* Other plugins are not libraries: the policy checks them on their own
     * load. Drop their SONAMEs from the list. */
    for (size_t i = 0, k = 0; needed; i++) {
        if (needed[i] && strncmp(needed[i], "hotbox-plugin-", 14) == 0) {
            free(needed[i]);
            continue;
        }
        needed[k++] = needed[i];
        if (!needed[i])
            break;
    }
    char *err = NULL;
    int r = imports && needed ? hb_sec_check_imports(prof, imports, needed, &err) : -ENOMEM;
    hb__strv_free(imports);
    hb__strv_free(needed);
    if (r < 0) {
        hb__sandbox_fail(sb, r, "%s v%llu %s", rec->plugin, (unsigned long long)rec->version,
                    err ? err : hb_strerror(r));
        hb__emit(sb->m, sb, HB_EVENT_SWAP_FAILED, rec->plugin, rec->version, 0, r, NULL, "%s",
                 sb->last_error);
    }
    free(err);
    return r;
}

/* The build is a version that was rolled back or failed and its source has
 * not changed since: load the version a pin left in force instead (versions
 * policy), verified, with a warning. Nothing to do when there is none. */
static int honour_pin(hb_sandbox *sb, const char *name, hb_version_rec *rec)
{
    if (rec->status != HB_VERSION_BAD && rec->status != HB_VERSION_ROLLED_BACK)
        return 0;
    hb_version_rec pin;
    if (hb_policy_pin_find(sb->m->store, rec->plugin, rec->version, &pin) < 0)
        return 0;
    hb__emit(sb->m, sb, HB_EVENT_WARNING, name, pin.version, rec->version, 0, NULL,
             "%s v%llu is %s and its source has not changed: loading v%llu instead", name,
             (unsigned long long)rec->version,
             rec->status == HB_VERSION_BAD ? "marked bad" : "rolled back",
             (unsigned long long)pin.version);
    hb_version_rec_release(rec);
    *rec = pin;
    char *verr = NULL;
    int r = hb__verify_object(sb->m, rec, &verr);
    if (r < 0)
        hb__sandbox_set_err(sb, verr);
    else
        free(verr);
    return r;
}

/* Whether one more plugin may be loaded under this name. */
int hb__load_room(hb_sandbox *sb, const char *name)
{
    if (hb__slot_find(sb, name))
        return hb__sandbox_fail(sb, -EEXIST, "plugin %s is already loaded in sandbox %s; use reload",
                           name, sb->name);
    if (sb->nslots >= sb->opts.max_plugins)
        return hb__sandbox_fail(sb, HB_ELIMIT, "sandbox %s already holds %u plugins (max_plugins)",
                           sb->name, sb->opts.max_plugins);
    return 0;
}

/* LOAD into the worker, with the resumed state when there is one: a
 * plugin that refuses it starts fresh (event); a worker out of descriptors
 * is restarted and the load tried again. */
static int load_into_worker(hb_sandbox *sb, const char *name, const char *path,
                            uint64_t version, hb_ckpt *resume, hb_load_reply *lr, char **err)
{
    int r = hb__rpc_load(sb, name, path, version, resume->valid ? resume : NULL, lr, err);
    if (r == HB_EHOOK && resume->valid) {
        hb__emit(sb->m, sb, HB_EVENT_STATE_RESET, name, version, 0, r, NULL,
                 "%s v%llu refused the stored checkpoint (%s); it starts with fresh state", name,
                 (unsigned long long)version, *err ? *err : "");
        hb_checkpoint_release(resume);
        r = hb__rpc_load(sb, name, path, version, NULL, lr, err);
    }
    if (r == -EMFILE && hb__recover_fds(sb) == 0) /* not this plugin's fault */
        r = hb__rpc_load(sb, name, path, version, resume->valid ? resume : NULL, lr, err);
    return r;
}

/* A failed load: the version is marked bad, the failure reported, and a
 * dead worker recovered. */
static int load_failed(hb_sandbox *sb, const char *name, const hb_build_out *b, int r,
                       const char *err)
{
    hb__set_status(sb, name, b->rec.version, HB_VERSION_BAD);
    hb__sandbox_fail(sb, r, "loading %s v%llu failed: %s", name, (unsigned long long)b->rec.version,
                err ? err : hb_strerror(r));
    hb__emit(sb->m, sb, HB_EVENT_SWAP_FAILED, name, b->rec.version, 0, r, &b->t, "%s",
             sb->last_error);
    if (r == HB_ECRASHED || r == HB_EHUNG)
        hb__recover(sb, name, b->rec.version, r, sb->last_error);
    return r;
}

/* The new slot for a loaded plugin (takes name, dir and path). The slots
 * array has room for it. */
static hb_slot *add_slot(hb_sandbox *sb, char *name, char *dir, char *path,
                         const hb_version_rec *rec, const hb_load_reply *lr, const hb_ckpt *resume)
{
    hb_slot *s = &sb->slots[sb->nslots++];
    memset(s, 0, sizeof(*s));
    if (resume->valid) /* the resumed state is this plugin's checkpoint until a newer one */
        hb_ckset_record(&s->ckpts, resume->version, resume->schema, resume->data, resume->len,
                        hb__now_ns());
    s->name = name;
    s->dir = dir;
    hb__slot_set_version(s, path, rec->version, rec->object_sha256);
    if (sb->rt_pending_name && !strcmp(sb->rt_pending_name, name)) {
        /* The runtime section hb__runtime_prepare_load read for this load. */
        s->rt = sb->rt_pending;
        memset(&sb->rt_pending, 0, sizeof(sb->rt_pending));
    }
    s->schema = lr->schema;
    s->hooks = lr->hooks;
    s->last_ckpt_ns = hb__now_ns();
    hb__set_status(sb, s->name, s->version, HB_VERSION_ACTIVE);
    return s;
}

int hb__load_stored(hb_sandbox *sb, char **name, char **dir, hb_build_out *b, uint64_t t0)
{
    char *path = NULL, *err = NULL;
    hb_ckpt resume = {0};
    int r = 0;
    /* A prebuilt object (no directory) has no plugin.json. */
    if (**dir && (r = hb__runtime_prepare_load(sb, *name, *dir)) < 0)
        goto out;
    if ((r = hb__check_policy(sb, &b->rec)) < 0) {
        hb__set_status(sb, *name, b->rec.version, HB_VERSION_BAD);
        goto out;
    }
    if ((r = hb__runtime_apply(sb, *name)) < 0 || (r = hb__ensure_worker(sb)) < 0)
        goto out;
    path = hb__object_path(sb, b->rec.object_sha256);
    hb_slot *ns = realloc(sb->slots, (sb->nslots + 1) * sizeof(*ns));
    if (ns)
        sb->slots = ns;
    if (!path || !ns) {
        r = hb__sandbox_fail(sb, -ENOMEM, "out of memory");
        goto out;
    }
    hb__checkpoint_resume(sb, *name, &resume); /* a named sandbox resumes */
    hb_load_reply lr;
    uint64_t ts = hb__now_ns();
    r = load_into_worker(sb, *name, path, b->rec.version, &resume, &lr, &err);
    b->t.swap_ms = hb__ms_since(ts);
    b->t.total_ms = hb__ms_since(t0);
    if (r < 0) {
        load_failed(sb, *name, b, r, err);
        goto out;
    }
    hb_slot *s = add_slot(sb, *name, *dir, path, &b->rec, &lr, &resume);
    *name = *dir = path = NULL;
    hb__emit(sb->m, sb, HB_EVENT_LOADED, s->name, s->version, 0, 0, &b->t,
             "%s v%llu loaded (%.1f ms)%s", s->name, (unsigned long long)s->version, b->t.total_ms,
             resume.valid && lr.state_result == HB_PROTO_STATE_CARRIED
                 ? "; state resumed from its stored checkpoint" : "");
    if (sb->from_snapshot) /* the sandbox starts from a snapshot */
        r = hb__snapshot_restore(sb, s->name, sb->from_snapshot);
out:
    hb__runtime_pending_clear(sb);
    hb_checkpoint_release(&resume);
    hb__store_durable(sb); /* after the event: off the load path */
    free(path);
    free(err);
    return r;
}

int hb_load(hb_sandbox *sb, const char *dir)
{
    if (!sb || !dir)
        return -EINVAL;
    int r = hb__sandbox_usable(sb);
    if (r < 0)
        return r;
    char *abs = NULL, *name = NULL, *err = NULL;
    r = hb__resolve_plugin_dir(dir, &abs, &name, &err);
    if (r < 0) {
        hb__sandbox_set_err(sb, err);
        return r;
    }
    hb_build_out b = {0};
    uint64_t t0 = hb__now_ns();
    if ((r = hb__load_room(sb, name)) == 0 && (r = hb__build_for(sb, abs, name, &b)) == 0 &&
        (r = honour_pin(sb, name, &b.rec)) == 0)
        r = hb__load_stored(sb, &name, &abs, &b, t0);
    hb__build_out_release(&b);
    free(abs);
    free(name);
    return r;
}
