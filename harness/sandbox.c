/* harness/sandbox.c - sandboxes: a worker process, the plugins loaded in
 * it, their active versions and state checkpoints; load, reload (hot swap),
 * rollback, unload, and recovery when the worker dies. */
#include <errno.h>
#include <poll.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "jail.h"

static void set_err(hb_sandbox *sb, char *msg)
{
    free(sb->last_error);
    sb->last_error = msg;
}

static int fail(hb_sandbox *sb, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(hb_sandbox *sb, int code, const char *fmt, ...)
{
    hb_sb s = HB_SB_INIT;
    va_list ap;
    va_start(ap, fmt);
    hb__sb_vaddf(&s, fmt, ap);
    va_end(ap);
    set_err(sb, hb__sb_detach(&s));
    return code;
}

int hb_sandbox_options_init(hb_sandbox_options *opts, unsigned version)
{
    hb_sandbox_options d = HB_SANDBOX_OPTIONS_INIT;
    return hb__options_init(&hb__sandbox_options_kind, opts, &d, version);
}

const char *hb_sandbox_last_error(hb_sandbox *sb)
{
    if (!sb)
        return "no sandbox";
    return sb->last_error ? sb->last_error : "";
}

int hb_sandbox_worker_pid(hb_sandbox *sb)
{
    return sb ? (int)(sb->wc.worker_pid > 0 ? sb->wc.worker_pid : sb->wc.pid) : -1;
}

hb_slot *hb__slot_find(hb_sandbox *sb, const char *name)
{
    for (size_t i = 0; i < sb->nslots; i++)
        if (strcmp(sb->slots[i].name, name) == 0)
            return &sb->slots[i];
    return NULL;
}

static void slot_release(hb_slot *s)
{
    free(s->name);
    free(s->dir);
    free(s->path);
    hb_ckset_release(&s->ckpts);
    memset(s, 0, sizeof(*s));
}

static void slot_remove(hb_sandbox *sb, hb_slot *s)
{
    size_t i = (size_t)(s - sb->slots);
    slot_release(s);
    memmove(&sb->slots[i], &sb->slots[i + 1], (sb->nslots - i - 1) * sizeof(*s));
    sb->nslots--;
}

static void set_status(hb_sandbox *sb, const char *plugin, uint64_t v, hb_version_status st)
{
    hb_store_set_status(sb->m->store, plugin, v, st);
}

/* ---- CHECKPOINT interim frames ------------------------------------------ */

/* Writes the slot's latest checkpoint to the catalogue when the sandbox is
 * named, so a later run with the same name resumes from it. Failure to
 * persist is an event, not an error: the in-memory checkpoint still holds. */
static void persist_checkpoint(hb_sandbox *sb, hb_slot *s)
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

struct ckpt_ctx {
    hb_sandbox *sb;
    hb_slot *slot;
    bool got;      /* the old version's state arrived (CHECKPOINT) */
    bool switched; /* the new version went live (SWITCHED) */
    bool wait_ack; /* the worker waits for CHECKPOINT_ACK */
};

static int on_checkpoint(const hb_frame *f, void *ud)
{
    struct ckpt_ctx *c = ud;
    if (f->type == HB_MSG_SWITCHED) {
        c->switched = true;
        return 0;
    }
    if (f->type != HB_MSG_CHECKPOINT)
        return HB_EPROTO;
    hb_proto_checkpoint ck = {0};
    int r = HB_EPROTO;
    if (hb__proto_checkpoint_decode(f->payload, f->len, &ck) == 0 &&
        strcmp(ck.plugin, c->slot->name) == 0) {
        r = hb_ckset_record(&c->slot->ckpts, ck.version, ck.schema, ck.state, ck.state_len,
                            hb__now_ns());
        c->slot->last_ckpt_ns = hb__now_ns();
        c->got = r == 0;
        if (c->got)
            c->slot->calls_since_ckpt = 0;
        /* Durable before the new version runs any code: a manager killed
         * in the middle of this swap resumes from exactly this state. */
        if (c->got)
            persist_checkpoint(c->sb, c->slot);
        if (r == 0 && c->wait_ack) {
            hb_wbuf ack = {0};
            r = hb__proto_empty_encode(&ack, HB_MSG_CHECKPOINT_ACK, f->id);
            if (r == 0)
                r = hb__wire_send(c->sb->wc.fd, &ack);
            hb__wire_release(&ack);
        }
    }
    hb__proto_checkpoint_release(&ck);
    return r;
}

/* ---- worker lifecycle ----------------------------------------------------- */

/* A cgroup v2 sub-tree for the sandbox where the machine lets hotbox create
 * one: it enforces the memory and process limits the controllers allow,
 * accounts CPU, and kills whatever is left when the sandbox goes. Where it
 * cannot, rlimits alone apply, and the manager says so once. */
static void setup_cgroup(hb_sandbox *sb, unsigned n)
{
    hb_manager *m = sb->m;
    pthread_mutex_lock(&m->lock);
    bool first = !m->cg_probed;
    if (first) {
        m->cg_probed = true;
        m->cg_mask = hb_cgroup_probe(&m->cg_why);
    }
    int mask = m->cg_mask;
    pthread_mutex_unlock(&m->lock);
    if (first)
        hb__emit(m, NULL, mask > 0 ? HB_EVENT_NOTICE : HB_EVENT_WARNING, NULL, 0, 0, 0, NULL,
                 "resource limits: %s: %s",
                 mask > 0 ? "rlimits and a cgroup v2 sub-tree per sandbox"
                          : "rlimits only (no cgroup v2 limits)",
                 m->cg_why ? m->cg_why : "");
    if (mask < 0)
        return;
    hb_cgroup_limits lim = {0};
    if (mask & HB_CG_MEMORY)
        lim.memory_max = sb->opts.max_memory;
    if (mask & HB_CG_PIDS)
        lim.pids_max = sb->opts.max_processes;
    /* Unique in the process: several managers may live in one program. */
    static _Atomic unsigned serial;
    char name[64];
    snprintf(name, sizeof(name), "sandbox-%u-%u", ++serial, n);
    char *err = NULL;
    if (hb_cgroup_create(name, &lim, &sb->cg, &err) < 0)
        sb->cg = NULL; /* rlimits still hold */
    free(err);
}

/* Records the live worker in the run directory, so a manager that dies
 * without cleaning up has its workers reaped by the next one. */
static void record_worker(hb_sandbox *sb)
{
    if (sb->wc.pid > 0 && sb->m->run_dir)
        hb_mon_record_worker(sb->m->run_dir, sb->wc.pid, getpid());
}

static void forget_worker(hb_sandbox *sb, pid_t pid)
{
    if (pid > 0 && sb->m->run_dir)
        hb_mon_forget_worker(sb->m->run_dir, pid);
}

hb_wspawn hb__spawn_params(hb_sandbox *sb)
{
    hb_wspawn how = {0};
    how.worker_path = sb->m->worker_path;
    how.output_path = sb->output_path;
    how.profile = sb->opts.profile ? sb->opts.profile : HB_PROFILE_STANDARD;
    how.max_state = sb->opts.max_state_size;
    /* The worker sees its own objects only: a view it is shown at the
     * store's path (no view: no objects at all, never the whole store). */
    char *verr = NULL;
    if (!sb->jail_view && hb_jail_view_new(sb->m->run_dir, &sb->jail_view, &verr) < 0)
        hb__emit(sb->m, sb, HB_EVENT_WARNING, NULL, 0, 0, 0, NULL, "%s", verr ? verr : "?");
    free(verr);
    how.objects_dir = sb->jail_view ? sb->m->objects_dir : NULL;
    how.objects_view = sb->jail_view;
    how.scratch_dir = NULL;
    how.limits = sb->limits;
    how.cgroup = sb->cg;
    return how;
}

typedef struct load_reply {
    uint32_t schema, hooks;
    uint8_t state_result;
} load_reply;

/* The OK of a LOAD, or of a SWAP when swap is set. */
static int parse_load_reply(const hb_frame *f, bool swap, load_reply *out)
{
    hb_proto_loaded m;
    int r = swap ? hb__proto_swap_ok_decode(f->payload, f->len, &m)
                 : hb__proto_load_ok_decode(f->payload, f->len, &m);
    if (r < 0)
        return r == -ENOMEM ? r : HB_EPROTO;
    out->schema = m.schema;
    out->hooks = m.hooks;
    out->state_result = m.state_result;
    hb__proto_loaded_release(&m);
    return 0;
}

/* The dynamic loader's words for a missing provider or symbol become
 * HB_EUNRESOLVED with a sentence a developer can act on. */
static int map_loader_error(int r, char **err, const char *plugin)
{
    if (r != HB_EBADELF || !err || !*err)
        return r;
    const char *text = *err;
    const char *prov = strstr(text, "hotbox-plugin-");
    const char *undef = strstr(text, "undefined symbol: ");
    if (prov && strstr(text, "cannot open shared object")) {
        const char *end = strstr(prov, ".so");
        int len = end ? (int)(end - prov - 14) : 0;
        char *msg = hb__asprintf("%s depends on plugin %.*s, which is not loaded in this sandbox "
                                 "(load %.*s first): %s", plugin, len, prov + 14, len, prov + 14, text);
        if (msg) {
            free(*err);
            *err = msg;
        }
        return HB_EUNRESOLVED;
    }
    if (undef) {
        const char *sym = undef + 18;
        size_t len = strcspn(sym, " \t(),\n");
        char *msg = hb__asprintf("%s imports %.*s, which no loaded plugin or library provides: %s",
                                 plugin, (int)len, sym, text);
        if (msg) {
            free(*err);
            *err = msg;
        }
        return HB_EUNRESOLVED;
    }
    return r;
}

/* Makes the object at path visible to this sandbox's worker. */
static int expose_object(hb_sandbox *sb, const char *path, char **err)
{
    return sb->jail_view ? hb_jail_view_add(sb->jail_view, path, err) : 0;
}

/* LOAD path into the worker, restoring ck when given. */
static int rpc_load(hb_sandbox *sb, const char *plugin, const char *path, uint64_t version,
                    const hb_ckpt *ck, load_reply *lr, char **err)
{
    int xr = expose_object(sb, path, err);
    if (xr < 0)
        return xr;
    hb_wbuf w = {0};
    bool has = ck && ck->valid;
    hb_proto_load req = {.plugin = (char *)plugin, .path = (char *)path, .version = version,
                         .has_state = has, .state_schema = has ? ck->schema : 0,
                         .state = has ? ck->data : NULL, .state_len = has ? ck->len : 0};
    hb__proto_load_encode(&w, hb__wc_next_id(&sb->wc), &req); /* failure: hb__wc_request says */
    hb_frame reply;
    int r = hb__wc_request(&sb->wc, &w, sb->opts.swap_timeout_ms, NULL, NULL, &reply, err);
    hb__wire_release(&w);
    if (r < 0)
        return map_loader_error(r, err, plugin);
    r = parse_load_reply(&reply, false, lr);
    hb__frame_release(&reply);
    if (r < 0)
        hb__seterr(err, r, "malformed LOAD reply");
    return r;
}

/* The slot's active version is not on probation (any more). */
static void clear_probation(hb_slot *s)
{
    memset(&s->prob, 0, sizeof(s->prob));
    s->on_probation = false;
    s->prev_version = 0;
    s->prev_sha[0] = '\0';
    s->prev_schema = 0;
}

/* Before a restart loads a slot's object again: if the object no longer
 * matches its checksum (corrupted or deleted on disk), fall back to the
 * newest good version that does, with an event. */
static int verify_or_fallback(hb_sandbox *sb, hb_slot *s)
{
    hb_version_rec cur = {0};
    int r = hb_store_get(sb->m->store, s->name, s->version, &cur);
    char *err = NULL;
    if (r == 0)
        r = hb__verify_object(sb->m, &cur, &err);
    if (r == 0) {
        hb_version_rec_release(&cur);
        return 0;
    }
    hb_version_rec *v = NULL;
    size_t n = 0;
    int lr = hb_store_list(sb->m->store, s->name, &v, &n);
    int found = -ENOENT;
    for (size_t i = n; lr == 0 && i-- > 0 && found < 0;) {
        if (v[i].version == s->version ||
            (v[i].status != HB_VERSION_GOOD && v[i].status != HB_VERSION_ACTIVE &&
             v[i].status != HB_VERSION_ROLLED_BACK))
            continue;
        char *e2 = NULL;
        if (hb__verify_object(sb->m, &v[i], &e2) == 0) {
            char *path = hb_store_object_path(sb->m->store, v[i].object_sha256);
            if (path) {
                hb__emit(sb->m, sb, HB_EVENT_ROLLED_BACK, s->name, v[i].version, s->version, r,
                         NULL, "%s v%llu cannot be loaded again (%s); falling back to v%llu",
                         s->name, (unsigned long long)s->version, err ? err : hb_strerror(r),
                         (unsigned long long)v[i].version);
                set_status(sb, s->name, s->version, HB_VERSION_BAD);
                free(s->path);
                s->path = path;
                s->version = v[i].version;
                memcpy(s->sha, v[i].object_sha256, HB_SHA256_HEX);
                clear_probation(s); /* a good version, not on probation */
                set_status(sb, s->name, s->version, HB_VERSION_ACTIVE);
                found = 0;
            }
        }
        free(e2);
    }
    hb_store_list_free(v, n);
    hb_version_rec_release(&cur);
    free(err);
    return found;
}

/* Starts a fresh worker and reloads every plugin's active version with its
 * latest checkpoint. A plugin whose checkpoint cannot be restored starts
 * fresh (with an event); one that cannot be loaded at all is dropped from
 * the sandbox (with an event). When a load kills the new worker, the whole
 * restart begins again without the culprit, so the others keep serving. */
static int restart_worker(hb_sandbox *sb, const char *why)
{
    hb_manager *m = sb->m;
    char *err = NULL;
    int r = 0;
    hb_wspawn how = hb__spawn_params(sb);
    for (size_t i = 0; i < sb->nslots; i++) {
        hb_slot *s = &sb->slots[i];
        s->restore_fresh = false;
        if (!s->calls_since_ckpt)
            continue;
        /* What the plugin did since its last checkpoint dies with this
         * worker: said now (event) and on the plugin's next call. */
        s->state_lost = true;
        hb__emit(m, sb, HB_EVENT_STATE_RESET, s->name, s->version, 0, HB_ESTATELOST, NULL,
                 "%s v%llu lost the effect of %llu call%s since its last checkpoint when its worker %s",
                 s->name, (unsigned long long)s->version,
                 (unsigned long long)s->calls_since_ckpt, s->calls_since_ckpt == 1 ? "" : "s", why);
        s->calls_since_ckpt = 0;
    }
    uint64_t t0 = hb__now_ns();
    for (unsigned attempt = 0; attempt <= 2 * sb->nslots + 1; attempt++) {
        pid_t oldpid = sb->wc.pid;
        hb__wc_kill(&sb->wc);
        forget_worker(sb, oldpid);
        r = hb__wc_spawn(&sb->wc, &how, &err);
        record_worker(sb);
        if (r < 0) {
            fail(sb, r, "cannot restart the worker after it %s: %s", why, err ? err : "");
            free(err);
            return r;
        }
        bool again = false;
        for (size_t i = 0; i < sb->nslots && !again;) {
            hb_slot *s = &sb->slots[i];
            if (attempt == 0 && verify_or_fallback(sb, s) < 0) {
                hb__emit(m, sb, HB_EVENT_UNLOADED, s->name, s->version, 0, HB_ECORRUPT, NULL,
                         "%s: no stored version verifies; removed from the sandbox", s->name);
                slot_remove(sb, s);
                continue;
            }
            load_reply lr;
            const hb_ckpt *ck =
                s->ckpts.latest.valid && !s->restore_fresh ? &s->ckpts.latest : NULL;
            r = rpc_load(sb, s->name, s->path, s->version, ck, &lr, &err);
            if (r == HB_EHOOK && ck && ck->schema != s->schema) {
                /* The latest state is in a layout this version cannot read
                 * (after an automatic rollback): its own last checkpoint. */
                const hb_ckpt *own = hb_ckset_for_schema(&s->ckpts, s->schema);
                if (own) {
                    ck = own;
                    r = rpc_load(sb, s->name, s->path, s->version, ck, &lr, &err);
                }
            }
            again = r == HB_ECRASHED || r == HB_EHUNG;
            if (r == 0) {
                s->schema = lr.schema;
                s->hooks = lr.hooks;
                i++;
                continue;
            }
            if (ck) {
                s->restore_fresh = true; /* retry this plugin without its state */
                s->state_lost = true;
                hb__emit(m, sb, HB_EVENT_STATE_RESET, s->name, s->version, 0, r, NULL,
                         "%s v%llu could not restore its checkpoint (%s); it restarts with fresh state",
                         s->name, (unsigned long long)s->version, err ? err : hb_strerror(r));
                continue;
            }
            hb__emit(m, sb, HB_EVENT_UNLOADED, s->name, s->version, 0, r, NULL,
                     "%s v%llu could not be restarted and was removed: %s", s->name,
                     (unsigned long long)s->version, err ? err : hb_strerror(r));
            slot_remove(sb, s);
        }
        if (!again)
            break;
    }
    sb->restarts++;
    hb_metrics_add(m->metrics, HB_CTR_RESTARTS, 1);
    hb_metrics_observe(m->metrics, HB_HIST_RESTART, hb__now_ns() - t0);
    hb_sb restored = HB_SB_INIT;
    for (size_t i = 0; i < sb->nslots; i++)
        hb__sb_addf(&restored, "%s%s v%llu%s", restored.len ? ", " : "", sb->slots[i].name,
                    (unsigned long long)sb->slots[i].version,
                    sb->slots[i].ckpts.latest.valid && !sb->slots[i].restore_fresh
                        ? " from its checkpoint" : "");
    hb__emit(m, sb, HB_EVENT_RESTARTED, NULL, 0, 0, 0, NULL,
             "worker restarted (pid %d) after it %s%s%s", (int)sb->wc.pid, why,
             restored.len ? "; serving " : "", restored.len ? restored.buf : "");
    hb__sb_release(&restored);
    free(err);
    return hb__wc_alive(&sb->wc) ? 0 : HB_ECRASHED;
}

static int checkpoint_one(hb_sandbox *sb, hb_slot *s);

/* The worker answered a LOAD or SWAP with -EMFILE: a plugin holds every
 * descriptor the worker may have, so every later dlopen would fail for the
 * life of this worker. Saves each plugin's state while the worker still
 * answers (saving needs no descriptor), then restarts it with the same
 * versions and that state. Returns 0 when a fresh worker serves. */
static int recover_fds(hb_sandbox *sb)
{
    for (size_t i = 0; i < sb->nslots; i++) {
        if (!(sb->slots[i].hooks & HB_PROTO_HOOK_SAVE))
            continue;
        int r = checkpoint_one(sb, &sb->slots[i]);
        if (r == HB_ECRASHED || r == HB_EHUNG)
            return hb__wc_alive(&sb->wc) ? 0 : r; /* already restarted */
    }
    return restart_worker(sb, "ran out of file descriptors (a plugin holds them all)");
}

/* Called when a request came back HB_ECRASHED/HB_EHUNG: report and recover. */
/* A crash loop ends here: the sandbox refuses work until it is recreated. */
static bool crash_loop_check(hb_sandbox *sb)
{
    uint64_t now = hb__now_ns();
    hb_mon_policy_crash(sb->policy, now);
    sb->crashes++;
    if (hb_mon_should_fail(sb->policy, now)) {
        sb->failed = true;
        pid_t pid = sb->wc.pid;
        hb__wc_kill(&sb->wc);
        forget_worker(sb, pid);
        hb__emit(sb->m, sb, HB_EVENT_WARNING, NULL, 0, 0, HB_EFAILED, NULL,
                 "sandbox %s failed: %u crashes within %u ms; it is not restarted again",
                 sb->name, hb_mon_policy_recent(sb->policy, now),
                 sb->opts.crash_loop_window_ms);
        return true;
    }
    /* Back off before restarting a worker that keeps dying. The wait is
     * bounded (2 s at most) and only happens in a crash loop. */
    uint64_t d = hb_mon_backoff_ms(sb->policy, now);
    if (d > 0)
        poll(NULL, 0, (int)d);
    return false;
}

/* Re-evaluates the probation of s at the current time (the time condition
 * holds whether or not calls happened). Returns true when it passed now or
 * earlier, with an event the first time. */
static bool probation_tick(hb_sandbox *sb, hb_slot *s)
{
    if (!s->on_probation)
        return true;
    if (hb_probation_tick(&s->prob, hb__now_ns()) != HB_PROBATION_PASSED)
        return false;
    clear_probation(s);
    hb__emit(sb->m, sb, HB_EVENT_WARNING, s->name, s->version, 0, 0, NULL,
             "%s v%llu passed probation", s->name, (unsigned long long)s->version);
    return true;
}

/* A version on probation that crashed or hung goes back to the version
 * before it (marked bad), before the worker restarts. */
static bool revert_probation(hb_sandbox *sb, hb_slot *s, const char *reason)
{
    if (!s->on_probation || !s->prev_version)
        return false;
    /* A version that served long enough passed by time, whether or not any
     * call came to say so: this crash is an ordinary one. */
    if (probation_tick(sb, s))
        return false;
    char *path = hb_store_object_path(sb->m->store, s->prev_sha);
    if (!path)
        return false;
    uint64_t bad = s->version;
    set_status(sb, s->name, bad, HB_VERSION_BAD);
    free(s->path);
    s->path = path;
    s->version = s->prev_version;
    memcpy(s->sha, s->prev_sha, HB_SHA256_HEX);
    s->schema = s->prev_schema;
    clear_probation(s); /* the version it goes back to served before */
    set_status(sb, s->name, s->version, HB_VERSION_ACTIVE);
    hb_metrics_add(sb->m->metrics, HB_CTR_ROLLBACKS, 1);
    hb__emit(sb->m, sb, HB_EVENT_ROLLED_BACK, s->name, s->version, bad, HB_ECRASHED, NULL,
             "automatic rollback: %s v%llu %s during probation; v%llu serves again with its last checkpoint (v%llu is marked bad)",
             s->name, (unsigned long long)bad, reason, (unsigned long long)s->version,
             (unsigned long long)bad);
    return true;
}

/* Reports a dead worker, blames the version whose code faulted (when the
 * worker said), rolls that version back if it was on probation, and starts
 * a new worker. plugin/version: the operation that was running (NULL, 0:
 * none). Returns HB_EFAILED in a crash loop, else the restart's result. */
static int recover(hb_sandbox *sb, const char *plugin, uint64_t version, int code,
                   const char *what, const char *why)
{
    uint64_t t0 = hb__now_ns();
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
            set_status(sb, blamed, version, HB_VERSION_BAD); /* never a rollback target */
    }
    hb__emit(sb->m, sb, HB_EVENT_CRASHED, plugin, version, 0, code, NULL, "%s", what);
    if (crash_loop_check(sb))
        return HB_EFAILED;
    hb_slot *s = plugin ? hb__slot_find(sb, plugin) : NULL;
    bool reverted = s && s->version == version &&
                    revert_probation(sb, s, code == HB_EHUNG ? "hung" : "crashed");
    int r = restart_worker(sb, why);
    if (reverted)
        hb_metrics_observe(sb->m->metrics, HB_HIST_ROLLBACK, hb__now_ns() - t0);
    return r;
}

