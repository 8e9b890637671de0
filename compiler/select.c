/*
 * compiler/select.c - where compiles run: the backends by isolation level,
 * AUTO's choice (with and without a context), and the hb_compiler context
 * that owns the microvm state and remembers its selection. See select.h
 * and, for the rules, compiler.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "select.h"

/* ---- backends ---------------------------------------------------------- */

static const hb__backend *backend_for(hb_isolation which)
{
    switch (which) {
    case HB_ISOLATION_LOCAL:
        return hb__local_backend();
    case HB_ISOLATION_NAMESPACE:
        return hb__namespace_backend();
    case HB_ISOLATION_MICROVM:
        return hb__microvm_backend();
    default:
        return NULL;
    }
}

/* AUTO without a context (hb_compiler_run, hb_compiler_backend_probe): the
 * strongest stateless backend that probes OK. microvm needs a pool and a KVM
 * verdict, so only an hb_compiler context picks it (see
 * resolve_selection_locked). */
static const hb__backend *resolve_auto(void)
{
    const hb__backend *ns = hb__namespace_backend();
    if (ns->probe(NULL) == 0)
        return ns;
    return hb__local_backend();
}

int hb_compiler_backend_probe(hb_isolation which, char **why)
{
    if (which == HB_ISOLATION_AUTO)
        return resolve_auto()->probe(why);
    const hb__backend *b = backend_for(which);
    if (!b)
        return hb__seterr(why, HB_EISOLATION, "%s backend is not built into this hotbox",
                        which == HB_ISOLATION_MICROVM ? "microvm" : "unknown");
    return b->probe(why);
}

const char *hb_compiler_backend_name(hb_isolation which)
{
    if (which == HB_ISOLATION_AUTO)
        return resolve_auto()->name;
    const hb__backend *b = backend_for(which);
    if (b)
        return b->name;
    return which == HB_ISOLATION_MICROVM ? "microvm" : "unknown";
}

static int select_backend(hb_isolation which, hb__vm_state *vm, const hb__backend **out,
                          char **err)
{
    if (which == HB_ISOLATION_AUTO) {
        *out = resolve_auto();
        return 0;
    }
    const hb__backend *b = backend_for(which);
    if (!b)
        return hb__seterr(err, HB_EISOLATION, "isolation backend %s is not built into this hotbox",
                        hb_compiler_backend_name(which));
    char *why = NULL;
    /* A stateful backend checks with the context's settings (kernel dir...). */
    int r = b->vm && vm ? b->vm->check(vm, &why) : b->probe(&why);
    if (r < 0) {
        r = hb__seterr(err, HB_EISOLATION, "isolation backend %s is unavailable: %s", b->name,
                     why ? why : "probe failed");
        free(why);
        return r;
    }
    *out = b;
    return 0;
}
/* ---- contexts ------------------------------------------------------------ */

struct hb_compiler {
    hb_compiler_options o;
    const hb__backend *mv;  /* NULL when microvm is not built in */
    hb__vm_state *vm;       /* microvm state (no QEMU until first use) */
    pthread_mutex_t mu;     /* selection */
    bool resolved;
    hb_isolation selected;
    char *selection;
};

void hb_compiler_options_init(hb_compiler_options *o)
{
    hb_compiler_options d = HB_COMPILER_OPTIONS_INIT;
    if (o)
        *o = d;
}

int hb_compiler_new(const hb_compiler_options *opts, hb_compiler **out, char **err)
{
    hb_compiler_options d = HB_COMPILER_OPTIONS_INIT;
    if (!out || (opts && opts->version != HB_COMPILER_OPTIONS_VERSION))
        return hb__seterr(err, -EINVAL, "hb_compiler_new: bad arguments or options version");
    hb_compiler *c = calloc(1, sizeof(*c));
    if (!c)
        return hb__seterr(err, -ENOMEM, "out of memory");
    c->o = opts ? *opts : d;
    pthread_mutex_init(&c->mu, NULL);
    c->mv = hb__microvm_backend();
    if (c->mv && c->mv->vm) {
        int r = c->mv->vm->state_new(&c->o, &c->vm, err);
        if (r < 0) {
            hb_compiler_free(c);
            return r;
        }
    }
    *out = c;
    return 0;
}

