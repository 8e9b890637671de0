/* harness/sandbox.c - the public sandbox API and its lifetime: options,
 * creating a sandbox (cgroup, worker), freeing it, detaching it when its
 * manager is freed first, errors, diagnostics and usage. The operations on
 * a sandbox live in their own files (sandbox_impl.h lists them). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest.h"
#include "sandbox_impl.h"
#include "replay.h"
#include "jail.h"

/* Handles detached from a freed manager, until hb_sandbox_free: reachable,
 * so a caller that never frees one holds a small handle, not a leak. */
static pthread_mutex_t detached_lock = PTHREAD_MUTEX_INITIALIZER;
static hb_sandbox *detached;

void hb__sandbox_set_err(hb_sandbox *sb, char *msg)
{
    free(sb->last_error);
    sb->last_error = msg;
}

int hb__sandbox_fail(hb_sandbox *sb, int code, const char *fmt, ...)
{
    hb_sb s = HB_SB_INIT;
    va_list ap;
    va_start(ap, fmt);
    hb__sb_vaddf(&s, fmt, ap);
    va_end(ap);
    hb__sandbox_set_err(sb, hb__sb_detach(&s));
    return code;
}

int hb__sandbox_usable(hb_sandbox *sb)
{
    if (sb->m)
        return 0;
    return hb__sandbox_fail(sb, HB_EFAILED, "sandbox %s is detached: its manager was freed; "
                       "only hb_sandbox_free remains", sb->name);
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

void hb__record_worker(hb_sandbox *sb)
{
    if (sb->wc.pid > 0 && sb->m->run_dir)
        hb_mon_record_worker(sb->m->run_dir, sb->wc.pid, getpid());
    /* A cap plugin.json replaced held the worker just stopped: empty now. */
    hb_cpucap_free(sb->cpucap_retired);
    sb->cpucap_retired = NULL;
    /* A v1 CPU cap is joined from outside, right after the start (a v2
     * cgroup is joined before exec): bwrap and the worker it started. */
    if (sb->cpucap && sb->wc.pid > 0) {
        hb_cpucap_add_pid(sb->cpucap, sb->wc.pid);
        if (sb->wc.worker_pid > 0 && sb->wc.worker_pid != sb->wc.pid)
            hb_cpucap_add_pid(sb->cpucap, sb->wc.worker_pid);
    }
}

void hb__forget_worker(hb_sandbox *sb, pid_t pid)
{
    if (pid > 0 && sb->m->run_dir)
        hb_mon_forget_worker(sb->m->run_dir, pid);
}

/* A cgroup v2 sub-tree for the sandbox where the machine lets hotbox create
 * one (monitor/cgroup.c); where it cannot, rlimits alone apply, and the
 * manager says so once. The probe; what the sandbox's cgroup is made with
 * (a pooled worker's is made by the pool, pool.c); the cgroup; a v1 CPU
 * cap where cgroup v2 has no cpu.max. */
static hb_pool_cgroup probe_cgroup(hb_sandbox *sb)
{
    hb_manager *m = sb->m;
    pthread_mutex_lock(&m->lock);
    bool first = hb_cgroup_site_probe(&m->cg);
    pthread_mutex_unlock(&m->lock);
    if (first) {
        bool warn;
        const char *what = hb_cgroup_site_summary(&m->cg, &warn);
        hb__emit(m, NULL, warn ? HB_EVENT_WARNING : HB_EVENT_NOTICE, NULL, 0, 0, 0, NULL,
                 "resource limits: %s: %s", what, m->cg.why ? m->cg.why : "");
    }
    return (hb_pool_cgroup){.want = m->cg.probed && m->cg.mask >= 0,
                            .memory = sb->opts.max_memory,
                            .pids = sb->opts.max_processes,
                            .cpu_percent = sb->opts.cpu_percent};
}

static void setup_cgroup(hb_sandbox *sb, unsigned n, const hb_pool_cgroup *cgk)
{
    hb_manager *m = sb->m;
    if (!sb->cg)
        sb->cg = hb_cgroup_site_sandbox(&m->cg, n, cgk->memory, cgk->pids, cgk->cpu_percent);
    if (!sb->opts.cpu_percent || (sb->cg && hb_cgroup_site_has_cpu(&m->cg)))
        return;
    char name[32], *err = NULL;
    snprintf(name, sizeof(name), "sandbox-%u", n);
    sb->cpucap_percent = sb->opts.cpu_percent;
    if (hb_cpucap_new(name, sb->opts.cpu_percent, &sb->cpucap, &err) < 0)
        hb__emit(m, NULL, HB_EVENT_WARNING, NULL, 0, 0, 0, NULL,
                 "cpu_percent %u is not enforced: %s", sb->opts.cpu_percent, err ? err : "?");
    free(err);
}

/* The spawn settings that do not depend on the sandbox's cgroup and
 * objects view (those are late-bound: pool.c), with no side effects. */
static hb_wspawn spawn_settings(hb_sandbox *sb)
{
    hb_wspawn how = {0};
    how.worker_path = sb->m->worker_path;
    how.output_path = sb->output_path;
    /* The sandbox's options with its plugins' plugin.json runtime sections
     * (runtime.c); the worker started now runs with them. */
    const hb_rt_worker *rt = hb__runtime_worker(sb);
    how.profile = rt->profile;
    how.max_state = sb->opts.max_state_size;
    how.objects_dir = sb->m->objects_dir;
    how.scratch_dir = NULL;
    how.limits = rt->limits;
    how.store = sb->m->store;
    how.env = rt->env;
    how.data_dirs = rt->data;
    for (size_t k = 0; k < HB_ARRAY_SIZE(how.allow); k++)
        how.allow[k] = rt->allow[k];
    hb__sanitize_spawn(sb->m, &how);
    how.guest = sb->worker_kind == HB_WORKER_MICROVM;
    return how;
}

hb_wspawn hb__spawn_params(hb_sandbox *sb)
{
    hb_wspawn how = spawn_settings(sb);
    hb__runtime_cpucap(sb);
    hb__runtime_started(sb);
    /* The worker sees its own objects only: a view it is shown at the
     * store's path (no view: no objects at all, never the whole store). */
    char *verr = NULL;
    if (!sb->jail_view && hb_jail_view_new(sb->m->run_dir, &sb->jail_view, &verr) < 0)
        hb__emit(sb->m, sb, HB_EVENT_WARNING, NULL, 0, 0, 0, NULL, "%s", verr ? verr : "?");
    free(verr);
    how.objects_dir = sb->jail_view ? sb->m->objects_dir : NULL;
    how.objects_view = sb->jail_view;
    how.cgroup = sb->cg;
    return how;
}

/* Zero options take their defaults; the worker's rlimits follow. */
static void apply_defaults(hb_sandbox *sb, const hb_sandbox_options *opts)
{
    hb_sandbox_options d = HB_SANDBOX_OPTIONS_INIT;
    hb_sandbox_options *o = &sb->opts;
    hb__options_take(&hb__sandbox_options_kind, o, &d, opts);
#define HB_DEFAULT(field, value) if (!o->field) o->field = (value)
    HB_DEFAULT(max_state_size, 16u << 20);
    HB_DEFAULT(call_timeout_ms, 10000);
    HB_DEFAULT(swap_timeout_ms, 10000);
    HB_DEFAULT(max_plugins, 64);
    HB_DEFAULT(max_memory, 4ull << 30);
    HB_DEFAULT(max_open_files, 256);
    HB_DEFAULT(probation_calls, 20);
    HB_DEFAULT(probation_ms, 2000);
    HB_DEFAULT(crash_loop_max, 5);
    HB_DEFAULT(crash_loop_window_ms, 10000);
#undef HB_DEFAULT
#if defined(__SANITIZE_ADDRESS__)
    /* An ASan-built worker reserves terabytes of shadow address space. */
    sb->limits.memory_bytes = 0;
#else
    sb->limits.memory_bytes = o->max_memory;
#endif
    sb->limits.cpu_seconds = o->max_cpu_seconds;
    sb->limits.open_files = o->max_open_files;
    sb->limits.processes = o->max_processes;
    sb->limits.no_core = 1;
}

/* Frees what only the handle holds (the last step of hb_sandbox_free). */
static void free_handle(hb_sandbox *sb)
{
    hb__rt_worker_release(&sb->rt);
    hb__runtime_pending_clear(sb);
    HB_FREE_ALL(sb->rt_started, sb->slots, sb->name, sb->last_error, sb->pub_diags, sb->pub_plugins);
    hb_store_snapshot_names_free(sb->pub_snapshots, sb->npub_snapshots);
    HB_FREE_ALL(sb->ret_str, sb->output_path, sb->worker_why, sb->from_snapshot);
    hb__recorder_free(sb->recorder);
    free(sb->last_crash);
    hb_compile_result_release(&sb->last_compile);
    free(sb);
}

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
    apply_defaults(sb, opts);
    int kr = hb__worker_kind_resolve(sb->opts.worker, &sb->worker_kind, &sb->worker_why);
    if (kr < 0) {
        hb__set_mgr_error(m, "hb_sandbox_new: %s",
                          sb->worker_why ? sb->worker_why : hb_strerror(kr));
        free(sb->worker_why);
        free(sb);
        return kr;
    }
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
    sb->output_path = sb->opts.output_path ? strdup(sb->opts.output_path) : NULL;
    sb->opts.output_path = NULL;
    sb->from_snapshot = sb->opts.from_snapshot ? strdup(sb->opts.from_snapshot) : NULL;
    bool copied = !sb->opts.from_snapshot || sb->from_snapshot;
    sb->opts.from_snapshot = NULL;
    if (!sb->name || !copied) {
        hb_mon_policy_free(sb->policy);
        free_handle(sb);
        return -ENOMEM;
    }
    char *err = NULL;
    const char *record_dir = sb->opts.record_dir;
    sb->opts.record_dir = NULL;
    if (record_dir && (kr = hb__recorder_new(record_dir, &sb->recorder, &err)) < 0) {
        hb__set_mgr_error(m, "sandbox %s: %s", sb->name, err ? err : hb_strerror(kr));
        free(err);
        hb_mon_policy_free(sb->policy);
        free_handle(sb);
        return kr;
    }
    uint64_t t0 = hb__now_ns();
    int r = hb__sanitize_prepare(m, sb->opts.profile ? sb->opts.profile : HB_PROFILE_STANDARD,
                                 &err);
    /* A worker of the manager's pool, started with these settings, comes
     * with its cgroup and objects view (pool.c); else they are made here. */
    hb_pool_cgroup cgk = probe_cgroup(sb);
    hb_wspawn key = r == 0 ? spawn_settings(sb) : (hb_wspawn){0};
    bool pooled = r == 0 && !key.guest &&
                  hb__pool_take(m, &key, &cgk, &sb->wc, &sb->cg, &sb->jail_view);
    setup_cgroup(sb, n, &cgk);
    uint64_t t1 = hb__now_ns();
    hb_wspawn how = hb__spawn_params(sb);
    uint64_t t2 = hb__now_ns();
    if (r == 0 && !pooled)
        r = hb__wc_spawn(&sb->wc, &how, &err);
    if (pooled) /* its start was not this call's */
        memset(sb->wc.start_ns, 0, sizeof(sb->wc.start_ns));
    uint64_t t3 = hb__now_ns();
    sb->new_ns[HB_NS_CGROUP] = t1 - t0;
    sb->new_ns[HB_NS_PREP] = t2 - t1;
    sb->new_ns[HB_NS_SPAWN] = t3 - t2;
    if (r < 0) {
        hb_cgroup_destroy(sb->cg);
        hb_cpucap_free(sb->cpucap);
        hb_cpucap_free(sb->cpucap_retired);
        hb_mon_policy_free(sb->policy);
        hb_jail_view_free(sb->jail_view);
        hb__set_mgr_error(m, "sandbox %s: %s", sb->name, err ? err : hb_strerror(r));
        free(err);
        free_handle(sb);
        return r;
    }
    hb__record_worker(sb);
    sb->new_ns[HB_NS_RECORD] = hb__now_ns() - t3;
    if (sb->opts.worker == HB_WORKER_AUTO) /* the choice was not the caller's: say it */
        hb__emit(m, sb, HB_EVENT_NOTICE, NULL, 0, 0, 0, NULL, "sandbox %s: worker %s",
                 sb->name, sb->worker_why);
    if (sb->wc.guest) /* where the guest runs and what starting it cost */
        hb__emit(m, sb, HB_EVENT_NOTICE, NULL, 0, 0, 0, NULL, "sandbox %s: microVM worker: %s",
                 sb->name, hb__guest_note(sb->wc.guest));
    if (sb->wc.warning[0]) /* a protection this machine cannot give */
        hb__emit(m, sb, HB_EVENT_WARNING, NULL, 0, 0, 0, NULL, "sandbox %s: %s", sb->name,
                 sb->wc.warning);
    pthread_mutex_lock(&m->lock);
    sb->next = m->sandboxes;
    m->sandboxes = sb;
    pthread_mutex_unlock(&m->lock);
    /* The next sandbox with these options finds a worker ready. */
    hb__pool_refill(m, &key, &cgk);
    *out = sb;
    return 0;
}

