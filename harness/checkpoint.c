/* harness/checkpoint.c - state checkpoints of a sandbox's plugins: taken on
 * request, on an interval and during swaps, kept in memory per slot
 * (state/), and persisted in the catalogue for a named sandbox so a later
 * run with the same name resumes from them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox_impl.h"

/* Writes the slot's latest checkpoint to the catalogue when the sandbox is
 * named. Failure to persist is an event, not an error: the in-memory
 * checkpoint still holds. */
static void persist(hb_sandbox *sb, hb_slot *s)
{
    if (!sb->named || !s->ckpts.latest.valid)
        return;
    int r = hb_store_checkpoint_put(sb->m->store, s->name, sb->name, s->ckpts.latest.version,
                                    s->ckpts.latest.schema, s->ckpts.latest.data,
                                    s->ckpts.latest.len);
    if (r < 0)
        hb__emit(sb->m, sb, HB_EVENT_WARNING, s->name, s->version, 0, r, NULL,
                 "could not store the checkpoint of %s: %s", s->name, hb_strerror(r));
}

int hb__checkpoint_record(hb_sandbox *sb, hb_slot *s, uint64_t version, uint32_t schema,
                          const void *state, size_t len)
{
    /* The worker enforces max_state_size on what a save hook returns, but
     * plugin code shares the worker's channel and can forge a reply with
     * more: the limit holds here, where the state is kept and persisted. */
    if (len > sb->opts.max_state_size)
        return hb__sandbox_fail(sb, HB_ESTATESIZE,
                                "%zu bytes of state for %s v%llu exceed max_state_size %zu "
                                "(a worker reply forged by plugin code?); not kept",
                                len, s->name, (unsigned long long)version,
                                sb->opts.max_state_size);
    int r = hb_ckset_record(&s->ckpts, version, schema, state, len, hb__now_ns());
    s->last_ckpt_ns = hb__now_ns();
    if (r < 0)
        return r;
    s->calls_since_ckpt = 0;
    /* Durable before anything else runs: a manager killed in the middle of
     * a swap resumes from exactly this state. */
    persist(sb, s);
    return 0;
}

struct save_ctx {
    hb_sandbox *sb;
    hb_slot *s;
};

static int on_saved(void *ud, uint64_t version, uint32_t schema, const void *state, size_t len)
{
    struct save_ctx *c = ud;
    int r = hb__checkpoint_record(c->sb, c->s, version, schema, state, len);
    if (r == HB_ESTATESIZE) /* the worker lied (its own check was bypassed): */
        hb__wc_kill(&c->sb->wc); /* replaced on the sandbox's next operation */
    return r;
}

int hb__checkpoint_one(hb_sandbox *sb, hb_slot *s)
{
    char *err = NULL;
    struct save_ctx ctx = {sb, s};
    int r = hb__rpc_save(sb, s->name, s->version, on_saved, &ctx, &err);
    if (r == HB_ECRASHED || r == HB_EHUNG || (r < 0 && err)) {
        hb__sandbox_fail(sb, r, "checkpoint of %s v%llu failed: %s", s->name,
                    (unsigned long long)s->version, err ? err : hb_strerror(r));
        free(err);
        if (r == HB_ECRASHED || r == HB_EHUNG)
            hb__recover(sb, s->name, s->version, r, sb->last_error);
        return r;
    }
    s->last_ckpt_ns = hb__now_ns(); /* asked, whether or not it has a save hook */
    free(err);
    return r;
}

void hb__checkpoint_resume(hb_sandbox *sb, const char *plugin, hb_ckpt *out)
{
    if (!sb->named)
        return;
    hb_checkpoint_rec cr = {0};
    int r = hb_store_checkpoint_get(sb->m->store, plugin, sb->name, -1, &cr);
    if (r == 0) {
        hb_checkpoint_set(out, cr.version, cr.schema, cr.blob, cr.len, hb__now_ns());
        hb_checkpoint_rec_release(&cr);
    }
}

int hb__maybe_checkpoint(hb_sandbox *sb, hb_slot *s)
{
    if (!sb->opts.checkpoint_interval_ms || !(s->hooks & HB_PROTO_HOOK_SAVE))
        return 0;
    if (hb__now_ns() - s->last_ckpt_ns < (uint64_t)sb->opts.checkpoint_interval_ms * 1000000ull)
        return 0;
    return hb__checkpoint_one(sb, s);
}

int hb_checkpoint(hb_sandbox *sb, const char *plugin)
{
    if (!sb)
        return -EINVAL;
    int r = hb__ensure_worker(sb);
    if (r < 0)
        return r;
    for (size_t i = 0; i < sb->nslots; i++) {
        hb_slot *s = &sb->slots[i];
        if (plugin && strcmp(plugin, s->name) != 0)
            continue;
        r = hb__checkpoint_one(sb, s);
        if (r < 0 || plugin)
            return r;
    }
    if (plugin)
        return hb__sandbox_fail(sb, HB_ENOPLUGIN, "plugin %s is not loaded in sandbox %s", plugin,
                           sb->name);
    return 0;
}
