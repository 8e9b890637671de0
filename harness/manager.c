/* harness/manager.c - manager lifecycle, errors, events, versions. */
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "policy.h"
#include "denial_watch.h"
#include "jail.h"

#ifndef HB_VERSION_STRING
#define HB_VERSION_STRING "0.0.0"
#endif
#ifndef HB_INSTALL_WORKER
#define HB_INSTALL_WORKER "/usr/local/libexec/hotbox/hotbox-worker"
#endif

const char *hb_version(void)
{
    return HB_VERSION_STRING;
}

const char *hb_strerror(int code)
{
    switch (code) {
    case 0: return "success";
#define HB_ERROR_TEXT_(name, value, text) case name: return text;
    HB_ERROR_MAP(HB_ERROR_TEXT_)
#undef HB_ERROR_TEXT_
    default:
        break;
    }
    if (code < 0 && code > -4096)
        return strerror(-code);
    return "unknown error";
}

void hb_free(void *p)
{
    free(p);
}

int hb_manager_options_init(hb_manager_options *opts, unsigned version)
{
    hb_manager_options d = HB_MANAGER_OPTIONS_INIT;
    return hb__options_init(&hb__manager_options_kind, opts, &d, version);
}

void hb__set_mgr_error(hb_manager *m, const char *fmt, ...)
{
    hb_sb sb = HB_SB_INIT;
    va_list ap;
    va_start(ap, fmt);
    hb__sb_vaddf(&sb, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&m->lock);
    free(m->last_error);
    m->last_error = hb__sb_detach(&sb);
    pthread_mutex_unlock(&m->lock);
}

const char *hb_manager_last_error(hb_manager *m)
{
    if (!m)
        return "no manager";
    return m->last_error ? m->last_error : "";
}

const char *hb_manager_state_dir(hb_manager *m)
{
    return m ? m->state_dir : NULL;
}

static void audit_event(hb_manager *m, hb_sandbox *sb, hb_event_type type, const char *plugin,
                        uint64_t version, int code, const char *message);

static void emit_v(hb_manager *m, hb_sandbox *sb, hb_event_type type, const char *plugin,
                   uint64_t version, uint64_t previous, int code, const hb_timings *t,
                   const hb_diagnostic *diags, size_t ndiags, const char *fmt, va_list ap)
    __attribute__((format(printf, 11, 0)));

void hb__emit(hb_manager *m, hb_sandbox *sb, hb_event_type type, const char *plugin,
              uint64_t version, uint64_t previous, int code, const hb_timings *t,
              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit_v(m, sb, type, plugin, version, previous, code, t, NULL, 0, fmt, ap);
    va_end(ap);
}

void hb__emit_diags(hb_manager *m, hb_event_type type, const char *plugin,
                    const hb_diagnostic *diags, size_t ndiags, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit_v(m, NULL, type, plugin, 0, 0, 0, NULL, diags, ndiags, fmt, ap);
    va_end(ap);
}

static void emit_v(hb_manager *m, hb_sandbox *sb, hb_event_type type, const char *plugin,
                   uint64_t version, uint64_t previous, int code, const hb_timings *t,
                   const hb_diagnostic *diags, size_t ndiags, const char *fmt, va_list ap)
{
    hb_sb msg = HB_SB_INIT;
    hb__sb_vaddf(&msg, fmt, ap);
    if (sb && (type == HB_EVENT_COMPILE_FAILED || type == HB_EVENT_SWAP_FAILED))
        sb->failure_events++;
    audit_event(m, sb, type, plugin, version, code, msg.buf);
    if (!m->opts.on_event) {
        hb__sb_release(&msg);
        return;
    }
    hb_event ev = {0};
    ev.type = type;
    ev.sandbox = sb;
    ev.plugin = plugin;
    ev.version = version;
    ev.previous_version = previous;
    ev.code = code;
    ev.message = msg.buf ? msg.buf : "";
    if (sb && type == HB_EVENT_CRASHED && sb->wc.fault.valid && sb->wc.fault.trace[0]) {
        ev.backtrace = sb->wc.fault.trace; /* the message keeps its first line */
        char *nl = msg.buf ? strchr(msg.buf, '\n') : NULL;
        if (nl)
            *nl = 0;
    }
    if (t) {
        ev.compile_ms = t->compile_ms;
        ev.verify_ms = t->verify_ms;
        ev.swap_ms = t->swap_ms;
        ev.total_ms = t->total_ms;
        ev.store_ms = t->store_ms;
    }
    if (sb)
        ev.detect_ms = sb->detect_ms;
    ev.diagnostics = ndiags ? diags : NULL;
    ev.ndiagnostics = ndiags;
    if (sb && (type == HB_EVENT_SWAPPED || type == HB_EVENT_ROLLED_BACK))
        ev.carry = sb->carry_report;
    m->opts.on_event(&ev, m->opts.event_userdata);
    hb__sb_release(&msg);
}

