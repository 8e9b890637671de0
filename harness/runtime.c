/*
 * harness/runtime.c - the plugin.json "runtime" section applied to a
 * sandbox's worker (docs/plugin-json.md, docs/testing.md "Runtime
 * settings").
 *
 * A sandbox has one worker for all its plugins, so what the worker runs
 * with is computed from the sandbox's options and the runtime sections of
 * every plugin in it (hb_rt_worker):
 *  - profile: the strongest asked for (strict > standard > permissive),
 *    the sandbox's own included; with trust_plugin_runtime the plugins'
 *    strongest replaces the sandbox's (so plugin.json may weaken it).
 *  - limits (memory, CPU seconds, fds, processes, cpu_percent): the
 *    tightest; with trust_plugin_runtime the plugins' tightest replaces the
 *    sandbox's value.
 *  - env: the union (the first plugin setting a name wins); data and the
 *    allow-lists: the union, resolved to real paths and checked
 *    (security/allow.h).
 * The settings are read from plugin.json on disk when a plugin is loaded
 * and before each swap or rollback of it. When they change what the worker
 * runs with, the loaded plugins are checkpointed and the worker restarts
 * under the new settings (an HB_EVENT_RESTARTED that says so). The call
 * and swap timeouts are per plugin, never above the sandbox's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "allow.h"
#include "argv.h"
#include "jail.h"
#include "sandbox_impl.h"
#include "settings.h"

static const char *const kind_key[3] = {"allow.read", "allow.write", "allow.connect_unix"};

void hb__rt_worker_release(hb_rt_worker *w)
{
    hb__strv_free(w->env);
    hb__strv_free(w->data);
    for (size_t i = 0; i < HB_ARRAY_SIZE(w->allow); i++)
        hb__strv_free(w->allow[i]);
    free(w->sig);
    memset(w, 0, sizeof(*w));
}

void hb__runtime_pending_clear(hb_sandbox *sb)
{
    free(sb->rt_pending_name);
    sb->rt_pending_name = NULL;
    hb__runtime_settings_release(&sb->rt_pending);
}

static int strength(hb_profile p)
{
    return p == HB_PROFILE_STRICT ? 3 : p == HB_PROFILE_PERMISSIVE ? 1 : 2;
}

static hb_profile rt_profile(hb__rt_profile p)
{
    return p == HB__RT_PROFILE_STRICT       ? HB_PROFILE_STRICT
           : p == HB__RT_PROFILE_PERMISSIVE ? HB_PROFILE_PERMISSIVE
           : p == HB__RT_PROFILE_STANDARD   ? HB_PROFILE_STANDARD
                                            : HB_PROFILE_DEFAULT;
}

/* The tighter of two limits where 0 means none. */
static uint64_t tighter(uint64_t a, uint64_t b)
{
    return !a ? b : !b ? a : a < b ? a : b;
}

/* Adds the items of add not yet in v (env: by name). */
static void merge(hb_argv *v, char *const *add, bool by_name)
{
    for (; add && *add; add++) {
        bool have = false;
        size_t n = by_name ? strcspn(*add, "=") + 1 : strlen(*add) + 1;
        for (size_t i = 0; i < v->n && !have; i++)
            have = !strncmp(v->v[i], *add, n);
        if (!have)
            hb__argv_push(v, *add);
    }
}

/* A jail that drops root binds as an unprivileged host uid: a data
 * directory it cannot reach would keep the worker from starting. */
static int data_reachable(hb_sandbox *sb, const char *name, const char *dir)
{
    if (geteuid() != 0 || hb_jail_uid_can_reach(dir, false))
        return 0;
    return hb__sandbox_fail(sb, -EACCES,
                            "%s: plugin.json runtime.data %s: the worker's jail binds it as an "
                            "unprivileged user, and others may not read it or search its "
                            "parents",
                            name, dir);
}