void hb__recover(hb_sandbox *sb, const char *plugin, uint64_t version, int code,
                 const char *what)
{
    recover(sb, plugin, version, code, what, code == HB_EHUNG ? "hung" : "crashed");
}

void hb__probation_call(hb_sandbox *sb, const char *plugin, int result)
{
    hb_slot *s = hb__slot_find(sb, plugin);
    if (!s || !s->on_probation || result != 0)
        return; /* crashes and hangs are handled by hb__recover */
    hb_probation_call_ok(&s->prob, hb__now_ns());
    probation_tick(sb, s);
}

void hb__probation_selftests(hb_sandbox *sb, const char *plugin, unsigned failed,
                             const char *first_failure)
{
    hb_slot *s = hb__slot_find(sb, plugin);
    if (!s || !s->on_probation)
        return;
    uint64_t now = hb__now_ns();
    hb_probation_state st = failed ? hb_probation_selftest_failed(&s->prob, now)
                                   : hb_probation_selftests_passed(&s->prob, now);
    if (st == HB_PROBATION_PASSED) {
        s->on_probation = false;
        return;
    }
    if (st != HB_PROBATION_FAILED || !s->prev_version)
        return;
    /* A failed self-test: the worker is fine, so roll back in place. */
    uint64_t bad = s->version, to = s->prev_version;
    s->on_probation = false;
    uint64_t t0 = hb__now_ns();
    int r = hb_rollback(sb, plugin, to);
    s = hb__slot_find(sb, plugin);
    set_status(sb, plugin, bad, HB_VERSION_BAD);
    if (r == 0) {
        hb_metrics_add(sb->m->metrics, HB_CTR_ROLLBACKS, 1);
        hb_metrics_observe(sb->m->metrics, HB_HIST_ROLLBACK, hb__now_ns() - t0);
        hb__emit(sb->m, sb, HB_EVENT_ROLLED_BACK, plugin, to, bad, HB_EHOOK, NULL,
                 "automatic rollback: %s v%llu failed its self-test %s during probation; v%llu serves again (v%llu is marked bad)",
                 plugin, (unsigned long long)bad, first_failure ? first_failure : "",
                 (unsigned long long)to, (unsigned long long)bad);
    }
}