void hb__held_event_clear(hb_held_event *h)
{
    free(h->plugin);
    free(h->message);
    memset(h, 0, sizeof(*h));
}

void hb__hold_event(hb_held_event *h, hb_event_type type, const char *plugin, int code,
                    const hb_timings *t, const char *message)
{
    hb__held_event_clear(h);
    h->held = true;
    h->type = type;
    h->code = code;
    if (t)
        h->t = *t;
    h->plugin = plugin ? strdup(plugin) : NULL;
    h->message = strdup(message ? message : hb_strerror(code));
}

void hb__emit_held(hb_manager *m, hb_sandbox *sb, hb_held_event *h)
{
    if (h->held)
        hb__emit(m, sb, h->type, h->plugin, 0, 0, h->code, &h->t, "%s",
                 h->message ? h->message : hb_strerror(h->code));
    hb__held_event_clear(h);
}

/* The audit log's record of an event: loads, swaps, refusals, denials,
 * crashes, limit kills, rollbacks. */
static void audit_event(hb_manager *m, hb_sandbox *sb, hb_event_type type, const char *plugin,
                        uint64_t version, int code, const char *message)
{
    static const char *kinds[] = {NULL, NULL, "compile-failed", "load", "swap", "refused",
                                  "crash", "restart", "rollback", NULL, "unload", NULL, NULL,
                                  NULL, NULL};
    if ((unsigned)type >= sizeof(kinds) / sizeof(kinds[0]) || !kinds[type] || !m->audit)
        return;
    /* A denial counts only when the manager read it from the seccomp
     * listener itself (sb->wc.denied, set during the request that ended
     * the worker); no text a worker sends can make one. */
    bool denied = sb && type == HB_EVENT_CRASHED && sb->wc.denied[0];
    bool security = code == HB_EPOLICY || code == HB_ELIMIT || denied;
    const char *sha = NULL;
    hb_profile prof = HB_PROFILE_STANDARD;
    if (sb) {
        prof = sb->rt.sig ? sb->rt.profile
                          : sb->opts.profile ? sb->opts.profile : HB_PROFILE_STANDARD;
        for (size_t i = 0; plugin && i < sb->nslots; i++)
            if (!strcmp(sb->slots[i].name, plugin) && sb->slots[i].version == version)
                sha = sb->slots[i].sha;
    }
    hb_audit_log(m->audit, denied ? "denied" : kinds[type], plugin, version, sha,
                 hb_profile_name(prof), code, message, security);
}

/* The worker binary: option, $HOTBOX_WORKER, beside this library or program
 * (<dir>/../libexec/hotbox/hotbox-worker, true both in the build tree and
 * installed), then the configured install path. */
static char *find_worker(const char *opt)
{
    const char *set = hb__nonempty(opt, getenv("HOTBOX_WORKER"));
    if (set)
        return strdup(set);
    char *beside = hb__libexec_file((void *)&hb_version, "hotbox-worker", X_OK);
    return beside ? beside : strdup(HB_INSTALL_WORKER);
}

static int write_plugin_header(hb_manager *m)
{
    char *dir = hb__asprintf("%s/hotbox", m->include_dir);
    char *path = hb__asprintf("%s/hotbox/plugin.h", m->include_dir);
    int r = -ENOMEM;
    if (!dir || !path)
        goto out;
    r = hb__mkdir_p(dir, 0755);
    if (r < 0)
        goto out;
    /* Rewrite only when different, so compile-cache hashes stay stable. */
    void *cur = NULL;
    size_t len = 0;
    if (hb__read_file(path, 1 << 20, &cur, &len) == 0 && len == hb__plugin_h_len &&
        memcmp(cur, hb__plugin_h, len) == 0) {
        free(cur);
        r = 0;
        goto out;
    }
    free(cur);
    r = hb__write_file_atomic(path, hb__plugin_h, hb__plugin_h_len, 0644);
out:
    free(dir);
    free(path);
    return r;
}