/* The allow-lists of one plugin, resolved into the lists of v. */
static int add_allow(hb_sandbox *sb, const char *name, const hb__runtime_settings *rt,
                     hb_argv v[3])
{
    for (int k = 0; k < 3; k++) {
        for (char **p = rt->allow[k]; p && *p; p++) {
            char *real = NULL, *why = NULL;
            int r = hb_allow_resolve((hb_allow_kind)k, *p, sb->m->state_dir, &real, &why);
            if (r < 0) {
                r = hb__sandbox_fail(sb, r, "%s: plugin.json runtime.%s \"%s\" is refused: %s",
                                     name, kind_key[k], *p, why ? why : hb_strerror(r));
                free(why);
                return r;
            }
            char *one[] = {real, NULL};
            merge(&v[k], one, false);
            free(real);
        }
    }
    return 0;
}

/* The canonical text of w (what a running worker is compared by). */
static char *signature(const hb_rt_worker *w)
{
    hb_sb s = HB_SB_INIT;
    hb__sb_addf(&s, "profile=%s\nmem=%llu cpu=%llu fds=%llu procs=%llu cpu%%=%u\n",
                hb_profile_name(w->profile), (unsigned long long)w->limits.memory_bytes,
                (unsigned long long)w->limits.cpu_seconds,
                (unsigned long long)w->limits.open_files,
                (unsigned long long)w->limits.processes, w->cpu_percent);
    char **lists[] = {w->env, w->data, w->allow[0], w->allow[1], w->allow[2]};
    for (size_t i = 0; i < HB_ARRAY_SIZE(lists); i++) {
        for (char **p = lists[i]; p && *p; p++)
            hb__sb_addf(&s, "%s\n", *p);
        hb__sb_adds(&s, "--\n");
    }
    return s.buf; /* NULL when out of memory */
}

/* One plugin's profile and limits folded into what the worker gets. */
typedef struct fold {
    int asked;        /* strongest profile a plugin asked for (0: none) */
    hb_limits lim;    /* tightest a plugin asked for (0: none) */
    unsigned cpu_percent;
} fold;

static void fold_one(fold *f, const hb__runtime_settings *rt)
{
    if (rt->profile && strength(rt_profile(rt->profile)) > f->asked)
        f->asked = strength(rt_profile(rt->profile));
    f->lim.memory_bytes = tighter(f->lim.memory_bytes, rt->memory_mb << 20);
    f->lim.cpu_seconds = tighter(f->lim.cpu_seconds, rt->cpu_seconds);
    f->lim.open_files = tighter(f->lim.open_files, rt->max_fds);
    f->lim.processes = tighter(f->lim.processes, rt->max_procs);
    f->cpu_percent = (unsigned)tighter(f->cpu_percent, rt->cpu_percent);
}

/* The sandbox's value and the plugins' tightest: the tighter of the two,
 * or with trust the plugins' when they set one. */
static uint64_t decide(bool trust, uint64_t sandbox, uint64_t plugins)
{
    return trust && plugins ? plugins : tighter(sandbox, plugins);
}

/* What the worker runs with when the plugin `name` has section `rt` (it
 * replaces the slot's, or is added when no slot has the name), the other
 * plugins theirs. 0, or a negative code with the sandbox's error set. */