/* Before an operation: a worker that died while idle (killed from outside)
 * is noticed and replaced first. */
int hb__ensure_worker(hb_sandbox *sb)
{
    if (sb->failed)
        return fail(sb, HB_EFAILED, "sandbox %s has failed (crash loop); recreate it", sb->name);
    for (size_t i = 0; i < sb->nslots; i++)
        probation_tick(sb, &sb->slots[i]); /* proven by time: said when seen */
    if (hb__wc_alive(&sb->wc))
        return 0;
    char buf[160] = "no worker", where[320];
    if (sb->wc.reaped)
        hb__describe_wait_status(sb->wc.wait_status, buf, sizeof(buf));
    hb__wc_fault_place(&sb->wc, where, sizeof(where));
    /* A thread of a plugin can crash the worker between requests: the
     * version whose code faulted is blamed as for a crash during a call. */
    char *what = hb__asprintf("worker of sandbox %s died while idle: %s%s", sb->name, buf, where);
    int r = recover(sb, NULL, 0, HB_ECRASHED, what ? what : "", "died while idle");
    free(what);
    if (r == HB_EFAILED)
        return fail(sb, HB_EFAILED, "sandbox %s has failed (crash loop); recreate it", sb->name);
    return r;
}

/* ---- public: sandboxes ---------------------------------------------------- */