int hb_manager_new(const hb_manager_options *opts, hb_manager **out)
{
    if (!out)
        return -EINVAL;
    if (opts && hb__options_check(&hb__manager_options_kind, opts->version) < 0)
        return HB_EOPTVERSION;
    hb_manager *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    hb_manager_options d = HB_MANAGER_OPTIONS_INIT;
    hb__options_take(&hb__manager_options_kind, &m->opts, &d, opts);
    if (!m->opts.compile_timeout_ms)
        m->opts.compile_timeout_ms = 60000;
    pthread_mutex_init(&m->lock, NULL);
    pthread_mutex_init(&m->san_lock, NULL);

    const char *sd = m->opts.state_dir && *m->opts.state_dir ? m->opts.state_dir : ".hotbox";
    int r = hb__mkdir_p(sd, 0755);
    if (r < 0)
        goto fail;
    r = hb__realpath(sd, &m->state_dir);
    if (r < 0)
        goto fail;
    m->include_dir = hb__path_join(m->state_dir, "include");
    m->tmp_dir = hb__path_join(m->state_dir, "tmp");
    m->objects_dir = hb__path_join(m->state_dir, "objects");
    m->run_dir = hb__path_join(m->state_dir, "run");
    const char *cc = m->opts.cc && *m->opts.cc ? m->opts.cc : getenv("CC");
    m->cc = strdup(cc && *cc ? cc : "cc");
    if (m->opts.cc_origin && m->opts.cc && *m->opts.cc)
        m->cc_origin = strdup(m->opts.cc_origin);
    m->opts.cc_origin = NULL; /* the caller's string; m->cc_origin is ours */
    /* Split with shell quoting when a plugin is compiled (compiler/settings.c),
     * where a bad string becomes a compile error naming --cflags. */
    m->cflags_text = strdup(m->opts.cflags ? m->opts.cflags : "-O2 -g");
    if ((r = hb__sanitize_check(m->opts.sanitize, &m->sanitize, &m->asan)) < 0)
        goto fail;
    m->opts.sanitize = NULL; /* the caller's string; m->sanitize is ours */
    m->worker_path = find_worker(m->opts.worker_path);
    if (!m->include_dir || !m->tmp_dir || !m->objects_dir || !m->run_dir || !m->cc || !m->cflags_text || !m->worker_path) {
        r = -ENOMEM;
        goto fail;
    }
    m->opts.state_dir = m->opts.cc = m->opts.cflags = m->opts.worker_path = NULL;
    const char *coverage_dir = m->opts.coverage_dir; /* the caller's: used below, not kept */
    m->opts.coverage_dir = NULL;
    /* HOTBOX_WORKER_POOL=N overrides the pool's size (benchmarks compare
     * a run with and without it; 0 turns it off). */
    const char *pool_env = getenv("HOTBOX_WORKER_POOL");
    if (pool_env && *pool_env)
        m->opts.worker_pool = (unsigned)strtoul(pool_env, NULL, 10);
    if ((r = hb__pool_new(m, m->opts.worker_pool)) < 0 ||
        (r = hb__mkdir_p(m->tmp_dir, 0755)) < 0 ||
        (r = hb__coverage_setup(m, coverage_dir)) < 0 || (r = write_plugin_header(m)) < 0 ||
        (r = hb__mkdir_p(m->run_dir, 0755)) < 0 || (r = hb_metrics_new(&m->metrics)) < 0)
        goto fail;
    /* Workers left behind by a manager that died (kill -9) are reaped now. */
    hb_orphan_report rep = {0};
    if (hb_mon_reap_orphans(m->run_dir, &rep) == 0 && rep.text && *rep.text)
        hb__emit(m, NULL, HB_EVENT_WARNING, NULL, 0, 0, 0, NULL, "%s", rep.text);
    hb_orphan_report_release(&rep);
    unsigned views = hb_jail_views_reap(m->run_dir);
    if (views)
        hb__emit(m, NULL, HB_EVENT_WARNING, NULL, 0, 0, 0, NULL,
                 "removed %u sandbox object view%s left behind by managers that died", views,
                 views == 1 ? "" : "s");
    unsigned stale = 0;
    if (hb_cgroup_reap_stale(&stale) == 0 && stale)
        hb__emit(m, NULL, HB_EVENT_WARNING, NULL, 0, 0, 0, NULL,
                 "removed %u cgroup%s left behind by hotbox processes that died", stale,
                 stale == 1 ? "" : "s");
    char *err = NULL;
    r = hb_store_open(m->state_dir, &m->store, &err);
    free(err);
    err = NULL;
    if (r < 0)
        goto fail;
    hb_compiler_options co;
    hb_compiler_options_init(&co);
    co.isolation = m->opts.isolation;
    co.job_timeout_ms = m->opts.compile_timeout_ms;
    r = hb_compiler_new(&co, &m->compiler, &err);
    free(err);
    err = NULL;
    if (r < 0)
        goto fail;
    /* The audit log is best effort at open: a read-only state directory
     * still works, without a log (and says so). */
    if (hb_audit_open(m->state_dir, &m->audit, &err) < 0)
        hb__emit(m, NULL, HB_EVENT_WARNING, NULL, 0, 0, 0, NULL, "no audit log: %s",
                 err ? err : "cannot open");
    free(err);
    hb__dwatch_hold();
    m->holds_dwatch = true;
    *out = m;
    return 0;
fail:
    hb_manager_free(m);
    return r;
}

