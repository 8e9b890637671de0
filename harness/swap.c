/* harness/swap.c - swapping a loaded plugin to another stored version in
 * place, with its state: verify the object, check the import policy, show
 * it to the worker, SWAP (the old version's state is checkpointed on the
 * way), then update the slot, the catalogue, probation and events. Shared
 * by reload (group.c) and rollback (rollback.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "edittrace.h"
#include "sandbox_impl.h"

/* What the slot was before the swap (the swap may change it). */
typedef struct swap_from {
    uint64_t version;
    uint32_t hooks, schema;
    char sha[HB_SHA256_HEX];
} swap_from;

static const char *state_note(uint8_t state_result, uint32_t old_hooks)
{
    if (state_result == HB_PROTO_STATE_CARRIED)
        return "state carried";
    if (!(old_hooks & HB_PROTO_HOOK_SAVE))
        return "fresh state: the old version has no save hook";
    return "fresh state: the new version has no migrate hook";
}

/* Step 1: the object verifies, passes the profile's import policy and is
 * visible to the worker. *path: its stored path (malloc'ed). */
static int prepare(hb_sandbox *sb, hb_slot *s, const hb_version_rec *rec, hb_timings *t,
                   bool is_rollback, char **path)
{
    char *err = NULL;
    uint64_t tv = hb__now_ns();
    int r = hb__verify_object(sb->m, rec, &err);
    if (r == 0 && (r = hb__runtime_refresh(sb, s)) < 0) /* plugin.json runtime, may restart */
        return r;
    t->verify_ms += hb__ms_since(tv);
    if (r < 0) {
        hb__sandbox_fail(sb, r, "refusing to load %s v%llu: %s", s->name,
                    (unsigned long long)rec->version, err ? err : hb_strerror(r));
        free(err);
        return r;
    }
    if ((r = hb__check_policy(sb, rec)) < 0) {
        if (!is_rollback)
            hb__set_status(sb, s->name, rec->version, HB_VERSION_BAD);
        return r;
    }
    if (!(*path = hb__object_path(sb, rec->object_sha256)))
        return hb__sandbox_fail(sb, -ENOMEM, "out of memory");
    if ((r = hb__rpc_expose(sb, *path, &err)) < 0) {
        free(*path);
        *path = NULL;
        r = hb__sandbox_fail(sb, r, "%s", err ? err : "cannot show the object to the worker");
        free(err);
    }
    return r;
}

/* Recovers a dead worker after a failed swap, keeping the swap's error. */
static void recover_keeping_error(hb_sandbox *sb, const char *plugin, uint64_t version, int r)
{
    char *keep = strdup(sb->last_error);
    hb__recover(sb, plugin, version, r, keep ? keep : "");
    if (keep) /* recover() may have replaced last_error */
        hb__sandbox_set_err(sb, keep);
}

/* The slot now runs rec (its object at path, taken); the old version
 * becomes good (or rolled back), the new one active, on probation. */
static void commit(hb_sandbox *sb, hb_slot *s, const hb_version_rec *rec, char *path,
                   const swap_from *old, bool is_rollback)
{
    hb__slot_set_version(s, path, rec->version, rec->object_sha256); /* s->rt: prepare() */
    hb__set_status(sb, s->name, old->version,
                   is_rollback ? HB_VERSION_ROLLED_BACK : HB_VERSION_GOOD);
    hb__set_status(sb, s->name, rec->version, HB_VERSION_ACTIVE);
    hb__probation_start(sb, s, rec, is_rollback, old->version, old->sha, old->schema);
}

/* The new version was live, with the state migrated, when the old
 * version's fini crashed: the new version is what must serve, on its own
 * probation (a crash in the old fini says nothing about the new code). */