int hb_sandbox_new(hb_manager *m, const hb_sandbox_options *opts, hb_sandbox **out)
{
    if (!m || !out)
        return -EINVAL;
    if (opts && hb__options_check(&hb__sandbox_options_kind, opts->version) < 0) {
        hb__set_mgr_error(m, "hb_sandbox_new: options version %u is not one this library "
                          "accepts (1 to %u)", opts->version, HB_SANDBOX_OPTIONS_VERSION);
        return HB_EOPTVERSION;
    }
    hb_sandbox *sb = calloc(1, sizeof(*sb));
    if (!sb)
        return -ENOMEM;
    hb_sandbox_options d = HB_SANDBOX_OPTIONS_INIT;
    hb__options_take(&hb__sandbox_options_kind, &sb->opts, &d, opts);
    if (!sb->opts.max_state_size)
        sb->opts.max_state_size = 16u << 20;
    if (!sb->opts.call_timeout_ms)
        sb->opts.call_timeout_ms = 10000;
    if (!sb->opts.swap_timeout_ms)
        sb->opts.swap_timeout_ms = 10000;
    if (!sb->opts.max_plugins)
        sb->opts.max_plugins = 64;
    if (!sb->opts.max_memory)
        sb->opts.max_memory = 4ull << 30;
    if (!sb->opts.max_open_files)
        sb->opts.max_open_files = 256;
    if (!sb->opts.probation_calls)
        sb->opts.probation_calls = 20;
    if (!sb->opts.probation_ms)
        sb->opts.probation_ms = 2000;
    if (!sb->opts.crash_loop_max)
        sb->opts.crash_loop_max = 5;
    if (!sb->opts.crash_loop_window_ms)
        sb->opts.crash_loop_window_ms = 10000;
#if defined(__SANITIZE_ADDRESS__)
    /* An ASan-built worker reserves terabytes of shadow address space. */
    sb->limits.memory_bytes = 0;
#else
    sb->limits.memory_bytes = sb->opts.max_memory;
#endif
    sb->limits.cpu_seconds = sb->opts.max_cpu_seconds;
    sb->limits.open_files = sb->opts.max_open_files;
    sb->limits.processes = sb->opts.max_processes;
    sb->limits.no_core = 1;
    hb_mon_policy_options po = {0};
    po.max_crashes = sb->opts.crash_loop_max;
    po.window_ms = sb->opts.crash_loop_window_ms;
    if (hb_mon_policy_new(&po, &sb->policy) < 0) {
        free(sb);
        return -ENOMEM;
    }
    sb->m = m;
    sb->wc.fd = sb->wc.pidfd = sb->wc.worker_pidfd = -1;
    pthread_mutex_lock(&m->lock);
    unsigned n = ++m->next_sandbox;
    pthread_mutex_unlock(&m->lock);
    sb->named = sb->opts.name && *sb->opts.name;
    sb->name = sb->named ? strdup(sb->opts.name) : hb__asprintf("sandbox-%u", n);
    sb->opts.name = NULL;
    if (!sb->name) {
        free(sb);
        return -ENOMEM;
    }
    sb->output_path = sb->opts.output_path ? strdup(sb->opts.output_path) : NULL;
    sb->opts.output_path = NULL;
    setup_cgroup(sb, n);
    char *err = NULL;
    hb_wspawn how = hb__spawn_params(sb);
    int r = hb__wc_spawn(&sb->wc, &how, &err);
    if (r < 0) {
        hb_cgroup_destroy(sb->cg);
        hb_mon_policy_free(sb->policy);
        free(sb->output_path);
        hb_jail_view_free(sb->jail_view);
        hb__set_mgr_error(m, "sandbox %s: %s", sb->name, err ? err : hb_strerror(r));
        free(err);
        free(sb->name);
        free(sb);
        return r;
    }
    record_worker(sb);
    if (sb->wc.warning[0]) /* a protection this machine cannot give */
        hb__emit(m, sb, HB_EVENT_WARNING, NULL, 0, 0, 0, NULL, "sandbox %s: %s", sb->name,
                 sb->wc.warning);
    pthread_mutex_lock(&m->lock);
    sb->next = m->sandboxes;
    m->sandboxes = sb;
    pthread_mutex_unlock(&m->lock);
    *out = sb;
    return 0;
}

void hb_sandbox_free(hb_sandbox *sb)
{
    if (!sb)
        return;
    hb_manager *m = sb->m;
    pid_t pid = sb->wc.pid;
    hb__wc_stop(&sb->wc, sb->opts.swap_timeout_ms);
    forget_worker(sb, pid);
    hb_cgroup_destroy(sb->cg); /* and anything the worker left in it */
    hb_mon_policy_free(sb->policy);
    for (size_t i = 0; i < sb->nslots; i++) {
        if (sb->slots[i].version)
            set_status(sb, sb->slots[i].name, sb->slots[i].version, HB_VERSION_GOOD);
        slot_release(&sb->slots[i]);
    }
    pthread_mutex_lock(&m->lock);
    for (hb_sandbox **p = &m->sandboxes; *p; p = &(*p)->next)
        if (*p == sb) {
            *p = sb->next;
            break;
        }
    pthread_mutex_unlock(&m->lock);
    free(sb->slots);
    free(sb->name);
    free(sb->last_error);
    free(sb->pub_diags);
    free(sb->ret_str);
    free(sb->output_path);
    /* The worker is gone: its copies of the plugin objects go too. */
    hb_jail_view_free(sb->jail_view);
    hb_compile_result_release(&sb->last_compile);
    free(sb);
}

int hb_sandbox_diagnostics(hb_sandbox *sb, const hb_diagnostic **out, size_t *count)
{
    if (!sb || !out || !count)
        return -EINVAL;
    size_t n = sb->last_compile.ndiags;
    free(sb->pub_diags);
    sb->pub_diags = calloc(n ? n : 1, sizeof(hb_diagnostic));
    if (!sb->pub_diags)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const hb_diag *d = &sb->last_compile.diags[i];
        sb->pub_diags[i] = (hb_diagnostic){d->file, d->line, d->column, d->severity, d->message};
    }
    *out = sb->pub_diags;
    *count = n;
    return 0;
}

/* Runs the build and keeps its diagnostics on the sandbox. */
static int build_for(hb_sandbox *sb, const char *dir, const char *plugin, hb_build_out *b)
{
    char *err = NULL;
    int r = hb__build_ex(sb->m, dir, plugin, !sb->build_fresh, b, &err);
    if (r < 0) {
        hb_compile_result_release(&sb->last_compile);
        sb->last_compile = b->cres;
        memset(&b->cres, 0, sizeof(b->cres));
        set_err(sb, err);
        hb_event_type type = r == HB_ECOMPILE || r == HB_ECHANGED ? HB_EVENT_COMPILE_FAILED
                                                                 : HB_EVENT_SWAP_FAILED;
        if (sb->held)
            hb__hold_event(sb->held, type, plugin, r, &b->t, sb->last_error);
        else
            hb__emit(sb->m, sb, type, plugin, 0, 0, r, &b->t, "%s", err ? err : hb_strerror(r));
        return r;
    }
    free(err);
    if (!b->cache_hit) {
        /* Keep this compile's warnings for hb_sandbox_diagnostics. */
        hb_compile_result_release(&sb->last_compile);
        sb->last_compile = b->cres;
        memset(&b->cres, 0, sizeof(b->cres));
    }
    if (!b->cache_hit)
        hb__emit(sb->m, sb, HB_EVENT_COMPILED, plugin, b->rec.version, 0, 0, &b->t,
                 "%s v%llu compiled in %.1f ms", plugin, (unsigned long long)b->rec.version,
                 b->t.compile_ms);
    return 0;
}

/* The newest stored version of plugin older than `below` whose status is in
 * `statuses` (a bit set of 1u << hb_version_status). 0 and *out filled,
 * -ENOENT when there is none, or the store's error. */
static int newest_older(hb_sandbox *sb, const char *plugin, uint64_t below, unsigned statuses,
                        hb_version_rec *out)
{
    hb_version_rec *v = NULL;
    size_t n = 0;
    int r = hb_store_list(sb->m->store, plugin, &v, &n);
    if (r < 0)
        return r;
    r = -ENOENT;
    for (size_t i = n; i-- > 0;) {
        if (v[i].version < below && (statuses & (1u << v[i].status))) {
            *out = v[i];
            memset(&v[i], 0, sizeof(v[i]));
            r = 0;
            break;
        }
    }
    hb_store_list_free(v, n);
    return r;
}

/* When a build is a version that was rolled back or failed (its source has
 * not changed since), the version to use instead: the newest good or
 * active one older than it. Returns 0 and fills *out, or -ENOENT. */