void hb_manager_free(hb_manager *m)
{
    if (!m)
        return;
    hb__pool_free(m); /* idle workers: nothing of theirs to finish */
    /* Every worker runs its fini hooks at the same time; then each is
     * waited for (against the deadline set here) and freed. */
    for (hb_sandbox *sb = m->sandboxes; sb; sb = sb->next)
        hb__wc_stop_begin(&sb->wc, sb->opts.swap_timeout_ms);
    /* Sandboxes the caller still holds are detached, not freed: their
     * handles stay valid (operations return HB_EFAILED) until
     * hb_sandbox_free. */
    while (m->sandboxes)
        hb__sandbox_detach(m->sandboxes);
    hb__build_memo_free(m);
    hb_compiler_free(m->compiler);
    hb_audit_close(m->audit);
    hb_store_close(m->store);
    HB_FREE_ALL(m->state_dir, m->include_dir, m->tmp_dir, m->objects_dir, m->run_dir);
    hb_cgroup_site_release(&m->cg);
    hb_metrics_free(m->metrics);
    if (m->holds_dwatch) /* after the sandboxes: their workers are unwatched by now */
        hb__dwatch_release();
    HB_FREE_ALL(m->worker_path, m->cc, m->cc_origin, m->cflags_text, m->sanitize, m->asan_runtime,
                m->asan_error);
    hb__coverage_release(m);
    free(m->last_error);
    pthread_mutex_destroy(&m->san_lock);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* Fills the fields every caller has room for (not the appended ones). */
void hb__rec_to_info(const hb_version_rec *r, hb_version_info *i)
{
    memset(i, 0, offsetof(hb_version_info, needed));
    snprintf(i->plugin, sizeof(i->plugin), "%s", r->plugin ? r->plugin : "");
    i->version = r->version;
    memcpy(i->object_sha256, r->object_sha256, HB_SHA256_HEX);
    memcpy(i->source_sha256, r->input_hash, HB_SHA256_HEX);
    i->size = r->size;
    i->created = r->created;
    i->status = r->status;
}

int hb_build(hb_manager *m, const char *dir, hb_version_info *out)
{
    if (!m || !dir)
        return -EINVAL;
    char *abs = NULL, *name = NULL, *err = NULL;
    int r = hb__resolve_plugin_dir(dir, &abs, &name, &err);
    if (r == 0) {
        hb_build_out b;
        r = hb__build(m, abs, name, &b, &err);
        if (r == 0) {
            hb__build_memo_put(m, abs, &b.rec); /* for the load that follows */
            if (out)
                hb__rec_to_info(&b.rec, out);
            hb__emit(m, NULL, HB_EVENT_COMPILED, name, b.rec.version, 0, 0, &b.t,
                     "%s v%llu %s (%.1f ms)", name, (unsigned long long)b.rec.version,
                     b.cache_hit ? "is up to date (cache hit)"
                                 : b.created ? "built" : "built (identical object)",
                     b.t.total_ms);
        } else if (r == HB_ECOMPILE) {
            hb__emit(m, NULL, HB_EVENT_COMPILE_FAILED, name, 0, 0, r, &b.t, "%s", err);
        }
        hb__build_out_release(&b);
    }
    if (r < 0)
        hb__set_mgr_error(m, "%s", err ? err : hb_strerror(r));
    HB_FREE_ALL(abs, name, err);
    return r;
}

int hb_versions(hb_manager *m, const char *plugin, hb_version_info **out, size_t *count)
{
    if (!m || !plugin || !out || !count)
        return -EINVAL;
    hb_version_rec *v = NULL;
    size_t n = 0;
    int r = hb_store_list(m->store, plugin, &v, &n);
    char *why = r < 0 ? strdup(hb_store_last_error(m->store)) : NULL;
    if (r < 0) {
        hb__set_mgr_error(m, "cannot list versions of %s: %s", plugin,
                          why && *why ? why : hb_strerror(r));
        free(why);
        return r;
    }
    /* One block: the array, then each version's needed/imports/origin pointer
     * lists, then their strings. */
    size_t ptrs = 0, strings = 0;
    for (size_t i = 0; i < n; i++) {
        char **lists[3] = {v[i].needed, v[i].imports, v[i].origin};
        for (int l = 0; l < 3; l++) {
            ptrs += hb__strv_len(lists[l]) + 1;
            for (size_t k = 0; lists[l] && lists[l][k]; k++)
                strings += strlen(lists[l][k]) + 1;
        }
    }
    hb_version_info *info =
        calloc(1, (n ? n : 1) * sizeof(*info) + ptrs * sizeof(char *) + strings);
    if (!info) {
        hb_store_list_free(v, n);
        return -ENOMEM;
    }
    const char **pp = (const char **)(void *)(info + (n ? n : 1));
    char *sp = (char *)(pp + ptrs);
    for (size_t i = 0; i < n; i++) {
        hb__rec_to_info(&v[i], &info[i]);
        char **lists[3] = {v[i].needed, v[i].imports, v[i].origin};
        const char **starts[3];
        for (int l = 0; l < 3; l++) {
            starts[l] = pp;
            for (size_t k = 0; lists[l] && lists[l][k]; k++) {
                *pp++ = sp;
                sp = stpcpy(sp, lists[l][k]) + 1;
            }
            *pp++ = NULL;
        }
        info[i].needed = starts[0];
        info[i].imports = starts[1];
        /* origin: {"prebuilt", path} for a prebuilt object */
        info[i].prebuilt_from = hb_version_rec_prebuilt_from(&v[i]) ? starts[2][1] : NULL;
    }
    hb_store_list_free(v, n);
    *out = info;
    *count = n;
    return 0;
}

/* A list as one blank-separated line; "(nothing)" when empty. */
static void add_list(hb_sb *sb, char *const *list)
{
    if (!list || !*list)
        hb__sb_adds(sb, " (nothing)");
    for (size_t i = 0; list && list[i]; i++)
        hb__sb_addf(sb, " %s", list[i]);
}

/* What each stored version needs from the system: its DT_NEEDED libraries
 * and its undefined symbols (both recorded by the ELF analysis at build). */
static void append_imports(hb_manager *m, hb_sb *sb)
{
    char **plugins = NULL;
    int r = hb_store_plugins(m->store, &plugins);
    for (char **p = plugins; r == 0 && p && *p; p++) {
        hb_version_rec *v = NULL;
        size_t n = 0;
        int lr = hb_store_list(m->store, *p, &v, &n);
        for (size_t i = 0; lr == 0 && i < n; i++) {
            hb__sb_addf(sb, "%s v%llu needs:", *p, (unsigned long long)v[i].version);
            add_list(sb, v[i].needed);
            hb__sb_addf(sb, "\n%s v%llu imports:", *p, (unsigned long long)v[i].version);
            add_list(sb, v[i].imports);
            hb__sb_adds(sb, "\n");
        }
        if (lr == 0)
            hb_store_list_free(v, n);
    }
    hb__strv_free(plugins);
}

int hb_verify(hb_manager *m, char **report)
{
    if (!m || !report)
        return -EINVAL;
    hb_sb sb = HB_SB_INIT;
    int r = hb_store_verify_all(m->store, &sb);
    if (r == 0 || r == HB_ECORRUPT)
        append_imports(m, &sb);
    if (r < 0 && r != HB_ECORRUPT)
        hb__set_mgr_error(m, "verify could not run: %s", sb.buf ? sb.buf : hb_strerror(r));
    *report = hb__sb_detach(&sb);
    return r;
}

int hb_catalogue_check(const char *state_dir, char **why)
{
    if (!why)
        return -EINVAL;
    *why = NULL;
    hb_store *s = NULL;
    int r = hb_store_open(state_dir && *state_dir ? state_dir : ".hotbox", &s, why);
    hb_store_close(s);
    return r;
}

int hb_catalogue_recover(const char *state_dir, int force, char **report)
{
    if (!report)
        return -EINVAL;
    hb_sb sb = HB_SB_INIT;
    int r = hb_store_recover(state_dir && *state_dir ? state_dir : ".hotbox", force != 0, &sb);
    *report = hb__sb_detach(&sb);
    return r;
}

int hb_gc(hb_manager *m, unsigned keep, unsigned *removed)
{
    if (!m)
        return -EINVAL;
    /* Versions live in any sandbox of this manager are protected. */
    pthread_mutex_lock(&m->lock);
    size_t n = 0;
    for (hb_sandbox *sb = m->sandboxes; sb; sb = sb->next)
        n += sb->nslots;
    hb_store_ref *prot = calloc(n ? n : 1, sizeof(*prot));
    size_t k = 0;
    for (hb_sandbox *sb = m->sandboxes; prot && sb; sb = sb->next)
        for (size_t i = 0; i < sb->nslots; i++)
            prot[k++] = (hb_store_ref){sb->slots[i].name, sb->slots[i].version};
    size_t gone = 0;
    char *err = NULL;
    int r = prot ? hb_store_gc(m->store, keep, prot, k, &gone, &err) : -ENOMEM;
    pthread_mutex_unlock(&m->lock);
    free(prot);
    if (r < 0)
        hb__set_mgr_error(m, "gc failed: %s", err ? err : hb_strerror(r));
    else if (removed)
        *removed = (unsigned)gone;
    free(err);
    return r;
}

/* hb_pin's target: version itself, or (0) the newest version older than
 * the newest that may be fallen back to (versions/policy.h). Status
 * lookups, never a record with its lists. 0, or HB_ENOVERSION with why
 * filled; m->lock held (hb__set_mgr_error takes it: the caller says why). */
static int pin_target(hb_manager *m, const char *plugin, uint64_t version, uint64_t *target,
                      char *why, size_t len)
{
    uint64_t newest = 0;
    hb_version_status st = HB_VERSION_CANDIDATE;
    if (hb_store_newest_version(m->store, plugin, ~0u, UINT64_MAX, 0, &newest) < 0)
        snprintf(why, len, "%s has no stored versions", plugin);
    else if (version && hb_store_status(m->store, plugin, version, &st) < 0)
        snprintf(why, len, "%s has no stored version %llu", plugin, (unsigned long long)version);
    else if (!version && hb_policy_fallback_version(m->store, plugin, newest, 0, &version) < 0)
        snprintf(why, len, "%s has no good version to roll back to", plugin);
    else if (st == HB_VERSION_BAD)
        snprintf(why, len, "%s v%llu is marked bad; pick a good version", plugin,
                 (unsigned long long)version);
    else {
        *target = version;
        return 0;
    }
    return HB_ENOVERSION;
}

int hb_pin(hb_manager *m, const char *plugin, uint64_t version, uint64_t *pinned)
{
    if (!m || !plugin)
        return -EINVAL;
    char why[512] = "";
    pthread_mutex_lock(&m->lock);
    uint64_t got = 0;
    int r = pin_target(m, plugin, version, &got, why, sizeof(why));
    /* Every newer version not bad is rolled back: their statuses only. */
    hb_version_stat *newer = NULL;
    size_t n = 0;
    if (r == 0 && (r = hb_store_statuses(m->store, plugin, got, &newer, &n)) < 0)
        snprintf(why, sizeof(why), "pinning %s: %s", plugin, hb_store_last_error(m->store));
    for (size_t i = 0; r == 0 && i < n; i++)
        if (newer[i].status != HB_VERSION_BAD)
            hb_store_set_status(m->store, plugin, newer[i].version, HB_VERSION_ROLLED_BACK);
    if (r == 0)
        hb_store_set_status(m->store, plugin, got, HB_VERSION_GOOD);
    pthread_mutex_unlock(&m->lock);
    free(newer);
    if (r < 0) {
        hb__set_mgr_error(m, "%s", why);
        return r;
    }
    hb__emit(m, NULL, HB_EVENT_ROLLED_BACK, plugin, got, 0, 0, NULL,
             "%s pinned to v%llu until its source changes", plugin, (unsigned long long)got);
    if (pinned)
        *pinned = got;
    return 0;
}

int hb_manager_metrics(hb_manager *m, int json, char **out)
{
    if (!m || !out)
        return -EINVAL;
    return json ? hb_metrics_json(m->metrics, out) : hb_metrics_text(m->metrics, out);
}

int hb_plugins(hb_manager *m, char ***out)
{
    if (!m || !out)
        return -EINVAL;
    char **names = NULL;
    int r = hb_store_plugins(m->store, &names);
    if (r < 0)
        return r;
    char **v = hb__strv_pack((const char *const *)names, hb__strv_len(names));
    hb__strv_free(names);
    if (!v)
        return -ENOMEM;
    *out = v;
    return 0;
}

static int audit_collect(const hb_audit_record *rec, void *ud)
{
    hb_sb *sb = ud;
    hb__sb_adds(sb, rec->json);
    hb__sb_adds(sb, "\n");
    return 0;
}

int hb_audit_read(hb_manager *m, const char *plugin, int security_only, char **jsonl)
{
    if (!m || !jsonl)
        return -EINVAL;
    hb_audit_filter f = {0};
    f.plugin = plugin;
    f.security_only = security_only != 0;
    hb_sb sb = HB_SB_INIT;
    char *err = NULL;
    int r = hb_audit_query(m->state_dir, &f, audit_collect, &sb, NULL, &err);
    if (r < 0) {
        hb__set_mgr_error(m, "cannot read the audit log: %s", err ? err : hb_strerror(r));
        free(err);
        hb__sb_release(&sb);
        return r;
    }
    free(err);
    *jsonl = hb__sb_detach(&sb);
    return 0;
}

int hb_doctor(hb_manager *m, int measure, char **report)
{
    if (!m || !report)
        return -EINVAL;
    hb_sb sb = HB_SB_INIT;
    hb__sb_addf(&sb, "hotbox %s\nstate directory: %s\n", hb_version(), m->state_dir);
    /* The worker: can we start one and talk to it? */
    hb_sandbox_options so = HB_SANDBOX_OPTIONS_INIT;
    so.name = NULL;
    hb_sandbox *probe = NULL;
    uint64_t t0 = hb__now_ns();
    int r = hb_sandbox_new(m, &so, &probe);
    if (r == 0) {
        hb__sb_addf(&sb, "worker: %s: works (started in %.1f ms, standard profile)%s%s\n",
                    m->worker_path, hb__ms_since(t0), probe->wc.warning[0] ? "; " : "",
                    probe->wc.warning);
        hb_sandbox_free(probe);
    } else {
        hb__sb_addf(&sb, "worker: %s: DOES NOT START: %s\n", m->worker_path,
                    hb_manager_last_error(m));
    }
    hb__sb_adds(&sb, "\ncompiler isolation:\n");
    hb_compiler_backend_report(&sb, measure != 0);
    const char *sel = hb_compiler_selection(m->compiler);
    hb__sb_addf(&sb, "selected: %s\n", sel ? sel : "?");
    hb__sb_adds(&sb, "\nplugin containment (worker):\n");
    hb_sec_report(&sb);
    /* What a worker really runs with, per profile, read from outside. */
    hb__sb_adds(&sb, "\neffective containment (a worker started now, per profile):\n");
    for (hb_profile p = HB_PROFILE_STRICT; p <= HB_PROFILE_PERMISSIVE; p++) {
        so.profile = p;
        hb_sandbox *s = NULL;
        hb__sb_addf(&sb, "profile %s:\n", hb_profile_name(p));
        if (hb_sandbox_new(m, &so, &s) != 0) {
            hb__sb_addf(&sb, "  worker does not start: %s\n", hb_manager_last_error(m));
            continue;
        }
        if (s->wc.wrapped)
            hb_sec_process_report(&sb, "bwrap (outside the jail's pid namespace)", s->wc.pid);
        hb_sec_process_report(&sb, "worker", s->wc.worker_pid > 0 ? s->wc.worker_pid : s->wc.pid);
        hb_sandbox_free(s);
    }
    char *why = NULL;
    int cg = hb_cgroup_probe(&why);
    hb__sb_addf(&sb, "\nresource limits: rlimits (always); cgroup v2 %s: %s\n",
                cg > 0 ? "limits available" : "limits NOT available, rlimits only",
                why ? why : "(no detail)");
    free(why);
    *report = hb__sb_detach(&sb);
    return 0;
}