static int compute(hb_sandbox *sb, const char *name, const hb__runtime_settings *rt,
                   hb_rt_worker *out)
{
    memset(out, 0, sizeof(*out));
    bool trust = sb->opts.trust_plugin_runtime != 0;
    fold f = {0};
    hb_argv env = HB_ARGV_INIT, data = HB_ARGV_INIT;
    hb_argv allow[3] = {HB_ARGV_INIT, HB_ARGV_INIT, HB_ARGV_INIT};
    int r = 0;
    bool replaced = false;
    for (size_t i = 0; i <= sb->nslots && r == 0; i++) {
        const char *n = i < sb->nslots ? sb->slots[i].name : name;
        const hb__runtime_settings *s = i < sb->nslots ? &sb->slots[i].rt : rt;
        if (i < sb->nslots && name && !strcmp(n, name)) {
            s = rt;
            replaced = true;
        }
        if (i == sb->nslots && (replaced || !name))
            break;
        fold_one(&f, s);
        merge(&env, s->env, true);
        for (char **d = s->data; d && *d && r == 0; d++)
            r = data_reachable(sb, n, *d);
        merge(&data, s->data, false);
        if (r == 0)
            r = add_allow(sb, n, s, allow);
    }
    hb_profile base = sb->opts.profile ? sb->opts.profile : HB_PROFILE_STANDARD;
    int want = trust && f.asked ? f.asked : f.asked > strength(base) ? f.asked : strength(base);
    out->profile = want == 3 ? HB_PROFILE_STRICT
                   : want == 1 ? HB_PROFILE_PERMISSIVE : HB_PROFILE_STANDARD;
    out->limits = sb->limits;
    out->limits.memory_bytes = decide(trust, sb->limits.memory_bytes, f.lim.memory_bytes);
    out->limits.cpu_seconds = decide(trust, sb->limits.cpu_seconds, f.lim.cpu_seconds);
    out->limits.open_files = decide(trust, sb->limits.open_files, f.lim.open_files);
    out->limits.processes = decide(trust, sb->limits.processes, f.lim.processes);
#if defined(__SANITIZE_ADDRESS__)
    out->limits.memory_bytes = 0; /* an ASan worker reserves terabytes of shadow */
#endif
    out->cpu_percent = (unsigned)decide(trust, sb->opts.cpu_percent, f.cpu_percent);
    out->env = hb__argv_take(&env);
    out->data = hb__argv_take(&data);
    for (int k = 0; k < 3; k++)
        out->allow[k] = hb__argv_take(&allow[k]);
    if (r == 0) {
        bool ok = out->env && out->data && out->allow[0] && out->allow[1] && out->allow[2];
        out->sig = ok ? signature(out) : NULL;
        if (!out->sig)
            r = hb__sandbox_fail(sb, -ENOMEM, "out of memory");
    }
    if (r < 0)
        hb__rt_worker_release(out);
    return r;
}

const hb_rt_worker *hb__runtime_worker(hb_sandbox *sb)
{
    if (!sb->rt.sig) {
        hb_rt_worker w;
        if (compute(sb, NULL, NULL, &w) == 0)
            sb->rt = w;
    }
    return &sb->rt;
}

hb_profile hb__runtime_profile(hb_sandbox *sb)
{
    return hb__runtime_worker(sb)->profile;
}

/* Says so when plugin.json asks for a weaker profile than the sandbox
 * runs and is not trusted to weaken it. */
static void tell_kept_profile(hb_sandbox *sb, const char *name, const hb__runtime_settings *rt,
                              const hb_rt_worker *w)
{
    if (!rt->profile || strength(rt_profile(rt->profile)) >= strength(w->profile))
        return;
    hb__emit(sb->m, sb, HB_EVENT_NOTICE, name, 0, 0, 0, NULL,
             "%s: plugin.json asks for the %s profile; sandbox %s keeps %s (the stronger "
             "profile wins unless the sandbox trusts plugin.json: trust_plugin_runtime, "
             "--trust-plugin-runtime)",
             name, hb_profile_name(rt_profile(rt->profile)), sb->name,
             hb_profile_name(w->profile));
}

/* Reads name's section and computes the worker with it; on success the
 * new worker settings are sb->rt and *rt_out holds the section. */
static int read_and_compute(hb_sandbox *sb, const char *name, const char *dir,
                            hb__runtime_settings *rt_out)
{
    char *err = NULL;
    int r = hb__runtime_read(dir, rt_out, &err);
    if (r < 0) {
        r = hb__sandbox_fail(sb, r, "%s: %s", name, err ? err : hb_strerror(r));
        free(err);
        return r;
    }
    hb__runtime_worker(sb); /* what the running worker has, computed once */
    hb_rt_worker w;
    if ((r = compute(sb, name, rt_out, &w)) < 0) {
        hb__runtime_settings_release(rt_out);
        return r;
    }
    tell_kept_profile(sb, name, rt_out, &w);
    hb__rt_worker_release(&sb->rt);
    sb->rt = w;
    return 0;
}