static int pinned_instead(hb_sandbox *sb, const hb_version_rec *built, hb_version_rec *out)
{
    return newest_older(sb, built->plugin, built->version,
                        1u << HB_VERSION_GOOD | 1u << HB_VERSION_ACTIVE, out);
}

/* The profile's import policy for a version about to be loaded: its
 * undefined symbols and DT_NEEDED libraries, from the ELF analysis. */
static int check_policy(hb_sandbox *sb, const hb_version_rec *rec)
{
    hb_profile prof = sb->opts.profile ? sb->opts.profile : HB_PROFILE_STANDARD;
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
        fail(sb, r, "%s v%llu %s", rec->plugin, (unsigned long long)rec->version,
             err ? err : hb_strerror(r));
        hb__emit(sb->m, sb, HB_EVENT_SWAP_FAILED, rec->plugin, rec->version, 0, r, NULL, "%s",
                 sb->last_error);
    }
    free(err);
    return r;
}

static bool is_skipped(const hb_version_rec *r)
{
    return r->status == HB_VERSION_BAD || r->status == HB_VERSION_ROLLED_BACK;
}

static const char *state_note(uint8_t state_result, uint32_t old_hooks)
{
    if (state_result == HB_PROTO_STATE_CARRIED)
        return "state carried";
    if (!(old_hooks & HB_PROTO_HOOK_SAVE))
        return "fresh state: the old version has no save hook";
    return "fresh state: the new version has no migrate hook";
}

int hb_load(hb_sandbox *sb, const char *dir)
{
    if (!sb || !dir)
        return -EINVAL;
    char *abs = NULL, *name = NULL, *err = NULL;
    int r = hb__resolve_plugin_dir(dir, &abs, &name, &err);
    if (r < 0) {
        set_err(sb, err);
        return r;
    }
    hb_build_out b = {0};
    hb_ckpt resume = {0};
    if (hb__slot_find(sb, name)) {
        r = fail(sb, -EEXIST, "plugin %s is already loaded in sandbox %s; use reload", name,
                 sb->name);
        goto out;
    }
    if (sb->nslots >= sb->opts.max_plugins) {
        r = fail(sb, HB_ELIMIT, "sandbox %s already holds %u plugins (max_plugins)", sb->name,
                 sb->opts.max_plugins);
        goto out;
    }
    uint64_t t0 = hb__now_ns();
    r = build_for(sb, abs, name, &b);
    if (r < 0)
        goto out;
    if (is_skipped(&b.rec)) {
        hb_version_rec alt = {0};
        if (pinned_instead(sb, &b.rec, &alt) == 0) {
            hb__emit(sb->m, sb, HB_EVENT_WARNING, name, alt.version, b.rec.version, 0, NULL,
                     "%s v%llu is %s and its source has not changed: loading v%llu instead",
                     name, (unsigned long long)b.rec.version,
                     b.rec.status == HB_VERSION_BAD ? "marked bad" : "rolled back",
                     (unsigned long long)alt.version);
            hb_version_rec_release(&b.rec);
            b.rec = alt;
            char *verr = NULL;
            r = hb__verify_object(sb->m, &b.rec, &verr);
            if (r < 0) {
                set_err(sb, verr);
                goto out;
            }
        }
    }
    if ((r = check_policy(sb, &b.rec)) < 0) {
        set_status(sb, name, b.rec.version, HB_VERSION_BAD);
        goto out;
    }
    if ((r = hb__ensure_worker(sb)) < 0)
        goto out;
    char *path = NULL;
    path = hb_store_object_path(sb->m->store, b.rec.object_sha256);
    hb_slot *ns = realloc(sb->slots, (sb->nslots + 1) * sizeof(*ns));
    if (!path || !ns) {
        free(path);
        if (ns)
            sb->slots = ns;
        r = fail(sb, -ENOMEM, "out of memory");
        goto out;
    }
    sb->slots = ns;
    /* A named sandbox resumes from the checkpoint an earlier run stored. */
    if (sb->named) {
        hb_checkpoint_rec cr = {0};
        int cg = hb_store_checkpoint_get(sb->m->store, name, sb->name, -1, &cr);
        if (cg == 0) {
            hb_checkpoint_set(&resume, cr.version, cr.schema, cr.blob, cr.len, hb__now_ns());
            hb_checkpoint_rec_release(&cr);
        }
    }
    load_reply lr;
    uint64_t ts = hb__now_ns();
    r = rpc_load(sb, name, path, b.rec.version, resume.valid ? &resume : NULL, &lr, &err);
    if (r == HB_EHOOK && resume.valid) {
        hb__emit(sb->m, sb, HB_EVENT_STATE_RESET, name, b.rec.version, 0, r, NULL,
                 "%s v%llu refused the stored checkpoint (%s); it starts with fresh state", name,
                 (unsigned long long)b.rec.version, err ? err : "");
        hb_checkpoint_release(&resume);
        r = rpc_load(sb, name, path, b.rec.version, NULL, &lr, &err);
    }
    if (r == -EMFILE && recover_fds(sb) == 0) /* not this plugin's fault */
        r = rpc_load(sb, name, path, b.rec.version, resume.valid ? &resume : NULL, &lr, &err);
    b.t.swap_ms = hb__ms_since(ts);
    b.t.total_ms = hb__ms_since(t0);
    if (r < 0) {
        set_status(sb, name, b.rec.version, HB_VERSION_BAD);
        fail(sb, r, "loading %s v%llu failed: %s", name, (unsigned long long)b.rec.version,
             err ? err : hb_strerror(r));
        hb__emit(sb->m, sb, HB_EVENT_SWAP_FAILED, name, b.rec.version, 0, r, &b.t, "%s",
                 sb->last_error);
        free(path);
        if (r == HB_ECRASHED || r == HB_EHUNG)
            hb__recover(sb, name, b.rec.version, r, sb->last_error);
        goto out;
    }
    hb_slot *s = &sb->slots[sb->nslots++];
    memset(s, 0, sizeof(*s));
    if (resume.valid) {
        /* The resumed state is this plugin's checkpoint until a newer one. */
        hb_ckset_record(&s->ckpts, resume.version, resume.schema, resume.data, resume.len,
                        hb__now_ns());
    }
    s->name = name;
    s->dir = abs;
    name = abs = NULL;
    s->path = path;
    s->version = b.rec.version;
    memcpy(s->sha, b.rec.object_sha256, HB_SHA256_HEX);
    s->schema = lr.schema;
    s->hooks = lr.hooks;
    s->last_ckpt_ns = hb__now_ns();
    set_status(sb, s->name, s->version, HB_VERSION_ACTIVE);
    hb__emit(sb->m, sb, HB_EVENT_LOADED, s->name, s->version, 0, 0, &b.t,
             "%s v%llu loaded (%.1f ms)%s", s->name, (unsigned long long)s->version, b.t.total_ms,
             resume.valid && lr.state_result == HB_PROTO_STATE_CARRIED
                 ? "; state resumed from its stored checkpoint" : "");
out:
    hb_checkpoint_release(&resume);
    hb__build_out_release(&b);
    free(err);
    free(abs);
    free(name);
    return r;
}

/* Every path of a swap that makes rec the active version of s ends here:
 * the probation state is the new version's own, never inherited from the
 * version it replaced. A rollback target is not put on probation (it
 * served before); a new version is, with the old one as where it goes back
 * to if it fails. */
static void start_probation(hb_sandbox *sb, hb_slot *s, const hb_version_rec *rec,
                            bool is_rollback, uint64_t old_version, const char *old_sha,
                            uint32_t old_schema)
{
    clear_probation(s);
    if (is_rollback)
        return;
    hb_probation_options po = HB_PROBATION_OPTIONS_INIT;
    po.calls = sb->opts.probation_calls;
    po.ms = sb->opts.probation_ms;
    po.has_selftests = false;
    for (size_t i = 0; rec->exports && rec->exports[i] && !po.has_selftests; i++)
        po.has_selftests = strncmp(rec->exports[i], "hb_test_", 8) == 0;
    hb_probation_init(&s->prob, &po, hb__now_ns());
    s->on_probation = true;
    s->prev_version = old_version;
    memcpy(s->prev_sha, old_sha, HB_SHA256_HEX);
    s->prev_schema = old_schema;
}

