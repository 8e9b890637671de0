/* harness/recover.c - a sandbox whose worker died: blame the version whose
 * code faulted, revert it if it was on probation, account for the state
 * lost, and start a fresh worker with every plugin's last good version and
 * checkpoint. Crash loops fail the sandbox; restarts before that back off
 * behind a deadline the next operation checks (never a wait here). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sandbox_impl.h"
#include "policy.h"

/* Switches the slot to the stored version at v (which verified). */
static int fall_back_to(hb_sandbox *sb, hb_slot *s, const hb_version_rec *v, int why,
                        const char *err)
{
    char *path = hb__object_path(sb, v->object_sha256);
    if (!path)
        return -ENOMEM;
    hb__emit(sb->m, sb, HB_EVENT_ROLLED_BACK, s->name, v->version, s->version, why, NULL,
             "%s v%llu cannot be loaded again (%s); falling back to v%llu", s->name,
             (unsigned long long)s->version, err ? err : hb_strerror(why),
             (unsigned long long)v->version);
    hb__set_status(sb, s->name, s->version, HB_VERSION_BAD);
    hb__slot_activate(s, path, v->version, v->object_sha256);
    hb__probation_clear(s); /* a good version, not on probation */
    hb__set_status(sb, s->name, s->version, HB_VERSION_ACTIVE);
    return 0;
}

/* Before a restart loads a slot's object again: if the object no longer
 * matches its checksum (corrupted or deleted on disk), fall back to the
 * newest version the fallback policy allows that does, with an event. */
static int verify_or_fallback(hb_sandbox *sb, hb_slot *s)
{
    hb_version_rec cur = {0};
    int r = hb_store_get(sb->m->store, s->name, s->version, &cur);
    char *err = NULL;
    if (r == 0)
        r = hb__verify_object(sb->m, &cur, &err);
    hb_version_rec_release(&cur);
    if (r == 0)
        return 0;
    /* The policy's candidates, newest first, each an index search. */
    int found = -ENOENT;
    hb_version_rec v = {0};
    for (uint64_t below = UINT64_MAX;
         found < 0 && hb_policy_fallback_find(sb->m->store, s->name, below, s->version, &v) == 0;
         hb_version_rec_release(&v)) {
        below = v.version;
        char *e2 = NULL;
        if (hb__verify_object(sb->m, &v, &e2) == 0 && fall_back_to(sb, s, &v, r, err) == 0)
            found = 0;
        free(e2);
    }
    free(err);
    return found;
}

/* What each plugin did since its last checkpoint dies with its worker:
 * said now (event) and on the plugin's next call. */
static void account_lost_state(hb_sandbox *sb, const char *why)
{
    for (size_t i = 0; i < sb->nslots; i++) {
        hb_slot *s = &sb->slots[i];
        s->restore_fresh = false;
        if (!s->calls_since_ckpt)
            continue;
        s->state_lost = true;
        hb__emit(sb->m, sb, HB_EVENT_STATE_RESET, s->name, s->version, 0, HB_ESTATELOST, NULL,
                 "%s v%llu lost the effect of %llu call%s since its last checkpoint when its worker %s",
                 s->name, (unsigned long long)s->version,
                 (unsigned long long)s->calls_since_ckpt, s->calls_since_ckpt == 1 ? "" : "s", why);
        s->calls_since_ckpt = 0;
    }
}

/* Loads slot s into the fresh worker with its latest checkpoint (or, when
 * that is in a layout this version cannot read, its own last one). */
static int reload_slot(hb_sandbox *sb, hb_slot *s, const hb_ckpt **used, char **err)
{
    hb_load_reply lr;
    const hb_ckpt *ck = s->ckpts.latest.valid && !s->restore_fresh ? &s->ckpts.latest : NULL;
    int r = hb__rpc_load(sb, s->name, s->path, s->version, ck, &lr, err);
    if (r == HB_EHOOK && ck && ck->schema != s->schema) {
        const hb_ckpt *own = hb_ckset_for_schema(&s->ckpts, s->schema);
        if (own) {
            ck = own;
            r = hb__rpc_load(sb, s->name, s->path, s->version, ck, &lr, err);
        }
    }
    if (r == 0) {
        s->schema = lr.schema;
        s->hooks = lr.hooks;
    }
    s->restored_older = r == 0 && ck && ck != &s->ckpts.latest;
    *used = ck;
    return r;
}

