/*
 * compiler/microvm/glue.c - the microvm compile backend: the strong
 * hb__microvm_backend() that replaces compiler.c's weak "not built in"
 * default, running each compiler command of a plan as one job on a warm VM
 * of a pool owned by an hb_compiler context (hb__vm_state).
 *
 * Paths: the job asks the agent to show the plugin, include and job
 * directories at their host paths (hb_vm_job.host_paths), so the argv that
 * compiler.c built for the host runs unchanged, and the depfile, diagnostics
 * and __FILE__ carry the user's real paths: the input list, and therefore
 * the compile-cache key, is the same whichever backend compiled. The job
 * directory is mirrored (sync_out), so a plan of several steps (each source
 * to a .o, then a link) works one job per step.
 *
 * The accelerator: AUTO asks for a KVM verdict, read from a small file keyed
 * by the boot id and the identities of the QEMU binary and the guest kernel,
 * or measured with one probe boot bounded by kvm_probe_timeout_ms and then
 * stored there. A reboot changes the boot id, so a "no" is probed again.
 */

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "microvm.h"
#include "vm_internal.h"

#ifndef HB_MICROVM_DEFAULT_INITRAMFS
#define HB_MICROVM_DEFAULT_INITRAMFS ""
#endif

#define DEFAULT_KVM_PROBE_MS 8000u
#define MAX_PLUGIN_FILES 4096u
#define MAX_PLUGIN_DEPTH 8u
#define PROBE_CACHE_TAG "hotbox-accel-probe v1"

struct hb__vm_state {
    pthread_mutex_t mu;       /* pool creation */
    pthread_mutex_t vmu;      /* the KVM verdict */
    hb_compiler_options o;    /* strings below, not the caller's */
    char *kernel_dir, *initramfs, *probe_cache;
    hb_vm_pool *pool;
    hb_vm_accel pool_accel;
    bool verdict_known, kvm, verdict_cached;
    char *verdict_why;
};

/* ---- paths ----------------------------------------------------------------- */

static char *cache_home(void)
{
    const char *x = getenv("XDG_CACHE_HOME");
    if (x && *x)
        return strdup(x);
    const char *h = getenv("HOME");
    return hb__asprintf("%s/.cache", h && *h ? h : "/root");
}

static char *resolve_kernel_dir(const char *opt)
{
    const char *set = hb__nonempty(opt, getenv("HOTBOX_KERNEL_DIR"));
    if (set)
        return strdup(set);
    char *c = cache_home();
    char *d = c ? hb__asprintf("%s/hotbox/guest-kernel", c) : NULL;
    free(c);
    return d;
}

/* env > option > beside the library (or program) > compiled-in build path. */
static char *resolve_initramfs(const char *opt)
{
    const char *set = hb__nonempty(getenv("HOTBOX_MICROVM_INITRAMFS"), opt);
    if (set)
        return strdup(set);
    char *beside =
        hb__libexec_file((void *)&hb__microvm_backend, "hotbox-initramfs.cpio", R_OK);
    return beside ? beside : strdup(HB_MICROVM_DEFAULT_INITRAMFS);
}

static char *kernel_file(const char *kdir)
{
    static const char *const names[] = {"vmlinux", "bzImage"};
    for (size_t i = 0; i < HB_ARRAY_SIZE(names); i++) {
        char *p = hb__path_join(kdir, names[i]);
        if (p && access(p, R_OK) == 0)
            return p;
        free(p);
    }
    return NULL;
}

/* ---- state ------------------------------------------------------------------- */

static void state_free(hb__vm_state *s)
{
    if (!s)
        return;
    hb_vm_pool_free(s->pool); /* kills and reaps every QEMU */
    HB_FREE_ALL(s->kernel_dir, s->initramfs, s->probe_cache, s->verdict_why);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->vmu);
    free(s);
}