/* Swaps slot s to stored version rec, once (see swap_to). */
static int swap_once(hb_sandbox *sb, hb_slot *s, const hb_version_rec *rec, hb_timings *t,
                     bool is_rollback, uint64_t t0)
{
    hb_manager *m = sb->m;
    char *err = NULL;
    uint64_t tv = hb__now_ns();
    int r = hb__verify_object(m, rec, &err);
    t->verify_ms += hb__ms_since(tv);
    if (r < 0) {
        fail(sb, r, "refusing to load %s v%llu: %s", s->name, (unsigned long long)rec->version,
             err ? err : hb_strerror(r));
        free(err);
        return r;
    }
    if ((r = check_policy(sb, rec)) < 0) {
        if (!is_rollback)
            set_status(sb, s->name, rec->version, HB_VERSION_BAD);
        return r;
    }
    char *path = hb_store_object_path(m->store, rec->object_sha256);
    if (!path)
        return fail(sb, -ENOMEM, "out of memory");
    char *xerr = NULL;
    if ((r = expose_object(sb, path, &xerr)) < 0) {
        free(path);
        r = fail(sb, r, "%s", xerr ? xerr : "cannot show the object to the worker");
        free(xerr);
        return r;
    }

    uint64_t old_version = s->version;
    uint32_t old_hooks = s->hooks;
    uint32_t old_schema = s->schema;
    char old_sha[HB_SHA256_HEX];
    memcpy(old_sha, s->sha, HB_SHA256_HEX);
    struct ckpt_ctx ctx = {sb, s, false, false, sb->named};
    hb_wbuf w = {0};
    /* wait_ack: the checkpoint is durable before the new code runs */
    hb_proto_swap req = {.plugin = s->name, .path = path, .version = rec->version,
                         .wait_ack = sb->named};
    hb__proto_swap_encode(&w, hb__wc_next_id(&sb->wc), &req);
    hb_frame reply;
    uint64_t ts = hb__now_ns();
    r = hb__wc_request(&sb->wc, &w, sb->opts.swap_timeout_ms, on_checkpoint, &ctx, &reply, &err);
    t->swap_ms = hb__ms_since(ts);
    t->total_ms = hb__ms_since(t0);
    hb__wire_release(&w);
    if (r < 0)
        r = map_loader_error(r, &err, s->name);
    if (r < 0 && ctx.switched && (r == HB_ECRASHED || r == HB_EHUNG)) {
        /* The new version was live, with the state migrated, when the old
         * version's fini crashed: the new version is what must serve. */
        free(s->path);
        s->path = path;
        s->version = rec->version;
        memcpy(s->sha, rec->object_sha256, HB_SHA256_HEX);
        set_status(sb, s->name, old_version, is_rollback ? HB_VERSION_ROLLED_BACK : HB_VERSION_GOOD);
        set_status(sb, s->name, rec->version, HB_VERSION_ACTIVE);
        /* Not the old version's probation: this version's own (a crash in
         * the old fini says nothing about the new code). */
        start_probation(sb, s, rec, is_rollback, old_version, old_sha, old_schema);
        fail(sb, r, "fini of %s v%llu crashed after the switch; v%llu is active with the migrated state: %s",
             s->name, (unsigned long long)old_version, (unsigned long long)rec->version,
             err ? err : hb_strerror(r));
        free(err);
        char *keep = strdup(sb->last_error);
        hb__recover(sb, s->name, old_version, r, keep ? keep : "");
        if (keep)
            set_err(sb, keep);
        hb__emit(m, sb, is_rollback ? HB_EVENT_ROLLED_BACK : HB_EVENT_SWAPPED, s->name,
                 rec->version, old_version, 0, t, "%s v%llu -> v%llu (the old version's fini crashed)",
                 s->name, (unsigned long long)old_version, (unsigned long long)rec->version);
        return 0;
    }
    if (r == -EMFILE) {
        /* The worker, not the new version, is at fault: swap_to recovers. */
        fail(sb, r, "swap of %s v%llu -> v%llu: %s", s->name, (unsigned long long)old_version,
             (unsigned long long)rec->version, err ? err : hb_strerror(r));
        free(err);
        free(path);
        return r;
    }
    if (r < 0) {
        fail(sb, r, "swap of %s v%llu -> v%llu failed; v%llu keeps serving%s: %s", s->name,
             (unsigned long long)old_version, (unsigned long long)rec->version,
             (unsigned long long)old_version, ctx.got ? " with its state" : "",
             err ? err : hb_strerror(r));
        free(err);
        free(path);
        /* A worker that had died before the request reached it ran none of
         * the new version's code: that version is not to blame. */
        if (!is_rollback && !sb->wc.undelivered)
            set_status(sb, s->name, rec->version, HB_VERSION_BAD);
        hb_metrics_add(m->metrics, HB_CTR_SWAP_FAILURES, 1);
        if (is_rollback && r == HB_EHOOK)
            return r; /* hb_rollback falls back to the target's own checkpoint */
        hb__emit(m, sb, HB_EVENT_SWAP_FAILED, s->name, rec->version, old_version, r, t, "%s",
                 sb->last_error);
        if (r == HB_ECRASHED || r == HB_EHUNG) {
            char *keep = strdup(sb->last_error);
            hb__recover(sb, s->name, rec->version, r, keep ? keep : "");
            /* recover() may have replaced last_error; keep the swap's. */
            if (keep)
                set_err(sb, keep);
        }
        return r;
    }
    load_reply lr;
    r = parse_load_reply(&reply, true, &lr);
    hb__frame_release(&reply);
    if (r < 0) {
        free(path);
        return fail(sb, r, "malformed SWAP reply from the worker");
    }
    free(s->path);
    s->path = path;
    s->version = rec->version;
    memcpy(s->sha, rec->object_sha256, HB_SHA256_HEX);
    s->schema = lr.schema;
    s->hooks = lr.hooks;
    set_status(sb, s->name, old_version, is_rollback ? HB_VERSION_ROLLED_BACK : HB_VERSION_GOOD);
    set_status(sb, s->name, rec->version, HB_VERSION_ACTIVE);
    hb_metrics_add(m->metrics, HB_CTR_SWAPS, 1);
    hb_metrics_observe(m->metrics, HB_HIST_SWAP, (uint64_t)(t->swap_ms * 1e6));
    start_probation(sb, s, rec, is_rollback, old_version, old_sha, old_schema);
    s->calls_since_ckpt = 0; /* the state at the swap is the checkpoint */
    hb__emit(m, sb, is_rollback ? HB_EVENT_ROLLED_BACK : HB_EVENT_SWAPPED, s->name, rec->version,
             old_version, 0, t, "%s v%llu -> v%llu (%s; swap %.2f ms, total %.1f ms)", s->name,
             (unsigned long long)old_version, (unsigned long long)rec->version,
             state_note(lr.state_result, old_hooks), t->swap_ms, t->total_ms);
    if (lr.state_result != HB_PROTO_STATE_CARRIED && ctx.got == false &&
        (old_hooks & HB_PROTO_HOOK_SAVE) == 0)
        hb__emit(m, sb, HB_EVENT_STATE_RESET, s->name, rec->version, old_version, 0, NULL,
                 "%s has no save hook: v%llu starts with fresh state", s->name,
                 (unsigned long long)rec->version);
    else if (lr.state_result == HB_PROTO_STATE_DROPPED)
        hb__emit(m, sb, HB_EVENT_STATE_RESET, s->name, rec->version, old_version, 0, NULL,
                 "%s v%llu has no migrate hook: it starts with fresh state", s->name,
                 (unsigned long long)rec->version);
    return 0;
}

/* Swaps slot s to stored version rec. Shared by reload and rollback. A
 * worker out of file descriptors is restarted (with every plugin's state)
 * and the swap tried once more. */
static int swap_to(hb_sandbox *sb, hb_slot *s, const hb_version_rec *rec, hb_timings *t,
                   bool is_rollback, uint64_t t0)
{
    int r = swap_once(sb, s, rec, t, is_rollback, t0);
    if (r != -EMFILE)
        return r;
    char *name = strdup(s->name);
    if (name && recover_fds(sb) == 0 && (s = hb__slot_find(sb, name)) != NULL)
        r = swap_once(sb, s, rec, t, is_rollback, t0);
    free(name);
    return r;
}

/* The plugins that the active version of slot i depends on (a list,
 * malloc'ed). */
static char **slot_depends(hb_sandbox *sb, const hb_slot *s)
{
    hb_version_rec rec = {0};
    int r = hb_store_get(sb->m->store, s->name, s->version, &rec);
    char **d = hb__strv_dup(r == 0 ? rec.depends : NULL);
    hb_version_rec_release(&rec);
    return d;
}

static int rpc_unload(hb_sandbox *sb, const char *plugin, char **err)
{
    hb_wbuf w = {0};
    hb_proto_plugin req = {(char *)plugin};
    hb__proto_unload_encode(&w, hb__wc_next_id(&sb->wc), &req);
    hb_frame reply;
    int r = hb__wc_request(&sb->wc, &w, sb->opts.swap_timeout_ms, NULL, NULL, &reply, err);
    hb__wire_release(&w);
    if (r == 0)
        hb__frame_release(&reply);
    return r;
}

/* Reloads the provider in slot `pi` to rec together with the plugins that
 * depend on it (dep[0..n), in load order), atomically: the dependents are
 * checkpointed and unloaded, the provider is swapped, and the dependents
 * are loaded again with their state, bound to the new provider. If any step
 * fails, every member goes back to its previous version with the state it
 * had at the start. */