static int switched_then_crashed(hb_sandbox *sb, hb_slot *s, const hb_version_rec *rec,
                                 char *path, const swap_from *old, bool is_rollback, int r,
                                 const char *err, const hb_timings *t)
{
    commit(sb, s, rec, path, old, is_rollback);
    hb__sandbox_fail(sb, r, "fini of %s v%llu crashed after the switch; v%llu is active with the migrated state: %s",
                s->name, (unsigned long long)old->version, (unsigned long long)rec->version,
                err ? err : hb_strerror(r));
    recover_keeping_error(sb, s->name, old->version, r);
    hb__emit(sb->m, sb, is_rollback ? HB_EVENT_ROLLED_BACK : HB_EVENT_SWAPPED, s->name,
             rec->version, old->version, 0, t, "%s v%llu -> v%llu (the old version's fini crashed)",
             s->name, (unsigned long long)old->version, (unsigned long long)rec->version);
    return 0;
}

/* The swap failed and the old version keeps serving. */
static int swap_failed(hb_sandbox *sb, hb_slot *s, const hb_version_rec *rec,
                       const swap_from *old, bool is_rollback, int r, const char *err, bool got,
                       const hb_timings *t)
{
    hb__sandbox_fail(sb, r, "swap of %s v%llu -> v%llu failed; v%llu keeps serving%s: %s", s->name,
                (unsigned long long)old->version, (unsigned long long)rec->version,
                (unsigned long long)old->version, got ? " with its state" : "",
                err ? err : hb_strerror(r));
    /* A worker that had died before the request reached it ran none of the
     * new version's code: that version is not to blame. */
    if (!is_rollback && !sb->wc.undelivered)
        hb__set_status(sb, s->name, rec->version, HB_VERSION_BAD);
    hb_metrics_add(sb->m->metrics, HB_CTR_SWAP_FAILURES, 1);
    if (is_rollback && r == HB_EHOOK)
        return r; /* rollback_to falls back to the target's own checkpoint */
    hb__emit(sb->m, sb, HB_EVENT_SWAP_FAILED, s->name, rec->version, old->version, r, t, "%s",
             sb->last_error);
    if (r == HB_ECRASHED || r == HB_EHUNG)
        recover_keeping_error(sb, s->name, rec->version, r);
    return r;
}

/* The swap went through: the events that say so, and how the state went. */
static void swapped(hb_sandbox *sb, hb_slot *s, const hb_version_rec *rec, const swap_from *old,
                    bool is_rollback, const hb_load_reply *lr, bool got, const hb_timings *t,
                    const hb_carry *carry, const char *carry_summary)
{
    hb_metrics_add(sb->m->metrics, HB_CTR_SWAPS, 1);
    hb_metrics_observe(sb->m->metrics, HB_HIST_SWAP, (uint64_t)(t->swap_ms * 1e6));
    /* The event's `carry` lines name every static carried or reset. */
    sb->carry_report = carry_summary ? carry->report : NULL;
    hb__et_mark(HB_ET_EMIT);
    hb__emit(sb->m, sb, is_rollback ? HB_EVENT_ROLLED_BACK : HB_EVENT_SWAPPED, s->name,
             rec->version, old->version, 0, t, "%s v%llu -> v%llu (%s; swap %.2f ms, total %.1f ms)",
             s->name, (unsigned long long)old->version, (unsigned long long)rec->version,
             carry_summary ? carry_summary : state_note(lr->state_result, old->hooks),
             t->swap_ms, t->total_ms);
    sb->carry_report = NULL;
    if (carry_summary)
        return; /* the statics were carried (or reset, each named) */
    if (lr->state_result != HB_PROTO_STATE_CARRIED && !got &&
        (old->hooks & HB_PROTO_HOOK_SAVE) == 0)
        hb__emit(sb->m, sb, HB_EVENT_STATE_RESET, s->name, rec->version, old->version, 0, NULL,
                 "%s has no save hook: v%llu starts with fresh state", s->name,
                 (unsigned long long)rec->version);
    else if (lr->state_result == HB_PROTO_STATE_DROPPED)
        hb__emit(sb->m, sb, HB_EVENT_STATE_RESET, s->name, rec->version, old->version, 0, NULL,
                 "%s v%llu has no migrate hook: it starts with fresh state", s->name,
                 (unsigned long long)rec->version);
}