static int state_new(const hb_compiler_options *o, hb__vm_state **out, char **err)
{
    hb__vm_state *s = calloc(1, sizeof(*s));
    if (!s)
        return hb__seterr(err, -ENOMEM, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->vmu, NULL);
    s->o = *o;
    s->o.kernel_dir = s->o.initramfs = s->o.probe_cache = NULL;
    s->kernel_dir = resolve_kernel_dir(o->kernel_dir);
    s->initramfs = resolve_initramfs(o->initramfs);
    if (o->probe_cache) {
        s->probe_cache = strdup(o->probe_cache);
    } else {
        char *c = cache_home();
        s->probe_cache = c ? hb__asprintf("%s/hotbox/accel-probe", c) : NULL;
        free(c);
    }
    if (!s->kernel_dir || !s->initramfs || !s->probe_cache) {
        state_free(s);
        return hb__seterr(err, -ENOMEM, "out of memory");
    }
    *out = s;
    return 0;
}

static void pool_options(hb__vm_state *s, hb_vm_accel accel, hb_vm_pool_options *po)
{
    hb_vm_pool_options_init(po);
    po->size = s->o.pool_size;
    po->jobs_per_vm = s->o.jobs_per_vm;
    po->boot_timeout_ms = s->o.boot_timeout_ms;
    po->job_timeout_ms = s->o.job_timeout_ms;
    po->accel = accel;
    po->kernel_dir = s->kernel_dir;
    po->initramfs = s->initramfs;
}

static int check(hb__vm_state *s, char **why)
{
    char *qemu = NULL, *k = NULL;
    int r = hb__find_program("qemu-system-x86_64", &qemu);
    if (r < 0) {
        r = hb__seterr(why, -ENOENT, "qemu-system-x86_64 is not on $PATH (Debian package "
                                   "qemu-system-x86)");
        goto out;
    }
    if (!(k = kernel_file(s->kernel_dir))) {
        r = hb__seterr(why, -ENOENT, "guest kernel not found in %s; run "
                                   "scripts/fetch-guest-kernel.sh (or set HOTBOX_KERNEL_DIR)",
                     s->kernel_dir);
        goto out;
    }
    if (!*s->initramfs || access(s->initramfs, R_OK) != 0) {
        r = hb__seterr(why, -ENOENT, "guest initramfs not found at %s; build the "
                                   "hb_microvm_initramfs target (or set HOTBOX_MICROVM_INITRAMFS)",
                     *s->initramfs ? s->initramfs : "(none compiled in)");
        goto out;
    }
    r = 0;
out:
    free(qemu);
    free(k);
    return r;
}

/* ---- the KVM verdict and its cache -------------------------------------------- */

/* Hex SHA-256 of boot id + QEMU identity + kernel identity. */
static int verdict_key(hb__vm_state *s, char out[HB_SHA256_HEX])
{
    hb_sb sb = HB_SB_INIT;
    void *boot = NULL;
    size_t blen = 0;
    char *qemu = NULL, *qreal = NULL, *k = kernel_file(s->kernel_dir);
    if (hb__read_file("/proc/sys/kernel/random/boot_id", 128, &boot, &blen) < 0) {
        free(k);
        return -ENOENT; /* no boot id: never trust a stored verdict */
    }
    hb__sb_addf(&sb, "boot_id=%.*s", (int)blen, (char *)boot);
    if (hb__find_program("qemu-system-x86_64", &qemu) == 0 && hb__realpath(qemu, &qreal) == 0)
        hb__vm_add_identity(&sb, "qemu", qreal);
    else
        hb__vm_add_identity(&sb, "qemu", qemu);
    hb__vm_add_identity(&sb, "kernel", k);
    int r = sb.buf ? 0 : -ENOMEM;
    if (!r)
        hb__sha256_hex(sb.buf, sb.len, out);
    hb__sb_release(&sb);
    HB_FREE_ALL(boot, qemu, qreal, k);
    return r;
}

static bool read_verdict(hb__vm_state *s, const char *key, bool *kvm, char **why)
{
    void *data = NULL;
    size_t len = 0;
    if (!*s->probe_cache || hb__read_file(s->probe_cache, 64 << 10, &data, &len) < 0)
        return false;
    char **lines = hb__split_lines(data);
    free(data);
    bool ok = lines && hb__strv_len(lines) >= 4 && !strcmp(lines[0], PROBE_CACHE_TAG) &&
              !strcmp(lines[1], key) && (!strcmp(lines[2], "yes") || !strcmp(lines[2], "no"));
    if (ok) {
        *kvm = !strcmp(lines[2], "yes");
        *why = strdup(lines[3]);
        ok = *why != NULL;
    }
    hb__strv_free(lines);
    return ok;
}