static int reload_group(hb_sandbox *sb, size_t pi, const hb_version_rec *rec, hb_timings *t,
                        uint64_t t0, const size_t *dep, size_t n)
{
    char *err = NULL;
    int r = 0;
    char *provider = strdup(sb->slots[pi].name);
    if (!provider)
        return fail(sb, -ENOMEM, "out of memory");
    pid_t pid = sb->wc.pid;
    uint64_t old_version = sb->slots[pi].version;
    /* 1. Dependents, last loaded first: state saved, then unloaded. */
    size_t unloaded = 0;
    for (size_t k = n; k-- > 0;) {
        hb_slot *d = &sb->slots[dep[k]];
        if ((d->hooks & HB_PROTO_HOOK_SAVE) && (r = checkpoint_one(sb, d)) < 0)
            goto restore;
        if ((r = rpc_unload(sb, d->name, &err)) < 0) {
            fail(sb, r, "unloading %s to re-bind it to %s failed: %s", d->name, provider,
                 err ? err : hb_strerror(r));
            goto restore;
        }
        unloaded++;
    }
    /* 2. The provider. */
    r = swap_to(sb, &sb->slots[pi], rec, t, false, t0);
    if (sb->wc.pid != pid) {
        free(provider);
        free(err);
        return r < 0 ? r : HB_ECRASHED; /* a restarted worker loaded everyone */
    }
    if (r < 0) {
        /* The provider did not change: the dependents go back as they were. */
        char *why = strdup(sb->last_error ? sb->last_error : "");
        for (size_t k = 0; k < n; k++) {
            hb_slot *d = &sb->slots[dep[k]];
            load_reply lr;
            rpc_load(sb, d->name, d->path, d->version,
                     d->ckpts.latest.valid ? &d->ckpts.latest : NULL, &lr, &err);
        }
        if (why)
            set_err(sb, why);
        free(provider);
        free(err);
        return r;
    }
    /* 3. The dependents again, in load order, bound to the new provider. */
    for (size_t k = 0; k < n; k++) {
        hb_slot *d = &sb->slots[dep[k]];
        load_reply lr;
        r = rpc_load(sb, d->name, d->path, d->version,
                     d->ckpts.latest.valid ? &d->ckpts.latest : NULL, &lr, &err);
        if (r < 0) {
            fail(sb, r, "%s v%llu could not be re-bound to %s v%llu: %s; the whole group goes back",
                 d->name, (unsigned long long)d->version, provider,
                 (unsigned long long)rec->version, err ? err : hb_strerror(r));
            char *why = strdup(sb->last_error);
            for (size_t j = k; j-- > 0;)
                rpc_unload(sb, sb->slots[dep[j]].name, &err);
            if (sb->wc.pid == pid)
                hb_rollback(sb, provider, old_version);
            set_status(sb, provider, rec->version, HB_VERSION_BAD);
            if (sb->wc.pid == pid) {
                for (size_t j = 0; j < n; j++) {
                    hb_slot *e = &sb->slots[dep[j]];
                    rpc_load(sb, e->name, e->path, e->version,
                             e->ckpts.latest.valid ? &e->ckpts.latest : NULL, &lr, &err);
                }
            }
            if (why)
                set_err(sb, why);
            hb__emit(sb->m, sb, HB_EVENT_SWAP_FAILED, provider, rec->version, old_version, r, t,
                     "%s", sb->last_error);
            free(provider);
            free(err);
            return r;
        }
        d->schema = lr.schema;
        d->hooks = lr.hooks;
    }
    hb__emit(sb->m, sb, HB_EVENT_NOTICE, provider, rec->version, old_version, 0, t,
             "%s v%llu -> v%llu with %zu dependent plugin%s re-bound in order", provider,
             (unsigned long long)old_version, (unsigned long long)rec->version, n,
             n == 1 ? "" : "s");
    free(provider);
    free(err);
    return 0;
restore:
    /* Put back the dependents already unloaded (they are bound to the old
     * provider, which never changed). */
    for (size_t k = n - unloaded; k < n; k++) {
        hb_slot *d = &sb->slots[dep[k]];
        load_reply lr;
        if (sb->wc.pid == pid)
            rpc_load(sb, d->name, d->path, d->version,
                     d->ckpts.latest.valid ? &d->ckpts.latest : NULL, &lr, &err);
    }
    free(provider);
    free(err);
    return r;
}

int hb_reload(hb_sandbox *sb, const char *plugin)
{
    if (!sb || !plugin)
        return -EINVAL;
    hb_slot *s = hb__slot_find(sb, plugin);
    if (!s)
        return fail(sb, HB_ENOPLUGIN, "plugin %s is not loaded in sandbox %s", plugin, sb->name);
    uint64_t t0 = hb__now_ns();
    hb_build_out b = {0};
    char *dir = strdup(s->dir);
    int r = dir ? build_for(sb, dir, plugin, &b) : -ENOMEM;
    free(dir);
    if (r < 0)
        goto out;
    if ((r = hb__ensure_worker(sb)) < 0)
        goto out;
    s = hb__slot_find(sb, plugin); /* a restart may have dropped it */
    if (!s) {
        r = fail(sb, HB_ENOPLUGIN, "plugin %s was lost when its worker restarted", plugin);
        goto out;
    }
    if (b.rec.version == s->version)
        goto out; /* nothing changed */
    if (b.rec.status == HB_VERSION_BAD) {
        /* It failed before and its inputs are the same: not retried until
         * the source changes. (A rolled-back version is retried: reloading
         * is an explicit request.) */
        r = fail(sb, HB_EBADVERSION,
                 "%s v%llu is marked bad and its source has not changed since: v%llu keeps serving",
                 plugin, (unsigned long long)b.rec.version, (unsigned long long)s->version);
        hb__emit(sb->m, sb, HB_EVENT_WARNING, plugin, b.rec.version, s->version, r, NULL, "%s",
                 sb->last_error);
        goto out;
    }
    {
        /* Plugins that depend on this one (transitively), in load order. */
        size_t *dep = calloc(sb->nslots + 1, sizeof(size_t));
        size_t n = 0;
        char **names = NULL;
        hb__strv_push(&names, plugin);
        for (size_t i = 0; dep && i < sb->nslots; i++) {
            if (&sb->slots[i] == s)
                continue;
            char **d = slot_depends(sb, &sb->slots[i]);
            bool hit = false;
            for (size_t k = 0; d && d[k] && !hit; k++)
                hit = hb__strv_contains(names, d[k]);
            hb__strv_free(d);
            if (hit) {
                dep[n++] = i;
                hb__strv_push(&names, sb->slots[i].name);
            }
        }
        hb__strv_free(names);
        if (dep && n)
            r = reload_group(sb, (size_t)(s - sb->slots), &b.rec, &b.t, t0, dep, n);
        else
            r = swap_to(sb, s, &b.rec, &b.t, false, t0);
        free(dep);
    }
out:
    hb__build_out_release(&b);
    return r;
}

int hb_unload(hb_sandbox *sb, const char *plugin)
{
    if (!sb || !plugin)
        return -EINVAL;
    hb_slot *s = hb__slot_find(sb, plugin);
    if (!s)
        return fail(sb, HB_ENOPLUGIN, "plugin %s is not loaded in sandbox %s", plugin, sb->name);
    int r = hb__ensure_worker(sb);
    if (r < 0)
        return r;
    s = hb__slot_find(sb, plugin);
    if (!s)
        return 0;
    hb_wbuf w = {0};
    hb_proto_plugin req = {(char *)plugin};
    hb__proto_unload_encode(&w, hb__wc_next_id(&sb->wc), &req);
    hb_frame reply;
    char *err = NULL;
    r = hb__wc_request(&sb->wc, &w, sb->opts.swap_timeout_ms, NULL, NULL, &reply, &err);
    hb__wire_release(&w);
    uint64_t v = s->version;
    if (r == 0)
        hb__frame_release(&reply);
    /* Gone either way: a crash in fini still removes the plugin. */
    set_status(sb, plugin, v, HB_VERSION_GOOD);
    char *name = strdup(plugin);
    slot_remove(sb, s);
    if (r == HB_ECRASHED || r == HB_EHUNG) {
        fail(sb, r, "fini of %s v%llu: %s", name ? name : plugin, (unsigned long long)v,
             err ? err : "");
        hb__recover(sb, name, v, r, sb->last_error);
    } else if (r < 0) {
        fail(sb, r, "unload of %s: %s", name ? name : plugin, err ? err : hb_strerror(r));
    }
    hb__emit(sb->m, sb, HB_EVENT_UNLOADED, name, v, 0, r, NULL, "%s v%llu unloaded",
             name ? name : plugin, (unsigned long long)v);
    free(name);
    free(err);
    return r == HB_ECRASHED ? 0 : r;
}

int hb_active_version(hb_sandbox *sb, const char *plugin, uint64_t *out)
{
    if (!sb || !plugin || !out)
        return -EINVAL;
    hb_slot *s = hb__slot_find(sb, plugin);
    if (!s)
        return fail(sb, HB_ENOPLUGIN, "plugin %s is not loaded in sandbox %s", plugin, sb->name);
    *out = s->version;
    return 0;
}