struct state_ctx {
    hb_sandbox *sb;
    hb_slot *s;
};

/* The old version's state during the swap: the slot's checkpoint, durable
 * (named sandbox) before the new version runs any code. */
static int on_old_state(void *ud, uint64_t version, uint32_t schema, const void *state,
                        size_t len)
{
    struct state_ctx *c = ud;
    return hb__checkpoint_record(c->sb, c->s, version, schema, state, len);
}

/* Swaps slot s to stored version rec, once (see hb__swap_to). */
static int swap_once(hb_sandbox *sb, hb_slot *s, const hb_version_rec *rec, hb_timings *t,
                     bool is_rollback, uint64_t t0)
{
    char *path = NULL, *err = NULL;
    hb__et_mark(HB_ET_PREPARE);
    int r = prepare(sb, s, rec, t, is_rollback, &path);
    if (r < 0)
        return r;
    swap_from old = {s->version, s->hooks, s->schema, {0}};
    memcpy(old.sha, s->sha, HB_SHA256_HEX);
    struct state_ctx ctx = {sb, s};
    hb_swap_progress prog;
    hb_load_reply lr = {0};
    hb_carry carry;
    uint64_t ts = hb__now_ns();
    hb__et_mark(HB_ET_CARRY);
    hb__carry_prepare(sb, s, path, rec->version, is_rollback, &carry);
    hb__et_mark(HB_ET_SWAP);
    /* wait_ack: a named sandbox's checkpoint is durable before new code runs */
    r = hb__rpc_swap(sb, s->name, path, old.version, rec->version, sb->named,
                     carry.wire.present ? &carry.wire : NULL, on_old_state, &ctx, &prog, &lr,
                     &err);
    hb__et_mark(HB_ET_SWAPPED);
    t->swap_ms = hb__ms_since(ts);
    t->total_ms = hb__ms_since(t0);
    if (r < 0 && prog.switched && (r == HB_ECRASHED || r == HB_EHUNG)) {
        r = switched_then_crashed(sb, s, rec, path, &old, is_rollback, r, err, t);
        path = NULL;
    } else if (prog.malformed) {
        r = hb__sandbox_fail(sb, r, "malformed SWAP reply from the worker");
    } else if (r == -EMFILE) {
        /* The worker, not the new version, is at fault: hb__swap_to recovers. */
        hb__sandbox_fail(sb, r, "swap of %s v%llu -> v%llu: %s", s->name,
                    (unsigned long long)old.version, (unsigned long long)rec->version,
                    err ? err : hb_strerror(r));
    } else if (r < 0) {
        r = swap_failed(sb, s, rec, &old, is_rollback, r, err, prog.got, t);
    } else {
        commit(sb, s, rec, path, &old, is_rollback);
        path = NULL;
        s->schema = lr.schema;
        s->hooks = lr.hooks;
        s->calls_since_ckpt = 0; /* the state at the swap is the checkpoint */
        const char *summary = hb__carry_done(sb, s, &carry, &lr.carry, old.version);
        swapped(sb, s, rec, &old, is_rollback, &lr, prog.got, t, &carry, summary);
    }
    hb__carry_release(&carry);
    hb__proto_carry_result_release(&lr.carry);
    free(path);
    free(err);
    return r;
}

int hb__swap_to(hb_sandbox *sb, hb_slot *s, const hb_version_rec *rec, hb_timings *t,
                bool is_rollback, uint64_t t0)
{
    int r = swap_once(sb, s, rec, t, is_rollback, t0);
    if (r != -EMFILE)
        return r;
    char *name = strdup(s->name);
    if (name && hb__recover_fds(sb) == 0 && (s = hb__slot_find(sb, name)) != NULL)
        r = swap_once(sb, s, rec, t, is_rollback, t0);
    free(name);
    return r;
}