/* Stops the worker and releases everything that needs the manager: the
 * run-directory record, the cgroup, the slots (their versions become good
 * again), the worker's view of the objects; unlinks sb from the manager. */
static void release_from_manager(hb_sandbox *sb)
{
    hb_manager *m = sb->m;
    hb__recorder_flush(sb, NULL); /* while its warnings can still be told */
    pid_t pid = sb->wc.pid;
    hb__spare_free(sb); /* before its cgroup and view go */
    hb__wc_stop(&sb->wc, sb->opts.swap_timeout_ms);
    hb__forget_worker(sb, pid);
    hb_cgroup_destroy(sb->cg); /* and anything the worker left in it */
    sb->cg = NULL;
    hb_cpucap_free(sb->cpucap);
    sb->cpucap = NULL;
    hb_mon_policy_free(sb->policy);
    sb->policy = NULL;
    for (size_t i = 0; i < sb->nslots; i++) {
        if (sb->slots[i].version)
            hb__set_status(sb, sb->slots[i].name, sb->slots[i].version, HB_VERSION_GOOD);
        hb__slot_release(&sb->slots[i]);
    }
    sb->nslots = 0;
    pthread_mutex_lock(&m->lock);
    for (hb_sandbox **p = &m->sandboxes; *p; p = &(*p)->next)
        if (*p == sb) {
            *p = sb->next;
            break;
        }
    pthread_mutex_unlock(&m->lock);
    sb->next = NULL;
    /* The worker is gone: its copies of the plugin objects go too. */
    hb_jail_view_free(sb->jail_view);
    sb->jail_view = NULL;
    hb_cpucap_free(sb->cpucap_retired);
    sb->cpucap_retired = NULL;
}