/* Loads every slot into the fresh worker. A plugin whose checkpoint cannot
 * be restored starts fresh; one that cannot be loaded is dropped (events).
 * True when a load killed the worker: the caller starts over, without that
 * plugin's checkpoint (or without the plugin, when it had none). */
static bool reload_slots(hb_sandbox *sb, bool first, char **err)
{
    hb_manager *m = sb->m;
    for (size_t i = 0; i < sb->nslots;) {
        hb_slot *s = &sb->slots[i];
        uint64_t tv = hb__now_ns();
        int vr = first ? verify_or_fallback(sb, s) : 0;
        uint64_t tl = hb__now_ns();
        sb->rs_ns[HB_RS_VERIFY] += tl - tv;
        if (vr < 0) {
            hb__emit(m, sb, HB_EVENT_UNLOADED, s->name, s->version, 0, HB_ECORRUPT, NULL,
                     "%s: no stored version verifies; removed from the sandbox", s->name);
            hb__slot_remove(sb, s);
            continue;
        }
        const hb_ckpt *ck = NULL;
        int r = reload_slot(sb, s, &ck, err);
        sb->rs_ns[HB_RS_LOAD] += hb__now_ns() - tl;
        if (r == 0) {
            i++;
            continue;
        }
        if (r == HB_ECRASHED || r == HB_EHUNG) {
            /* The load killed the new worker. The caller starts over, with
             * this plugin restarting without its checkpoint (its migrate
             * crashed or hung on it), or dropped when it had none: loading
             * it again as it is would kill the next worker the same way. */
            const char *how = r == HB_EHUNG ? "hung" : "crashed";
            const char *said = *err ? *err : hb_strerror(r);
            int said_len = (int)strcspn(said, "\n"); /* one line: not the backtrace */
            if (ck) {
                s->restore_fresh = true;
                s->state_lost = true;
                hb__emit(m, sb, HB_EVENT_STATE_RESET, s->name, s->version, 0, r, NULL,
                         "%s v%llu could not restore its checkpoint (restoring it %s the worker: "
                         "%.*s); it restarts with fresh state",
                         s->name, (unsigned long long)s->version, how, said_len, said);
            } else {
                hb__emit(m, sb, HB_EVENT_UNLOADED, s->name, s->version, 0, r, NULL,
                         "%s v%llu could not be restarted and was removed: loading it %s the "
                         "worker (%.*s)",
                         s->name, (unsigned long long)s->version, how, said_len, said);
                hb__slot_remove(sb, s);
            }
            return true;
        }
        if (ck) {
            s->restore_fresh = true; /* retry this plugin without its state */
            s->state_lost = true;
            hb__emit(m, sb, HB_EVENT_STATE_RESET, s->name, s->version, 0, r, NULL,
                     "%s v%llu could not restore its checkpoint (%s); it restarts with fresh state",
                     s->name, (unsigned long long)s->version, *err ? *err : hb_strerror(r));
            continue;
        }
        hb__emit(m, sb, HB_EVENT_UNLOADED, s->name, s->version, 0, r, NULL,
                 "%s v%llu could not be restarted and was removed: %s", s->name,
                 (unsigned long long)s->version, *err ? *err : hb_strerror(r));
        hb__slot_remove(sb, s);
    }
    return false;
}

static void announce_restart(hb_sandbox *sb, const char *why)
{
    hb_sb restored = HB_SB_INIT;
    for (size_t i = 0; i < sb->nslots; i++)
        hb__sb_addf(&restored, "%s%s v%llu%s", restored.len ? ", " : "", sb->slots[i].name,
                    (unsigned long long)sb->slots[i].version,
                    sb->slots[i].ckpts.latest.valid && !sb->slots[i].restore_fresh
                        ? " from its checkpoint" : "");
    hb__emit(sb->m, sb, HB_EVENT_RESTARTED, NULL, 0, 0, 0, NULL,
             "worker restarted (pid %d%s) after it %s%s%s", (int)sb->wc.pid,
             sb->from_spare ? ", a spare started before" : "", why,
             restored.len ? "; serving " : "", restored.len ? restored.buf : "");
    hb__sb_release(&restored);
}

