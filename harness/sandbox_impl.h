/*
 * harness/sandbox_impl.h - private to the sandbox files: the steps they
 * share. Which file owns what:
 *
 *   sandbox.c     public sandbox API: options, new/free, errors, usage,
 *                 worker records, detaching from a freed manager
 *   slots.c       the plugin slots of a sandbox and their catalogue status
 *   probation.c   probation of a freshly swapped version, automatic revert
 *   rpc.c         the one place the sandbox speaks proto/ to its worker
 *                 (load, swap, unload, save) and maps the loader's errors
 *   checkpoint.c  taking, recording and persisting state checkpoints
 *   recover.c     crash recovery: blame, crash-loop deadline, restart
 *   load.c        hb_load and the build + policy steps a load shares
 *   swap.c        swapping a slot to a stored version (reload, rollback)
 *   group.c       hb_reload: a provider with its dependents re-bound
 *   rollback.c    rollback_to() and hb_rollback
 *   unload.c      hb_unload, hb_active_version
 *
 * Nothing here calls a public hb_* function of the sandbox API: public
 * entry points check their arguments and call these steps.
 */
#ifndef HB_SANDBOX_IMPL_H
#define HB_SANDBOX_IMPL_H

#include "harness.h"
#include "dwarf.h"

/* ---- sandbox.c ------------------------------------------------------------ */