void hb__sandbox_detach(hb_sandbox *sb)
{
    release_from_manager(sb);
    sb->m = NULL;
    sb->failed = true;
    sb->restart_pending = false;
    hb__sandbox_fail(sb, HB_EFAILED, "sandbox %s is detached: its manager was freed; "
                "only hb_sandbox_free remains", sb->name);
    pthread_mutex_lock(&detached_lock);
    sb->next = detached;
    detached = sb;
    pthread_mutex_unlock(&detached_lock);
}

void hb_sandbox_free(hb_sandbox *sb)
{
    if (!sb)
        return;
    if (sb->m) {
        release_from_manager(sb);
    } else {
        pthread_mutex_lock(&detached_lock);
        for (hb_sandbox **p = &detached; *p; p = &(*p)->next)
            if (*p == sb) {
                *p = sb->next;
                break;
            }
        pthread_mutex_unlock(&detached_lock);
    }
    free_handle(sb);
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

void hb__sandbox_new_stages(const hb_sandbox *sb, uint64_t ns[HB_NS_COUNT],
                            uint64_t ws[HB_WS_COUNT])
{
    memcpy(ns, sb->new_ns, sizeof(sb->new_ns));
    memcpy(ws, sb->wc.start_ns, sizeof(sb->wc.start_ns));
}