/* Spawns a fresh worker and loads every slot; when a load kills the new
 * worker, starts again (the culprit then restarts fresh or is dropped). */
static int respawn(hb_sandbox *sb, const char *why)
{
    char *err = NULL;
    hb_wspawn how = hb__spawn_params(sb);
    uint64_t t0 = hb__now_ns();
    sb->restart_pending = false;
    for (unsigned attempt = 0; attempt <= 2 * sb->nslots + 1; attempt++) {
        pid_t oldpid = sb->wc.pid;
        uint64_t tk = hb__now_ns();
        hb__wc_kill(&sb->wc);
        hb__forget_worker(sb, oldpid);
        uint64_t tw = hb__now_ns();
        sb->rs_ns[HB_RS_KILL] += tw - tk;
        /* The spare first (spare.c): started and confined already. */
        sb->from_spare = attempt == 0 && hb__spare_take(sb, &how, &sb->wc);
        int r = sb->from_spare ? 0 : hb__wc_spawn(&sb->wc, &how, &err);
        hb__record_worker(sb);
        sb->rs_ns[HB_RS_WORKER] += hb__now_ns() - tw;
        if (r < 0) {
            hb__sandbox_fail(sb, r, "cannot restart the worker after it %s: %s", why, err ? err : "");
            free(err);
            return r;
        }
        if (!reload_slots(sb, attempt == 0, &err))
            break;
    }
    uint64_t tf = hb__now_ns();
    sb->restarts++;
    hb_metrics_add(sb->m->metrics, HB_CTR_RESTARTS, 1);
    hb_metrics_observe(sb->m->metrics, HB_HIST_RESTART, hb__now_ns() - t0);
    announce_restart(sb, why);
    free(err);
    hb__spare_refill(sb, &how); /* for the next one, off this path */
    sb->rs_ns[HB_RS_FINISH] += hb__now_ns() - tf;
    return hb__wc_alive(&sb->wc) ? 0 : HB_ECRASHED;
}

int hb__restart_worker(hb_sandbox *sb, const char *why)
{
    account_lost_state(sb, why);
    return respawn(sb, why);
}

int hb__recover_fds(hb_sandbox *sb)
{
    for (size_t i = 0; i < sb->nslots; i++) {
        if (!(sb->slots[i].hooks & HB_PROTO_HOOK_SAVE))
            continue;
        int r = hb__checkpoint_one(sb, &sb->slots[i]);
        if (r == HB_ECRASHED || r == HB_EHUNG)
            return hb__wc_alive(&sb->wc) ? 0 : r; /* already restarted */
    }
    return hb__restart_worker(sb, "ran out of file descriptors (a plugin holds them all)");
}

/* Counts the crash. A crash loop ends here: the sandbox refuses work until
 * it is recreated (true). Otherwise the restart's deadline is set: now, or
 * later when the worker keeps dying (exponential backoff). */
static bool crash_loop_check(hb_sandbox *sb)
{
    uint64_t now = hb__now_ns();
    hb_mon_policy_crash(sb->policy, now);
    sb->crashes++;
    pid_t pid = sb->wc.pid;
    if (hb_mon_should_fail(sb->policy, now)) {
        sb->failed = true;
        sb->restart_pending = false;
        hb__wc_kill(&sb->wc);
        hb__forget_worker(sb, pid);
        hb__emit(sb->m, sb, HB_EVENT_WARNING, NULL, 0, 0, HB_EFAILED, NULL,
                 "sandbox %s failed: %u crashes within %u ms; it is not restarted again",
                 sb->name, hb_mon_policy_recent(sb->policy, now),
                 sb->opts.crash_loop_window_ms);
        return true;
    }
    sb->restart_due = now + hb_mon_backoff_ms(sb->policy, now) * 1000000ull;
    return false;
}