static void write_verdict(hb__vm_state *s, const char *key, bool kvm, const char *why)
{
    if (!*s->probe_cache)
        return;
    char *dir = strdup(s->probe_cache);
    char *text = hb__asprintf("%s\n%s\n%s\n%s\n", PROBE_CACHE_TAG, key, kvm ? "yes" : "no", why);
    if (dir && text && hb__mkdir_p(dirname(dir), 0755) == 0)
        (void)hb__write_file_atomic(s->probe_cache, text, strlen(text), 0644);
    free(dir);
    free(text);
}

/* One line, bounded, no newlines: the probe's explanation as stored. */
static char *one_line(const char *s, size_t max)
{
    size_t n = strlen(s);
    char *o = strndup(s, n > max ? max : n);
    for (char *p = o; p && *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return o;
}

static int kvm_verdict(hb__vm_state *s, bool *kvm, bool *cached, char **why)
{
    pthread_mutex_lock(&s->vmu);
    int r = 0;
    if (s->verdict_known)
        goto done;
    char key[HB_SHA256_HEX];
    bool have_key = verdict_key(s, key) == 0;
    char *w = NULL;
    bool k = false;
    if (have_key && read_verdict(s, key, &k, &w)) {
        s->kvm = k;
        s->verdict_why = w;
        s->verdict_cached = true;
        s->verdict_known = true;
        goto done;
    }
    if ((r = check(s, why)) < 0)
        goto out;
    unsigned t = s->o.kvm_probe_timeout_ms ? s->o.kvm_probe_timeout_ms : DEFAULT_KVM_PROBE_MS;
    hb_vm_pool_options po;
    pool_options(s, HB_VM_ACCEL_KVM, &po);
    po.boot_timeout_ms = t;
    hb_vm_accel used;
    double ms = 0;
    int pr = hb_vm_probe(&po, &used, &ms, &w);
    if (pr == 0) {
        k = true;
        s->verdict_why = hb__asprintf("KVM probe boot reached the guest agent in %.0f ms", ms);
    } else if (pr == -ETIMEDOUT) {
        s->verdict_why = hb__asprintf("KVM probe boot timed out after %u s - /dev/kvm is present "
                                      "but cannot run this guest (a PVM or nested host?)",
                                      (t + 999) / 1000);
    } else if (pr == -ENODEV) {
        s->verdict_why = strdup("/dev/kvm cannot be opened (no KVM, or no permission: "
                                "join the kvm group)");
    } else if (pr == -EIO || pr == -ECHILD) {
        char *l = one_line(w ? w : "?", 300);
        s->verdict_why = hb__asprintf("a guest fails under KVM: %s", l ? l : "?");
        free(l);
    } else {
        /* Not a verdict about KVM (a missing file, out of memory): tell
         * the caller, store nothing. */
        r = hb__seterr(why, pr, "KVM probe could not run: %s", w ? w : strerror(-pr));
        free(w);
        goto out;
    }
    free(w);
    if (!s->verdict_why) {
        r = hb__seterr(why, -ENOMEM, "out of memory");
        goto out;
    }
    s->kvm = k;
    s->verdict_known = true;
    s->verdict_cached = false;
    if (have_key)
        write_verdict(s, key, k, s->verdict_why);
done:
    *kvm = s->kvm;
    if (cached)
        *cached = s->verdict_cached;
    if (why) {
        free(*why);
        *why = strdup(s->verdict_why);
    }
out:
    pthread_mutex_unlock(&s->vmu);
    return r;
}

static int boot_probe(hb__vm_state *s, hb_compiler_accel accel, double *ms, char **why)
{
    int r = check(s, why);
    if (r < 0)
        return r;
    hb_vm_pool_options po;
    pool_options(s, accel == HB_COMPILER_ACCEL_KVM ? HB_VM_ACCEL_KVM : HB_VM_ACCEL_TCG, &po);
    if (accel == HB_COMPILER_ACCEL_KVM)
        po.boot_timeout_ms = s->o.kvm_probe_timeout_ms ? s->o.kvm_probe_timeout_ms
                                                       : DEFAULT_KVM_PROBE_MS;
    hb_vm_accel used;
    char *w = NULL;
    r = hb_vm_probe(&po, &used, ms, &w);
    if (why) {
        free(*why);
        *why = w ? one_line(w, 400) : NULL;
    }
    free(w);
    return r;
}

/* ---- the pool -------------------------------------------------------------------- */

static int start_locked(hb__vm_state *s, char **err)
{
    if (s->pool)
        return 0;
    int r = check(s, err);
    if (r < 0)
        return hb__seterr(err, HB_EISOLATION, "microvm backend unavailable: %s",
                        err && *err ? *err : "?");
    hb_vm_accel accel = HB_VM_ACCEL_TCG;
    if (s->o.accel == HB_COMPILER_ACCEL_KVM) {
        accel = HB_VM_ACCEL_KVM;
    } else if (s->o.accel == HB_COMPILER_ACCEL_AUTO) {
        bool kvm = false;
        char *why = NULL;
        r = kvm_verdict(s, &kvm, NULL, &why);
        free(why);
        accel = r == 0 && kvm ? HB_VM_ACCEL_KVM : HB_VM_ACCEL_TCG;
    }
    hb_vm_pool_options po;
    pool_options(s, accel, &po);
    r = hb_vm_pool_new(&po, &s->pool, err);
    if (r < 0)
        return hb__seterr(err, r, "cannot start the microVM pool: %s", err && *err ? *err : "?");
    s->pool_accel = accel;
    return 0;
}

static int start(hb__vm_state *s, char **err)
{
    pthread_mutex_lock(&s->mu);
    int r = start_locked(s, err);
    pthread_mutex_unlock(&s->mu);
    return r;
}

static hb_vm_pool *get_pool(hb__vm_state *s, char **err)
{
    pthread_mutex_lock(&s->mu);
    hb_vm_pool *p = start_locked(s, err) == 0 ? s->pool : NULL;
    pthread_mutex_unlock(&s->mu);
    return p;
}

static int wait_warm(hb__vm_state *s, unsigned timeout_ms, char **err)
{
    hb_vm_pool *p = get_pool(s, err);
    if (!p)
        return HB_EISOLATION;
    return hb_vm_pool_wait_warm(p, timeout_ms, err);
}

static void stats(hb__vm_state *s, hb_compiler_stats *out)
{
    pthread_mutex_lock(&s->mu);
    hb_vm_pool *p = s->pool;
    out->pool_started = p != NULL;
    out->pool_size = s->o.pool_size ? s->o.pool_size : 1;
    if (p) {
        hb_vm_pool_stats st;
        hb_vm_pool_stats_get(p, &st);
        out->accel = hb_vm_accel_name(st.accel);
        out->pool_size = st.size;
        out->warm = st.warm;
        out->busy = st.busy;
        out->booting = st.booting;
        out->boots = st.boots;
        out->failures = st.failures;
        out->jobs = st.jobs;
        out->recycled = st.recycled;
        out->median_job_ms = st.median_job_ms;
        out->p95_job_ms = st.p95_job_ms;
        out->last_job_ms = st.last_job_ms;
        out->last_boot_ms = st.last_boot_ms;
        out->median_boot_ms = st.median_boot_ms;
        out->rss_kib_total = st.qemu_rss_kib;
        unsigned live = st.warm + st.busy + st.booting;
        out->rss_kib_per_vm = live ? st.qemu_rss_kib / live : 0;
    }
    pthread_mutex_unlock(&s->mu);
}

/* ---- one command --------------------------------------------------------------- */

typedef struct names {
    char **v;
    size_t n, cap;
} names;

static int names_add(names *ns, const char *s)
{
    if (ns->n + 2 > ns->cap) {
        size_t cap = ns->cap ? 2 * ns->cap : 32;
        char **nv = realloc(ns->v, cap * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        ns->v = nv;
        ns->cap = cap;
    }
    if (!(ns->v[ns->n] = strdup(s)))
        return -ENOMEM;
    ns->v[++ns->n] = NULL;
    return 0;
}

static bool under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == 0);
}