int hb__runtime_prepare_load(hb_sandbox *sb, const char *name, const char *dir)
{
    hb__runtime_pending_clear(sb);
    hb__runtime_settings rt;
    int r = read_and_compute(sb, name, dir, &rt);
    if (r < 0)
        return r;
    sb->rt_pending = rt;
    if (!(sb->rt_pending_name = strdup(name)))
        return hb__sandbox_fail(sb, -ENOMEM, "out of memory");
    return 0;
}

/* What differs between the settings the running worker was started with
 * and those it should have, for the restart event. */
static void describe_change(hb_sb *out, const hb_sandbox *sb)
{
    const hb_rt_worker *w = &sb->rt;
    const hb_limits *o = &sb->rt_started_limits, *n = &w->limits;
    if (sb->rt_started_profile != w->profile)
        hb__sb_addf(out, "profile %s -> %s", hb_profile_name(sb->rt_started_profile),
                    hb_profile_name(w->profile));
    const struct {
        const char *what;
        uint64_t was, now;
    } lim[] = {
        {"memory bytes", o->memory_bytes, n->memory_bytes},
        {"cpu seconds", o->cpu_seconds, n->cpu_seconds},
        {"fds", o->open_files, n->open_files},
        {"processes", o->processes, n->processes},
        {"cpu_percent", sb->rt_started_cpu, w->cpu_percent},
    };
    for (size_t i = 0; i < HB_ARRAY_SIZE(lim); i++)
        if (lim[i].was != lim[i].now)
            hb__sb_addf(out, "%slimit %s %llu -> %llu", out->len ? ", " : "", lim[i].what,
                        (unsigned long long)lim[i].was, (unsigned long long)lim[i].now);
    /* The lists follow the two lines of profile and limits. */
    const char *was = sb->rt_started ? sb->rt_started : "", *now = w->sig;
    for (int i = 0; i < 2; i++) {
        was += strcspn(was, "\n") + (was[strcspn(was, "\n")] == '\n');
        now += strcspn(now, "\n") + (now[strcspn(now, "\n")] == '\n');
    }
    if (strcmp(was, now) != 0 || !out->len)
        hb__sb_addf(out, "%senv, data or allow-list", out->len ? ", " : "");
}

int hb__runtime_apply(hb_sandbox *sb, const char *name)
{
    const char *started = sb->rt_started;
    if (!hb__wc_alive(&sb->wc) || !sb->rt.sig || (started && !strcmp(started, sb->rt.sig)))
        return 0;
    /* The running worker started with other settings: a fresh one, with
     * the loaded plugins' state carried by checkpoints taken just now. */
    for (size_t i = 0; i < sb->nslots; i++) {
        if (!(sb->slots[i].hooks & HB_PROTO_HOOK_SAVE))
            continue;
        int r = hb__checkpoint_one(sb, &sb->slots[i]);
        if (r < 0) {
            hb__emit(sb->m, sb, HB_EVENT_NOTICE, name, 0, 0, 0, NULL,
                     "%s: plugin.json runtime settings take effect when the worker of sandbox "
                     "%s next restarts (checkpointing for a restart now failed: %s)",
                     name, sb->name, sb->last_error ? sb->last_error : hb_strerror(r));
            return 0;
        }
    }
    hb_sb change = HB_SB_INIT;
    describe_change(&change, sb);
    char *why = hb__asprintf("was started with other plugin.json runtime settings (%s: %s)",
                             name, change.buf ? change.buf : "?");
    hb__sb_release(&change);
    char before[sizeof(sb->wc.warning)];
    snprintf(before, sizeof(before), "%s", sb->wc.warning);
    int r = hb__restart_worker(sb, why ? why : "was started with other runtime settings");
    free(why);
    /* What the new settings cannot have here (an allow-list's socket
     * without a jail, say) is said as a fresh worker's warning is. */
    if (r == 0 && sb->wc.warning[0] && strcmp(before, sb->wc.warning) != 0)
        hb__emit(sb->m, sb, HB_EVENT_WARNING, name, 0, 0, 0, NULL, "sandbox %s: %s", sb->name,
                 sb->wc.warning);
    return r;
}