/* no_auto_restart: the dead worker is reaped and nothing else happens (no
 * rollback, no restart, no crash-loop accounting beyond the count) until
 * hb_sandbox_restart. */
static void stay_down(hb_sandbox *sb, const char *why)
{
    pid_t pid = sb->wc.pid;
    sb->crashes++;
    hb__wc_kill(&sb->wc);
    hb__forget_worker(sb, pid);
    sb->down = true;
    sb->down_why = why;
    sb->restart_pending = false;
    hb__emit(sb->m, sb, HB_EVENT_WARNING, NULL, 0, 0, HB_EDOWN, NULL,
             "sandbox %s is down: its worker %s and automatic restart is off; "
             "hb_sandbox_restart brings it back", sb->name, why);
}

/* The deferred restart, at or after its deadline. An operation that comes
 * back before the deadline waits out the rest of it (at most the policy's
 * cap, 2 s); time the caller spent elsewhere counts. */
static int restart_when_due(hb_sandbox *sb)
{
    uint64_t now = hb__now_ns(), t0 = now;
    while (now < sb->restart_due) {
        uint64_t ms = (sb->restart_due - now + 999999) / 1000000;
        poll(NULL, 0, (int)ms);
        now = hb__now_ns();
    }
    sb->rs_ns[HB_RS_BACKOFF] += now - t0;
    return respawn(sb, sb->restart_why ? sb->restart_why : "crashed");
}

/* Reports a dead worker, blames the version whose code faulted (when the
 * worker said), rolls that version back if it was on probation, and starts
 * a new worker (now, or by the next operation when backing off).
 * plugin/version: the operation that was running (NULL, 0: none). Returns
 * HB_EFAILED in a crash loop, else the restart's result (0 when deferred). */
static int recover(hb_sandbox *sb, const char *plugin, uint64_t version, int code,
                   const char *what, const char *why)
{
    uint64_t t0 = hb__now_ns();
    sb->rs_at = t0;
    sb->rs_death_seen = sb->wc.death_seen_ns;
    sb->rs_reaped = sb->wc.reaped_ns;
    sb->wc.death_seen_ns = sb->wc.reaped_ns = 0;
    memset(sb->rs_ns, 0, sizeof(sb->rs_ns));
    hb_metrics_add(sb->m->metrics, code == HB_EHUNG ? HB_CTR_HANGS : HB_CTR_CRASHES, 1);
    /* The worker names the version whose code faulted: that one is to
     * blame, not the one whose operation was running (a thread an old
     * version left behind, or another plugin's thread). */
    const struct hb_wfault *f = &sb->wc.fault;
    char blamed[sizeof(f->plugin)] = "";
    if (code == HB_ECRASHED && f->valid && f->plugin[0] &&
        (!plugin || strcmp(f->plugin, plugin) != 0 || f->version != version)) {
        snprintf(blamed, sizeof(blamed), "%s", f->plugin);
        plugin = blamed;
        version = f->version;
        hb_slot *owner = hb__slot_find(sb, blamed);
        if (f->retired && (!owner || owner->version != version))
            hb__set_status(sb, blamed, version, HB_VERSION_BAD); /* never a rollback target */
    }
    hb__emit(sb->m, sb, HB_EVENT_CRASHED, plugin, version, 0, code, NULL, "%s", what);
    char *keep = strdup(what ? what : "");
    if (keep) { /* for hb_sandbox_last_crash (control.c) */
        free(sb->last_crash);
        sb->last_crash = keep;
        sb->last_crash_at = (int64_t)time(NULL);
    }
    if (sb->opts.no_auto_restart) {
        stay_down(sb, why);
        return 0;
    }
    if (crash_loop_check(sb))
        return HB_EFAILED;
    hb_slot *s = plugin ? hb__slot_find(sb, plugin) : NULL;
    uint64_t began = sb->op_started_ns && sb->op_started_ns <= t0 ? sb->op_started_ns : t0;
    bool reverted = s && s->version == version &&
                    hb__probation_revert(sb, s, code, began);
    account_lost_state(sb, why);
    int r = 0;
    if (hb__now_ns() >= sb->restart_due) {
        r = respawn(sb, why);
    } else {
        pid_t pid = sb->wc.pid;
        hb__wc_kill(&sb->wc);
        hb__forget_worker(sb, pid);
        sb->restart_pending = true;
        sb->restart_why = why;
    }
    if (reverted)
        hb_metrics_observe(sb->m->metrics, HB_HIST_ROLLBACK, hb__now_ns() - t0);
    return r;
}