/* A symbolic link is followed only when it resolves inside real_root (the
 * shared directory, symlinks resolved): the host copies what it names into
 * the guest, so a link to ~/.ssh/id_rsa, to /etc or to the state directory
 * would hand the (possibly hostile) compile a host file the namespace
 * backend never shows. A link out of the directory is left out, as if
 * dangling. */
static bool link_stays_inside(const char *full, const char *real_root)
{
    char *real = NULL;
    bool ok = real_root && hb__realpath(full, &real) == 0 && under(real, real_root);
    free(real);
    return ok;
}

static int list_files_in(const char *dir, const char *real_root, const char *rel,
                         const char *skip, unsigned depth, names *ns)
{
    if (depth > MAX_PLUGIN_DEPTH)
        return 0;
    char *path = rel ? hb__path_join(dir, rel) : strdup(dir);
    if (!path)
        return -ENOMEM;
    DIR *d = opendir(path);
    if (!d) {
        int r = -errno;
        free(path);
        return r;
    }
    int r = 0;
    struct dirent *e;
    while (!r && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *full = hb__path_join(path, e->d_name);
        char *name = rel ? hb__asprintf("%s/%s", rel, e->d_name) : strdup(e->d_name);
        struct stat st;
        if (!full || !name)
            r = -ENOMEM;
        else if (skip && !strcmp(full, skip))
            ;
        else if (lstat(full, &st) == 0 && S_ISLNK(st.st_mode) &&
                 !link_stays_inside(full, real_root))
            ;
        else if (stat(full, &st) == 0 && S_ISDIR(st.st_mode))
            r = list_files_in(dir, real_root, name, skip, depth + 1, ns);
        else if (stat(full, &st) == 0 && S_ISREG(st.st_mode))
            r = ns->n >= MAX_PLUGIN_FILES ? -E2BIG : names_add(ns, name);
        free(full);
        free(name);
    }
    closedir(d);
    free(path);
    return r;
}