void hb_compiler_free(hb_compiler *c)
{
    if (!c)
        return;
    if (c->vm)
        c->mv->vm->state_free(c->vm);
    free(c->selection);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* Why microvm is or is not usable for AUTO; sets *ok. malloc'ed. */
static char *auto_microvm_verdict(hb_compiler *c, bool *ok)
{
    *ok = false;
    if (!c->vm)
        return strdup("not built into this hotbox");
    if (c->o.accel == HB_COMPILER_ACCEL_TCG)
        return strdup("accel=tcg is set, and auto picks microvm only under KVM");
    char *why = NULL;
    if (c->mv->vm->check(c->vm, &why) < 0)
        return why ? why : strdup("not available");
    bool kvm = false, cached = false;
    int r = c->mv->vm->kvm_verdict(c->vm, &kvm, &cached, &why);
    if (r < 0) {
        char *w = hb__asprintf("KVM probe failed: %s", why ? why : "?");
        free(why);
        return w;
    }
    *ok = kvm;
    char *w = hb__asprintf("%s%s", why ? why : "?", cached ? " [cached verdict]" : "");
    free(why);
    return w;
}

static void resolve_selection_locked(hb_compiler *c)
{
    if (c->resolved)
        return;
    hb_sb sb = HB_SB_INIT;
    char *why = NULL;
    switch (c->o.isolation) {
    case HB_ISOLATION_LOCAL:
        c->selected = HB_ISOLATION_LOCAL;
        hb__sb_adds(&sb, "local (requested): NO ISOLATION - the compiler can read and write "
                         "every file you can");
        break;
    case HB_ISOLATION_NAMESPACE:
        c->selected = HB_ISOLATION_NAMESPACE;
        if (hb__namespace_backend()->probe(&why) == 0)
            hb__sb_adds(&sb, "namespace (requested)");
        else
            hb__sb_addf(&sb, "namespace (requested) is unavailable: %s", why ? why : "?");
        break;
    case HB_ISOLATION_MICROVM: {
        c->selected = HB_ISOLATION_MICROVM;
        if (!c->vm) {
            hb__sb_adds(&sb, "microvm (requested) is not built into this hotbox");
        } else if (c->mv->vm->check(c->vm, &why) < 0) {
            hb__sb_addf(&sb, "microvm (requested) is unavailable: %s", why ? why : "?");
        } else if (c->o.accel == HB_COMPILER_ACCEL_AUTO) {
            bool kvm = false, cached = false;
            free(why);
            why = NULL;
            if (c->mv->vm->kvm_verdict(c->vm, &kvm, &cached, &why) == 0)
                hb__sb_addf(&sb, "microvm (requested) under %s (%s%s)", kvm ? "KVM" : "TCG",
                            why ? why : "", cached ? " [cached verdict]" : "");
            else
                hb__sb_addf(&sb, "microvm (requested) under TCG (KVM probe failed: %s)",
                            why ? why : "?");
        } else {
            hb__sb_addf(&sb, "microvm (requested) under %s (accel forced)",
                        c->o.accel == HB_COMPILER_ACCEL_KVM ? "KVM" : "TCG");
        }
        break;
    }
    default: {
        bool mv_ok = false;
        char *mv_why = auto_microvm_verdict(c, &mv_ok);
        if (mv_ok) {
            c->selected = HB_ISOLATION_MICROVM;
            hb__sb_addf(&sb, "auto: microvm (%s)", mv_why ? mv_why : "");
        } else if (hb__namespace_backend()->probe(&why) == 0) {
            c->selected = HB_ISOLATION_NAMESPACE;
            hb__sb_addf(&sb, "auto: namespace (microvm: %s%s)", mv_why ? mv_why : "?",
                        c->vm && c->o.accel != HB_COMPILER_ACCEL_TCG
                            ? "; TCG would work but is ~20x slower per compile: force it with "
                              "isolation=microvm"
                            : "");
        } else {
            c->selected = HB_ISOLATION_LOCAL;
            hb__sb_addf(&sb, "auto: local - NO ISOLATION (microvm: %s; namespace: %s)",
                        mv_why ? mv_why : "?", why ? why : "?");
        }
        free(mv_why);
        break;
    }
    }
    free(why);
    c->selection = hb__sb_detach(&sb);
    c->resolved = true;
}

const char *hb_compiler_selection(hb_compiler *c)
{
    if (!c)
        return "";
    pthread_mutex_lock(&c->mu);
    resolve_selection_locked(c);
    const char *s = c->selection ? c->selection : "";
    pthread_mutex_unlock(&c->mu);
    return s;
}

hb_isolation hb_compiler_selected(hb_compiler *c)
{
    if (!c)
        return HB_ISOLATION_LOCAL;
    pthread_mutex_lock(&c->mu);
    resolve_selection_locked(c);
    hb_isolation i = c->selected;
    pthread_mutex_unlock(&c->mu);
    return i;
}

/* Whether warming applies to c: 1 when it compiles in microVMs, 0 when
 * there is nothing to warm, or an error naming fn. */
static int warms(hb_compiler *c, const char *fn, char **err)
{
    if (!c)
        return hb__seterr(err, -EINVAL, "%s: NULL context", fn);
    if (hb_compiler_selected(c) != HB_ISOLATION_MICROVM)
        return 0;
    if (!c->vm)
        return hb__seterr(err, HB_EISOLATION, "microvm backend is not built into this hotbox");
    return 1;
}

int hb_compiler_warm(hb_compiler *c, char **err)
{
    int r = warms(c, "hb_compiler_warm", err);
    return r <= 0 ? r : c->mv->vm->start(c->vm, err);
}

int hb_compiler_wait_warm(hb_compiler *c, unsigned timeout_ms, char **err)
{
    int r = warms(c, "hb_compiler_wait_warm", err);
    return r <= 0 ? r : c->mv->vm->wait_warm(c->vm, timeout_ms, err);
}

void hb_compiler_stats_get(hb_compiler *c, hb_compiler_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    out->accel = "";
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    out->backend = c->resolved ? hb_compiler_backend_name(c->selected) : "(not selected yet)";
    pthread_mutex_unlock(&c->mu);
    if (c->vm)
        c->mv->vm->stats(c->vm, out);
}

/* ---- the question the pipeline asks ------------------------------------- */

/* AUTO means the context's selection (or, without a context, namespace when
 * it works, else local). */
static hb_isolation context_selection(hb_compiler *c, hb_isolation want)
{
    return c && want == HB_ISOLATION_AUTO ? hb_compiler_selected(c) : want;
}

int hb__compiler_backend(hb_compiler *c, hb_isolation want, const hb__backend **be,
                         hb__vm_state **vm, char **err)
{
    const hb__backend *b = NULL;
    int r = select_backend(context_selection(c, want), c ? c->vm : NULL, &b, err);
    if (r < 0)
        return r;
    if (b->vm && !(c && c->vm))
        return hb__seterr(err, HB_EISOLATION, "the microvm backend needs an hb_compiler context");
    *be = b;
    *vm = b->vm ? c->vm : NULL;
    return 0;
}

unsigned hb__compiler_job_timeout(const hb_compiler *c)
{
    return c ? c->o.job_timeout_ms : 0;
}