void hb__recover(hb_sandbox *sb, const char *plugin, uint64_t version, int code,
                 const char *what)
{
    recover(sb, plugin, version, code, what, code == HB_EHUNG ? "hung" : "crashed");
}

static int failed_error(hb_sandbox *sb)
{
    return hb__sandbox_fail(sb, HB_EFAILED, "sandbox %s has failed (crash loop); recreate it",
                       sb->name);
}

static int down_error(hb_sandbox *sb)
{
    return hb__sandbox_fail(sb, HB_EDOWN, "sandbox %s is down: its worker %s and automatic "
                            "restart is off; hb_sandbox_restart brings it back", sb->name,
                            sb->down_why ? sb->down_why : "died");
}

/* Before an operation: a restart that is due happens now, and a worker
 * that died while idle (killed from outside) is noticed and replaced. */
static int ensure(hb_sandbox *sb, bool for_call)
{
    sb->op_started_ns = hb__now_ns();
    int r = hb__sandbox_usable(sb);
    if (r < 0)
        return r;
    if (sb->failed)
        return failed_error(sb);
    if (sb->down)
        return down_error(sb);
    for (size_t i = 0; i < sb->nslots; i++)
        hb__probation_tick(sb, &sb->slots[i]); /* proven by time: said when seen */
    if (sb->restart_pending)
        return restart_when_due(sb);
    if (for_call ? hb__wc_alive_for_call(&sb->wc) : hb__wc_alive(&sb->wc))
        return 0;
    char buf[160] = "no worker", where[1024];
    if (sb->wc.denied[0] || sb->wc.reaped) /* the denial watcher may have ended it */
        hb__wc_describe_end(&sb->wc, buf, sizeof(buf));
    hb__wc_fault_place(&sb->wc, where, sizeof(where));
    /* A thread of a plugin can crash the worker between requests: the
     * version whose code faulted is blamed as for a crash during a call. */
    char *what = hb__asprintf("worker of sandbox %s died while idle: %s%s", sb->name, buf, where);
    r = recover(sb, NULL, 0, HB_ECRASHED, what ? what : "", "died while idle");
    free(what);
    if (r == HB_EFAILED)
        return failed_error(sb);
    if (sb->down)
        return down_error(sb);
    if (r == 0 && sb->restart_pending)
        return restart_when_due(sb);
    return r;
}

int hb__ensure_worker(hb_sandbox *sb)
{
    return ensure(sb, false);
}

int hb__ensure_worker_for_call(hb_sandbox *sb)
{
    return ensure(sb, true);
}

uint64_t hb__restart_stages(const hb_sandbox *sb, uint64_t ns[HB_RS_COUNT], bool *spare)
{
    memcpy(ns, sb->rs_ns, sizeof(sb->rs_ns));
    *spare = sb->from_spare;
    return sb->rs_at;
}

void hb__restart_death(const hb_sandbox *sb, uint64_t *seen, uint64_t *reaped)
{
    *seen = sb->rs_death_seen;
    *reaped = sb->rs_reaped;
}

int hb_sandbox_worker_fd(hb_sandbox *sb)
{
    if (!sb || sb->wc.pid <= 0)
        return -1;
    return sb->wc.worker_pidfd >= 0 ? sb->wc.worker_pidfd : sb->wc.pidfd;
}

int hb_sandbox_check(hb_sandbox *sb)
{
    return sb ? hb__ensure_worker(sb) : -EINVAL;
}