/* Replaces the sandbox's last error (takes msg). */
void hb__sandbox_set_err(hb_sandbox *sb, char *msg);
/* Sets the last error from fmt and returns code. */
int hb__sandbox_fail(hb_sandbox *sb, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 0, or HB_EFAILED (with the error set) when the sandbox's manager was
 * freed: the handle is detached and only hb_sandbox_free remains. */
int hb__sandbox_usable(hb_sandbox *sb);
/* The run directory's record of a live worker (reaped by the next manager
 * if this one dies without cleaning up). */
void hb__record_worker(hb_sandbox *sb);
void hb__forget_worker(hb_sandbox *sb, pid_t pid);

/* ---- slots.c -------------------------------------------------------------- */

void hb__slot_release(hb_slot *s);
void hb__slot_remove(hb_sandbox *sb, hb_slot *s);
/* Makes version rec (its object at path, taken) the active one of s. */
void hb__slot_activate(hb_slot *s, char *path, uint64_t version, const char *sha);
/* hb__slot_activate without reading plugin.json: for a caller that has
 * just read it into s->rt (a swap: hb__runtime_refresh; a load: the
 * pending settings), so one reload reads it once. */
void hb__slot_set_version(hb_slot *s, char *path, uint64_t version, const char *sha);
/* plugin.json runtime sections (runtime.c; docs/plugin-json.md).
 * prepare_load: reads the section of plugin name (dir: its directory),
 *   about to be loaded, and computes what the worker is to run with (the
 *   profile hb__check_policy then uses); no restart yet. 0, or a negative
 *   code with the sandbox's error naming plugin.json, the key and why.
 * apply: restarts a running worker (checkpointing its plugins first) when
 *   it was started with other settings than those computed; the event says
 *   what changed. 0, or the restart's error.
 * refresh: prepare and apply for a loaded plugin before a swap or rollback
 *   (its slot's section is re-read from disk); s stays valid on success.
 * started: the worker just spawned runs with the computed settings.
 * worker: the computed settings (the sandbox's own when none were). */
int hb__runtime_prepare_load(hb_sandbox *sb, const char *name, const char *dir);
int hb__runtime_apply(hb_sandbox *sb, const char *name);
int hb__runtime_refresh(hb_sandbox *sb, hb_slot *s);
void hb__runtime_started(hb_sandbox *sb);
const hb_rt_worker *hb__runtime_worker(hb_sandbox *sb);
hb_profile hb__runtime_profile(hb_sandbox *sb);
void hb__runtime_cpucap(hb_sandbox *sb);
void hb__runtime_pending_clear(hb_sandbox *sb);
void hb__rt_worker_release(hb_rt_worker *w);
/* hb_store_set_status under the manager's lock. */
void hb__set_status(hb_sandbox *sb, const char *plugin, uint64_t v, hb_version_status st);
/* Makes the store's commits so far durable (hb_store_flush), after a
 * load, reload or rollback has raised its event: the swap path itself
 * never waits for a disk sync. A failure is a warning event; the commits
 * are safe against a killed process regardless (versions/objects.c). */
void hb__store_durable(hb_sandbox *sb);
/* Which fixture steps the plugin's active version exports (selftest.c; the
 * one place hb_setup/hb_teardown are looked for). */
int hb__test_fixture(hb_sandbox *sb, const char *plugin, bool *setup, bool *teardown);
/* Every stored version of plugin, oldest first (hb_store_list under the
 * manager's lock; free with hb_store_list_free). */
int hb__versions_of(hb_sandbox *sb, const char *plugin, hb_version_rec **v, size_t *n);
/* The stored object path of sha (malloc'ed), NULL when out of memory. */
char *hb__object_path(hb_sandbox *sb, const char *sha);

/* ---- probation.c ---------------------------------------------------------- */

void hb__probation_clear(hb_slot *s);
/* A swap made rec active: a new version goes on probation with the old
 * one as where it goes back to; a rollback target does not (it served). */
void hb__probation_start(hb_sandbox *sb, hb_slot *s, const hb_version_rec *rec,
                         bool is_rollback, uint64_t old_version, const char *old_sha,
                         uint32_t old_schema);
/* True when s is not (or no longer) on probation. */
bool hb__probation_tick(hb_sandbox *sb, hb_slot *s);
/* A version on probation that crashed or hung goes back to the version
 * before it (marked bad), before the worker restarts; code: HB_ECRASHED or
 * HB_EHUNG, what the rolled-back event says. at_ns: when the
 * operation that failed began; probation is judged as of then (a hang is
 * noticed only after call_timeout_ms, which may be longer than it). */
bool hb__probation_revert(hb_sandbox *sb, hb_slot *s, int code, uint64_t at_ns);

/* ---- rpc.c ---------------------------------------------------------------- */

typedef struct hb_load_reply {
    uint32_t schema, hooks;
    uint8_t state_result; /* HB_PROTO_STATE_* */
    hb_proto_carry_result carry; /* SWAP: what the carry plan did (release it) */
} hb_load_reply;

/* Makes the object at path visible to this sandbox's worker. */
int hb__rpc_expose(hb_sandbox *sb, const char *path, char **err);
/* LOAD path into the worker, restoring ck when given. */
int hb__rpc_load(hb_sandbox *sb, const char *plugin, const char *path, uint64_t version,
                 const hb_ckpt *ck, hb_load_reply *lr, char **err);
/* LOAD of a slot's active version with its latest checkpoint; the slot's
 * schema and hooks are updated on success. */
int hb__rpc_reload_slot(hb_sandbox *sb, hb_slot *s, char **err);
int hb__rpc_unload(hb_sandbox *sb, const char *plugin, char **err);

/* State that arrived from the worker (SAVE's reply, a SWAP's CHECKPOINT):
 * the callee records it. <0 aborts. */
typedef int (*hb_state_fn)(void *ud, uint64_t version, uint32_t schema, const void *state,
                           size_t len);
/* SAVE: the plugin's state now; on_state is called when it has a save
 * hook (version: the slot's, passed through). */
int hb__rpc_save(hb_sandbox *sb, const char *plugin, uint64_t version, hb_state_fn on_state,
                 void *ud, char **err);

typedef struct hb_swap_progress {
    bool got;      /* the old version's state arrived */
    bool switched; /* the new version went live (SWITCHED) */
    bool malformed; /* the reply came but could not be decoded */
} hb_swap_progress;
/* SWAP plugin from old_version to the object at path (version). wait_ack:
 * the worker waits for CHECKPOINT_ACK (sent once on_state accepted the
 * state) before the new code runs. A CHECKPOINT naming another plugin or
 * version is a protocol violation (worker killed, HB_EPROTO, nothing
 * recorded). carry (NULL: none): the carry section (carry.c). */
int hb__rpc_swap(hb_sandbox *sb, const char *plugin, const char *path, uint64_t old_version,
                 uint64_t version, bool wait_ack, const hb_proto_carry *carry,
                 hb_state_fn on_state, void *ud, hb_swap_progress *prog, hb_load_reply *lr,
                 char **err);

/* ---- carry.c -------------------------------------------------------------- */

/* The static variables a swap carries (docs/state.md): the DWARF of the
 * old and new objects compared (versions/dwarf.h), the carry section for
 * the SWAP, and what became of each variable. */
typedef struct hb_carry {
    struct hb_dwarf_info *old, *new_;  /* NULL: no analysis (see nodebug) */
    hb_carry_plan plan;
    hb_proto_carry wire;               /* wire.present: send it */
    uint32_t *wire_entry;              /* plan entry of each wire variable */
    char nodebug[160];                 /* why no plan: "v3 has no debug info" */
    uint32_t old_hooks;                /* the old version's HB_PROTO_HOOK_* */
    bool off;                          /* carry is off (nodebug says why) */
    char *report;                      /* after the swap: one line per variable */
    char summary[160];                 /* "statics: 2 carried, 1 reset, 0 new" */
} hb_carry;

/* Analyses both objects (the old one's analysis is kept on the slot) and
 * builds the plan. Never fails the swap: without debug info, on an
 * analysis error, or with carry off (hb_sandbox_options.no_carry,
 * plugin.json "carry": false), c->wire.present stays false and c->nodebug
 * says why.
 * is_rollback: no guard (the target version served with its own state). */
void hb__carry_prepare(hb_sandbox *sb, hb_slot *s, const char *new_path, uint64_t new_version,
                       bool is_rollback, hb_carry *c);
/* After a swap that succeeded and was committed (s is the new version's
 * slot now): c->report from the worker's result, and the
 * new version's analysis kept on the slot; the "no debug info" notice
 * given once per slot. Returns c->summary for the swap event, or NULL
 * when no plan ran (no debug info, or save/migrate carried the state). */
const char *hb__carry_done(hb_sandbox *sb, hb_slot *s, hb_carry *c,
                           const hb_proto_carry_result *res, uint64_t old_version);
void hb__carry_release(hb_carry *c);

/* ---- snapshot.c ------------------------------------------------------------ */

/* hb_snapshot_restore without the argument checks (hb_load's
 * from_snapshot step). */
int hb__snapshot_restore(hb_sandbox *sb, const char *plugin, const char *name);

/* ---- checkpoint.c --------------------------------------------------------- */

/* Records state as the slot's latest checkpoint (and persists it for a
 * named sandbox). */
int hb__checkpoint_record(hb_sandbox *sb, hb_slot *s, uint64_t version, uint32_t schema,
                          const void *state, size_t len);
/* Asks the worker for the slot's state now. */
int hb__checkpoint_one(hb_sandbox *sb, hb_slot *s);
/* The checkpoint an earlier run of this named sandbox stored for plugin,
 * into *out (left invalid when there is none). */
void hb__checkpoint_resume(hb_sandbox *sb, const char *plugin, hb_ckpt *out);

/* ---- recover.c ------------------------------------------------------------ */

/* Starts a fresh worker and reloads every plugin's active version with its
 * latest checkpoint. */
int hb__restart_worker(hb_sandbox *sb, const char *why);
/* The worker ran out of descriptors: save states, restart. 0 when a fresh
 * worker serves. */
int hb__recover_fds(hb_sandbox *sb);

/* ---- load.c ------------------------------------------------------------- */

/* Runs the build and keeps its diagnostics on the sandbox (events too). */
int hb__build_for(hb_sandbox *sb, const char *dir, const char *plugin, hb_build_out *b);
/* The profile's import policy for a version about to be loaded. */
int hb__check_policy(hb_sandbox *sb, const hb_version_rec *rec);
/* Whether one more plugin may be loaded under this name (-EEXIST when it
 * is loaded, HB_ELIMIT past max_plugins). */
int hb__load_room(hb_sandbox *sb, const char *name);
/* Loads stored version b->rec into a new slot named *name: import policy,
 * the worker, the named sandbox's resumed state, events, from_snapshot.
 * *dir is the plugin directory ("" for a prebuilt object: no plugin.json).
 * On success the slot takes *name and *dir (set to NULL). */
int hb__load_stored(hb_sandbox *sb, char **name, char **dir, hb_build_out *b, uint64_t t0);

/* ---- swap.c --------------------------------------------------------------- */

/* Swaps slot s to stored version rec. Shared by reload and rollback. A
 * worker out of file descriptors is restarted and the swap tried again. */
int hb__swap_to(hb_sandbox *sb, hb_slot *s, const hb_version_rec *rec, hb_timings *t,
                bool is_rollback, uint64_t t0);

/* ---- group.c -------------------------------------------------------------- */

/* Makes rec the active version of s; the loaded plugins that depend on it
 * (transitively) are re-bound to it in load order, atomically. */
int hb__reload_with_dependents(hb_sandbox *sb, hb_slot *s, const hb_version_rec *rec,
                               hb_timings *t, uint64_t t0);
/* hb_reload after its build: b->rec becomes the active version of the
 * loaded plugin (nothing when it already is; HB_EBADVERSION when it is
 * marked bad). Also swaps a plugin to a prebuilt object. */
int hb__reload_to_built(hb_sandbox *sb, const char *plugin, hb_build_out *b, uint64_t t0);

/* ---- rollback.c ----------------------------------------------------------- */

/* Swaps plugin back to version (0: the fallback policy's pick). */
int hb__rollback_to(hb_sandbox *sb, const char *plugin, uint64_t version);

#endif /* HB_SANDBOX_IMPL_H */