static int checkpoint_one(hb_sandbox *sb, hb_slot *s)
{
    hb_wbuf w = {0};
    hb_proto_plugin req = {s->name};
    hb__proto_save_encode(&w, hb__wc_next_id(&sb->wc), &req);
    hb_frame reply;
    char *err = NULL;
    int r = hb__wc_request(&sb->wc, &w, sb->opts.swap_timeout_ms, NULL, NULL, &reply, &err);
    hb__wire_release(&w);
    if (r < 0) {
        fail(sb, r, "checkpoint of %s v%llu failed: %s", s->name, (unsigned long long)s->version,
             err ? err : hb_strerror(r));
        free(err);
        if (r == HB_ECRASHED || r == HB_EHUNG)
            hb__recover(sb, s->name, s->version, r, sb->last_error);
        return r;
    }
    hb_proto_save_ok ok = {0};
    r = hb__proto_save_ok_decode(reply.payload, reply.len, &ok) < 0 ? HB_EPROTO : 0;
    bool has_save = ok.has_save;
    if (r == 0 && has_save)
        r = hb_ckset_record(&s->ckpts, s->version, ok.schema, ok.state, ok.state_len,
                            hb__now_ns());
    if (r == 0 && has_save)
        s->calls_since_ckpt = 0;
    s->last_ckpt_ns = hb__now_ns();
    hb__frame_release(&reply);
    if (r == 0 && has_save)
        persist_checkpoint(sb, s);
    return r;
}

int hb__maybe_checkpoint(hb_sandbox *sb, hb_slot *s)
{
    if (!sb->opts.checkpoint_interval_ms || !(s->hooks & HB_PROTO_HOOK_SAVE))
        return 0;
    if (hb__now_ns() - s->last_ckpt_ns < (uint64_t)sb->opts.checkpoint_interval_ms * 1000000ull)
        return 0;
    return checkpoint_one(sb, s);
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
        r = checkpoint_one(sb, s);
        if (r < 0 || plugin)
            return r;
    }
    if (plugin)
        return fail(sb, HB_ENOPLUGIN, "plugin %s is not loaded in sandbox %s", plugin, sb->name);
    return 0;
}

/* ---- rollback ------------------------------------------------------------- */

static int pick_rollback_target(hb_sandbox *sb, hb_slot *s, uint64_t version,
                                hb_version_rec *out)
{
    hb_manager *m = sb->m;
    if (version) {
        int r = hb_store_get(m->store, s->name, version, out);
        if (r < 0)
            return fail(sb, HB_ENOVERSION, "%s has no stored version %llu", s->name,
                        (unsigned long long)version);
        return 0;
    }
    /* A version live in another sandbox of the store is "active" there,
     * not bad: it is a target too (as for pins and hb_pin's default). */
    int r = newest_older(sb, s->name, s->version,
                         1u << HB_VERSION_GOOD | 1u << HB_VERSION_ROLLED_BACK |
                             1u << HB_VERSION_ACTIVE,
                         out);
    if (r == -ENOENT)
        r = HB_ENOVERSION;
    if (r < 0)
        fail(sb, r, "%s has no good version older than v%llu to roll back to", s->name,
             (unsigned long long)s->version);
    return r;
}

int hb_rollback(hb_sandbox *sb, const char *plugin, uint64_t version)
{
    if (!sb || !plugin)
        return -EINVAL;
    hb_slot *s = hb__slot_find(sb, plugin);
    if (!s)
        return fail(sb, HB_ENOPLUGIN, "plugin %s is not loaded in sandbox %s", plugin, sb->name);
    int r = hb__ensure_worker(sb);
    if (r < 0)
        return r;
    if (!(s = hb__slot_find(sb, plugin)))
        return fail(sb, HB_ENOPLUGIN, "plugin %s was lost when its worker restarted", plugin);
    hb_version_rec rec = {0};
    if ((r = pick_rollback_target(sb, s, version, &rec)) < 0)
        return r;
    if (rec.version == s->version) {
        hb_version_rec_release(&rec);
        return 0;
    }
    uint64_t t0 = hb__now_ns();
    hb_timings t = {0};
    r = swap_to(sb, s, &rec, &t, true, t0);
    if (r == HB_EHOOK && (s = hb__slot_find(sb, plugin)) != NULL) {
        /* The target refused the current state (typically a newer layout it
         * cannot read). Fall back to the last checkpoint written in the
         * target's own schema, or fresh state: unload, then load the target
         * with that checkpoint, and if that fails put the current version
         * back with the state it just saved. */
        uint64_t old_version = s->version;
        r = checkpoint_one(sb, s);
        if (r == 0) {
            char *err = NULL;
            hb_ckpt cur = {0};
            hb_checkpoint_set(&cur, s->ckpts.latest.version, s->ckpts.latest.schema,
                              s->ckpts.latest.data, s->ckpts.latest.len, hb__now_ns());
            hb_wbuf w = {0};
            hb_proto_plugin req = {(char *)plugin};
            hb__proto_unload_encode(&w, hb__wc_next_id(&sb->wc), &req);
            hb_frame reply;
            r = hb__wc_request(&sb->wc, &w, sb->opts.swap_timeout_ms, NULL, NULL, &reply, &err);
            hb__wire_release(&w);
            if (r == 0) {
                hb__frame_release(&reply);
                char *path = hb_store_object_path(sb->m->store, rec.object_sha256);
                /* Which schema will the target write? Only known after load;
                 * try each remembered schema's checkpoint, newest first, by
                 * loading fresh and checking the reported schema. */
                load_reply lr;
                r = path ? rpc_load(sb, plugin, path, rec.version, NULL, &lr, &err) : -ENOMEM;
                const hb_ckpt *own = r == 0 ? hb_ckset_for_schema(&s->ckpts, lr.schema) : NULL;
                bool restored = false;
                if (own) {
                    hb_wbuf u = {0};
                    hb__proto_unload_encode(&u, hb__wc_next_id(&sb->wc), &req);
                    if (hb__wc_request(&sb->wc, &u, sb->opts.swap_timeout_ms, NULL, NULL, &reply,
                                       &err) == 0) {
                        hb__frame_release(&reply);
                        r = rpc_load(sb, plugin, path, rec.version, own, &lr, &err);
                        restored = r == 0;
                    }
                    hb__wire_release(&u);
                }
                if (r == 0) {
                    free(s->path);
                    s->path = path;
                    path = NULL;
                    s->version = rec.version;
                    memcpy(s->sha, rec.object_sha256, HB_SHA256_HEX);
                    clear_probation(s);
                    s->schema = lr.schema;
                    s->hooks = lr.hooks;
                    set_status(sb, plugin, old_version, HB_VERSION_ROLLED_BACK);
                    set_status(sb, plugin, rec.version, HB_VERSION_ACTIVE);
                    t.total_ms = hb__ms_since(t0);
                    hb__emit(sb->m, sb, HB_EVENT_ROLLED_BACK, plugin, rec.version, old_version, 0,
                             &t, "%s v%llu -> v%llu (%s)", plugin,
                             (unsigned long long)old_version, (unsigned long long)rec.version,
                             restored ? "state from its own last checkpoint" : "fresh state");
                    if (!restored)
                        hb__emit(sb->m, sb, HB_EVENT_STATE_RESET, plugin, rec.version, old_version,
                                 0, NULL, "%s v%llu could not read v%llu's state and has no checkpoint of its own: fresh state",
                                 plugin, (unsigned long long)rec.version,
                                 (unsigned long long)old_version);
                } else if (hb__wc_alive(&sb->wc)) {
                    load_reply back;
                    rpc_load(sb, plugin, s->path, old_version, &cur, &back, &err);
                }
                free(path);
            }
            hb__wire_release(&w);
            hb_checkpoint_release(&cur);
            if (r < 0)
                fail(sb, r, "rollback of %s to v%llu failed: %s", plugin,
                     (unsigned long long)rec.version, err ? err : hb_strerror(r));
            free(err);
        }
    }
    hb_version_rec_release(&rec);
    return r;
}

int hb_sandbox_usage_get(hb_sandbox *sb, hb_sandbox_usage *out)
{
    if (!sb || !out)
        return -EINVAL;
    hb_sandbox_usage u = {0};
    /* The worker itself, not bwrap around it. */
    pid_t wpid = sb->wc.worker_pid > 0 ? sb->wc.worker_pid : sb->wc.pid;
    u.worker_pid = (int)wpid;
    u.calls = sb->calls;
    u.crashes = sb->crashes;
    u.restarts = sb->restarts;
    u.failed = sb->failed;
    hb_usage pu;
    if (wpid > 0 && hb_mon_usage(wpid, &pu) == 0) {
        u.rss_bytes = pu.rss_bytes;
        u.cpu_ms = pu.cpu_user_ms + pu.cpu_sys_ms;
        u.uptime_ms = pu.uptime_ms;
    }
    hb_cgroup_stats cs;
    if (sb->cg && hb_cgroup_usage(sb->cg, &cs) == 0 && cs.cpu_usage_usec / 1000 > u.cpu_ms)
        u.cpu_ms = cs.cpu_usage_usec / 1000; /* includes everything the worker started */
    *out = u;
    return 0;
}