/* Every regular file under dir (relative names), skipping dot entries and
 * `skip` (a job directory inside the plugin directory). The guest gets the
 * plugin's headers and data files too, not only its *.c. */
static int list_files(const char *dir, const char *rel, const char *skip, unsigned depth,
                      names *ns)
{
    char *real_root = NULL;
    int r = hb__realpath(dir, &real_root);
    if (r < 0)
        return r;
    r = list_files_in(dir, real_root, rel, skip, depth, ns);
    free(real_root);
    return r;
}

static int vm_run(const hb__run_ctx *ctx, char *const *argv, hb__run_outcome *out, char **err)
{
    const hb_compile_request *req = ctx->req;
    if (!ctx->state || !req)
        return hb__seterr(err, HB_EISOLATION, "the microvm backend needs an hb_compiler context "
                                            "(hb_compiler_run_ctx)");
    /* The guest has the host's /usr and nothing else: a compiler elsewhere
     * (a toolchain in /opt) is only there when it lives in the plugin or
     * include directory. */
    for (char *const *d = ctx->extra_ro_dirs; d && *d; d++)
        if (!under(*d, req->plugin_dir) && !(req->include_dir && under(*d, req->include_dir)))
            return hb__seterr(err, HB_EISOLATION,
                            "the microvm guest only has the host's /usr; the compiler in %s is "
                            "not visible there",
                            *d);
    hb_vm_pool *pool = get_pool(ctx->state, err);
    if (!pool)
        return HB_EISOLATION;

    /* The guest sees a copy of the plugin directory alone, or, with
     * source_dirs (siblings it includes from), of those directories under
     * their common parent: nothing else of the parent (its other files and
     * directories, a state directory) is copied in. */
    const char *root = req->plugin_dir;
    char *parent = NULL;
    names files = {0};
    int r = 0;
    if (req->source_dirs && req->source_dirs[0]) {
        const char *slash = strrchr(req->plugin_dir, '/');
        parent = slash && slash != req->plugin_dir
                     ? strndup(req->plugin_dir, (size_t)(slash - req->plugin_dir))
                     : NULL;
        if (!parent)
            return hb__seterr(err, HB_EISOLATION, "microvm: plugin directory %s has no parent "
                                                "to share sibling directories from",
                            req->plugin_dir);
        root = parent;
        r = list_files(root, slash + 1, req->job_dir, 1, &files);
        for (char *const *d = req->source_dirs; r == 0 && *d; d++) {
            const char *ds = strrchr(*d, '/');
            if (!ds || strlen(parent) != (size_t)(ds - *d) || strncmp(*d, parent, strlen(parent)) ||
                !ds[1] || ds[1] == '.') {
                free(parent);
                hb__strv_free(files.v);
                return hb__seterr(err, HB_EISOLATION,
                                "microvm: %s is not a sibling of the plugin directory %s; the "
                                "guest only gets the plugin's siblings",
                                *d, req->plugin_dir);
            }
            r = list_files(root, ds + 1, req->job_dir, 1, &files);
        }
    } else if (req->source_root) {
        root = req->source_root; /* deprecated: everything under it */
        r = list_files(root, NULL, req->job_dir, 0, &files);
    } else {
        r = list_files(root, NULL, req->job_dir, 0, &files);
    }
    if (r < 0) {
        r = hb__seterr(err, r, "listing %s: %s", root, strerror(-r));
        hb__strv_free(files.v);
        free(parent);
        return r;
    }
    uint64_t now = hb__now_ns();
    unsigned left = ctx->deadline_ns > now ? (unsigned)((ctx->deadline_ns - now) / 1000000u) : 1;
    hb_vm_job job = {
        .plugin_dir = root,
        .include_dir = req->include_dir,
        .sources = (const char *const *)(files.v ? files.v : (char *[]){NULL}),
        .argv = (const char *const *)argv,
        .out_dir = req->job_dir,
        .cwd = hb__compile_cwd(req), /* the plugin directory, as on the host */
        .timeout_ms = left ? left : 1,
        .max_memory_bytes = ctx->max_memory_bytes,
        .max_output_bytes = ctx->max_output_bytes,
        .max_diag_bytes = HB__MAX_CAPTURE,
        .host_paths = true,
        .sync_out = true,
    };
    hb_vm_result vr;
    char *e = NULL;
    r = hb_vm_pool_compile(pool, &job, &vr, &e);
    hb__strv_free(files.v);
    free(parent);
    if (r < 0) {
        r = hb__seterr(err, r, "microvm: %s", e ? e : strerror(-r));
        free(e);
        return r;
    }
    free(e);
    memset(out, 0, sizeof(*out));
    out->timed_out = vr.timed_out;
    if (vr.term_signal && !vr.timed_out)
        out->wait_status = vr.term_signal & 0x7f; /* as waitpid: WIFSIGNALED */
    else if (vr.exit_status >= 0)
        out->wait_status = (vr.exit_status & 0xff) << 8; /* WIFEXITED */
    else
        out->wait_status = 127 << 8; /* the agent could not start it; output says why */
    r = vr.output && *vr.output ? hb__sb_adds(&out->output, vr.output) : 0;
    hb_vm_result_release(&vr);
    if (r < 0)
        return hb__seterr(err, r, "out of memory");
    return 0;
}

static int vm_probe_default(char **why)
{
    hb_compiler_options o = HB_COMPILER_OPTIONS_INIT;
    hb__vm_state *s = NULL;
    int r = state_new(&o, &s, why);
    if (r == 0)
        r = check(s, why);
    state_free(s);
    return r;
}

static const hb__vm_ops vm_ops = {
    .state_new = state_new,
    .state_free = state_free,
    .check = check,
    .kvm_verdict = kvm_verdict,
    .boot_probe = boot_probe,
    .start = start,
    .wait_warm = wait_warm,
    .stats = stats,
};

static const hb__backend microvm_backend = {"microvm", vm_probe_default, vm_run, &vm_ops};

const hb__backend *hb__microvm_backend(void)
{
    return &microvm_backend;
}