int hb__runtime_refresh(hb_sandbox *sb, hb_slot *s)
{
    if (!s->dir)
        return 0;
    char *name = strdup(s->name);
    if (!name)
        return hb__sandbox_fail(sb, -ENOMEM, "out of memory");
    hb__runtime_settings rt;
    int r = read_and_compute(sb, name, s->dir, &rt);
    if (r == 0) {
        hb__runtime_settings_release(&s->rt);
        s->rt = rt;
        r = hb__runtime_apply(sb, name);
    }
    /* A restart reloads every slot; one that could not be reloaded is
     * gone, and the array moved. */
    if (r == 0 && hb__slot_find(sb, name) != s)
        r = hb__sandbox_fail(sb, HB_ENOPLUGIN, "%s was lost when its worker restarted", name);
    free(name);
    return r;
}

void hb__runtime_started(hb_sandbox *sb)
{
    free(sb->rt_started);
    sb->rt_started = sb->rt.sig ? strdup(sb->rt.sig) : NULL;
    sb->rt_started_profile = sb->rt.profile;
    sb->rt_started_limits = sb->rt.limits;
    sb->rt_started_cpu = sb->rt.cpu_percent;
}

/* The cpu_percent the worker gets, where it is a v1 cap of its own (a
 * hybrid machine): a changed value is a new cap the next worker joins. */
void hb__runtime_cpucap(hb_sandbox *sb)
{
    unsigned want = sb->rt.cpu_percent;
    if (want == sb->cpucap_percent)
        return;
    if (sb->cg && hb_cgroup_site_has_cpu(&sb->m->cg)) {
        sb->cpucap_percent = want;
        if (want != sb->opts.cpu_percent)
            hb__emit(sb->m, sb, HB_EVENT_WARNING, NULL, 0, 0, 0, NULL,
                     "plugin.json runtime.limits.cpu_percent %u is not enforced: the cgroup "
                     "v2 cpu.max of sandbox %s is fixed when it is created (%u%%)",
                     want, sb->name, sb->opts.cpu_percent);
        return;
    }
    /* The running worker may still be in the old cap (removed once empty:
     * hb__record_worker, after the next start). */
    hb_cpucap_free(sb->cpucap_retired);
    sb->cpucap_retired = sb->cpucap;
    sb->cpucap = NULL;
    sb->cpucap_percent = want;
    if (!want)
        return;
    static unsigned serial;
    char cname[48], *err = NULL;
    snprintf(cname, sizeof(cname), "rt-%u-%u", __atomic_add_fetch(&serial, 1, __ATOMIC_RELAXED),
             want);
    if (hb_cpucap_new(cname, want, &sb->cpucap, &err) < 0)
        hb__emit(sb->m, sb, HB_EVENT_WARNING, NULL, 0, 0, 0, NULL,
                 "plugin.json runtime.limits.cpu_percent %u is not enforced: %s", want,
                 err ? err : "?");
    free(err);
}

static unsigned capped(unsigned want, unsigned cap)
{
    return want && (!cap || want < cap) ? want : cap;
}

unsigned hb__slot_call_timeout(const hb_sandbox *sb, const hb_slot *s)
{
    return capped(s->rt.call_timeout_ms, sb->opts.call_timeout_ms);
}

unsigned hb__swap_timeout(const hb_sandbox *sb, const char *plugin)
{
    unsigned want = 0;
    if (plugin && sb->rt_pending_name && !strcmp(plugin, sb->rt_pending_name))
        want = sb->rt_pending.swap_timeout_ms;
    for (size_t i = 0; plugin && !want && i < sb->nslots; i++)
        if (!strcmp(sb->slots[i].name, plugin))
            want = sb->slots[i].rt.swap_timeout_ms;
    return capped(want, sb->opts.swap_timeout_ms);
}
