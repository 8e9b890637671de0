/* harness/build.c - sources -> compiler -> ELF checks -> store.
 *
 * The compile cache: every stored version of the plugin remembers every
 * input file its compile read (from the depfile). When hashing those files'
 * current contents with the same flags and compiler gives a stored input
 * hash, the files are what that version was built from and its object is
 * reused without compiling (see cache_lookup). */
#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "edittrace.h"
#include "fileid.h"
#include "graph.h"

int hb__resolve_plugin_dir(const char *dir, char **abs, char **name, char **err)
{
    struct stat st;
    if (stat(dir, &st) < 0)
        return hb__seterr(err, -errno, "plugin directory %s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return hb__seterr(err, -ENOTDIR, "%s is not a directory (a plugin is a directory of C sources)",
                          dir);
    char *a = NULL;
    int r = hb__realpath(dir, &a);
    if (r < 0)
        return hb__seterr(err, r, "%s: %s", dir, strerror(-r));
    char *n = hb__basename(a);
    if (!n || !*n || strchr(n, '\n')) {
        free(a);
        free(n);
        return hb__seterr(err, -EINVAL, "cannot name a plugin after directory %s", dir);
    }
    *abs = a;
    *name = n;
    return 0;
}

void hb__build_out_release(hb_build_out *out)
{
    hb_version_rec_release(&out->rec);
    hb_compile_result_release(&out->cres);
    if (out->job)
        (void)hb__rm_rf(out->job);
    free(out->job);
    memset(out, 0, sizeof(*out));
}

/* Every plugin object carries the SONAME hotbox-plugin-<name>.so; a plugin
 * that imports symbols another plugin exports records that SONAME as
 * DT_NEEDED. In the worker, plugins are dlopen()ed RTLD_LOCAL by their
 * versioned paths, and the loader resolves a DT_NEEDED entry to the object
 * already loaded with that SONAME: the provider's live instance, state and
 * all. The dependent's lookup scope is itself then its providers, so one
 * plugin's symbols never interpose on another's (as RTLD_GLOBAL would), and
 * the object does not change when the provider is rebuilt. */
static char **sonames_of(char *const *plugins)
{
    size_t n = hb__strv_len(plugins);
    char **v = calloc(n + 1, sizeof(char *));
    for (size_t i = 0; v && i < n; i++) {
        v[i] = hb__asprintf("hotbox-plugin-%s.so", plugins[i]);
        if (!v[i]) {
            hb__strv_free(v);
            return NULL;
        }
    }
    return v;
}

/* What an isolated compile of the plugin in `dir` may read besides its own
 * directory, the hotbox include directory and the system headers: the
 * sibling directories its sources name as "../NAME/..." (a sibling plugin it
 * includes from, a shared include directory next to the plugins). Never
 * the parent directory itself (a plugin in $HOME would expose ~/.ssh),
 * files directly in it, dot-directories, or the directory holding the
 * manager's state (hotbox.db). NULL-terminated, malloc'ed; NULL on ENOMEM. */
#define MAX_SIBLINGS 8
#define MAX_SCAN_BYTES (1u << 20)

static void add_sibling(hb_manager *m, const char *parent, const char *name, size_t len,
                        char **v, size_t *n)
{
    if (!len || len > 255 || name[0] == '.' || memchr(name, '\\', len) || *n >= MAX_SIBLINGS)
        return;
    char *cand = hb__asprintf("%s/%.*s", parent, (int)len, name);
    char *real = NULL;
    struct stat st;
    /* A real directory directly in the parent (no symlink out of it). */
    bool ok = cand && stat(cand, &st) == 0 && S_ISDIR(st.st_mode) &&
              hb__realpath(cand, &real) == 0 && strcmp(real, cand) == 0;
    /* Not holding (or inside) the state directory. */
    size_t cl = cand ? strlen(cand) : 0;
    if (ok && (!strncmp(m->state_dir, cand, cl) && (m->state_dir[cl] == '/' || !m->state_dir[cl])))
        ok = false;
    size_t sl = strlen(m->state_dir);
    if (ok && !strncmp(cand, m->state_dir, sl) && (cand[sl] == '/' || !cand[sl]))
        ok = false;
    for (size_t i = 0; ok && i < *n; i++)
        ok = strcmp(v[i], cand) != 0;
    free(real);
    if (ok)
        v[(*n)++] = cand;
    else
        free(cand);
}

static atomic_uint_fast64_t sibling_scans;

uint64_t hb__build_sibling_scans(void)
{
    return atomic_load(&sibling_scans);
}

/* A file the sibling scan reads: a C source or header, or assembly. */
static bool scanned_name(const char *name)
{
    return name[0] != '.' && (hb__has_suffix(name, ".c") || hb__has_suffix(name, ".h") ||
                              hb__has_suffix(name, ".S") || hb__has_suffix(name, ".s"));
}

static char **sibling_dirs(hb_manager *m, const char *dir)
{
    atomic_fetch_add(&sibling_scans, 1);
    char **v = calloc(MAX_SIBLINGS + 1, sizeof(*v));
    const char *slash = strrchr(dir, '/');
    if (!v || !slash || slash == dir)
        return v;
    char *parent = strndup(dir, (size_t)(slash - dir));
    /* The list of names is read again only when the directory's entries
     * changed (util/dircache.c), not per build. */
    char **names = NULL;
    if (!parent || hb__dir_sources_cached(dir, &names) < 0)
        names = NULL;
    size_t n = 0;
    for (size_t i = 0; names && names[i]; i++) {
        char *path = scanned_name(names[i]) ? hb__path_join(dir, names[i]) : NULL;
        void *data = NULL;
        size_t len = 0;
        if (path && hb__read_file(path, MAX_SCAN_BYTES, &data, &len) == 0) {
            for (const char *p = data; (p = strstr(p, "\"../")); p += 4) {
                const char *name = p + 4;
                size_t nl = strcspn(name, "/\"\n");
                if (name[nl] == '/')
                    add_sibling(m, parent, name, nl, v, &n);
            }
        }
        free(data);
        free(path);
    }
    hb__strv_free(names);
    free(parent);
    return v;
}

static hb_compile_request make_request(hb_manager *m, const char *dir, const char *job)
{
    hb_compile_request req = {0};
    req.plugin_dir = dir;
    req.job_dir = job;
    req.cc = m->cc;
    req.flags_text = m->cflags_text;
    req.sanitize = m->sanitize;
    req.coverage = m->gcda_dir != NULL;
    req.include_dir = m->include_dir;
    req.timeout_ms = m->opts.compile_timeout_ms;
    req.isolation = m->opts.isolation;
    return req;
}

/* Whether the current sources (listed) are all among a version's
 * remembered inputs (else a source file was added since). */
static bool sources_covered(char *const *sources, char *const *inputs)
{
    bool complete = inputs && sources;
    for (char *const *s = sources; complete && *s; s++) {
        bool found = false;
        for (char *const *i = inputs; *i && !found; i++)
            found = strcmp(*i, *s) == 0;
        complete = found;
    }
    return complete;
}

/* What the input hash of every version of a plugin directory shares: its
 * sibling directories and its sources, read once per lookup however many
 * input sets it hashes. */
typedef struct dir_scan {
    char **siblings, **sources;
} dir_scan;

static void dir_scan_of(hb_manager *m, const char *dir, dir_scan *ds)
{
    ds->siblings = sibling_dirs(m, dir);
    ds->sources = NULL;
    if (hb_compiler_list_sources(dir, &ds->sources) < 0)
        ds->sources = NULL;
}

static void dir_scan_release(dir_scan *ds)
{
    HB_STRV_FREE_ALL(ds->siblings, ds->sources);
}

static int input_hash_scanned(hb_manager *m, const char *dir, const char *plugin,
                              const dir_scan *ds, const hb_version_rec *v,
                              char hash[HB_SHA256_HEX])
{
    hb_compile_request req = make_request(m, dir, m->tmp_dir);
    req.source_dirs = ds->siblings;
    char *soname = hb__asprintf("hotbox-plugin-%s.so", plugin);
    char **needed = sonames_of(v->depends);
    req.soname = soname;
    req.needed = needed;
    int r = -ENOENT;
    if (soname && needed && ds->siblings && sources_covered(ds->sources, v->inputs))
        r = hb_compiler_input_hash_ctx(m->compiler, &req, v->inputs, hash);
    hb__strv_free(needed);
    free(soname);
    return r;
}

int hb__build_input_hash(hb_manager *m, const char *dir, const char *plugin,
                         const hb_version_rec *v, char hash[HB_SHA256_HEX])
{
    dir_scan ds;
    dir_scan_of(m, dir, &ds);
    int r = input_hash_scanned(m, dir, plugin, &ds, v, hash);
    dir_scan_release(&ds);
    return r;
}

/* How many distinct (inputs, providers) sets of stored versions, newest
 * first, a cache lookup hashes at most. */
#define CACHE_SETS 16

/* A stored version built from exactly the current files, if any: not only
 * the newest (reverting an edit finds the version built before it, even when
 * the edit changed which headers the plugin reads). Each stored version
 * remembers the files its compile read; the lookup hashes their current
 * contents as that version's compile did and asks the store for a version
 * with that input hash. */
static atomic_uint_fast64_t cache_lookups;

uint64_t hb__build_cache_lookups(void)
{
    return atomic_load(&cache_lookups);
}

static int cache_lookup(hb_manager *m, const char *dir, const char *plugin, hb_version_rec *out)
{
    atomic_fetch_add(&cache_lookups, 1);
    /* The distinct (inputs, providers) sets, newest first: a few rows of
     * the catalogue, however many versions the plugin has. */
    hb_version_rec *sets = NULL;
    size_t n = 0;
    int r = hb_store_input_sets(m->store, plugin, CACHE_SETS, &sets, &n);
    if (r < 0)
        return r;
    r = -ENOENT;
    dir_scan ds = {0};
    if (n)
        dir_scan_of(m, dir, &ds);
    for (size_t i = 0; i < n && r == -ENOENT; i++) {
        char hash[HB_SHA256_HEX];
        if (input_hash_scanned(m, dir, plugin, &ds, &sets[i], hash) < 0)
            continue;
        r = hb_store_find_input(m->store, plugin, hash, out);
    }
    dir_scan_release(&ds);
    hb_store_list_free(sets, n);
    return r;
}

/* The plugins whose newest stored version exports a symbol `plugin`
 * imports, sorted (a list; empty when none or when the store cannot say;
 * NULL when out of memory). */
static char **providers_of(hb_manager *m, const char *plugin, char *const *imp)
{
    char **out = NULL;
    if (hb_store_providers(m->store, plugin, imp, &out) == 0)
        return out;
    return calloc(1, sizeof(char *));
}

bool hb__build_needs_relink(hb_manager *m, const char *plugin)
{
    hb_version_rec rec = {0};
    int r = hb_store_latest(m->store, plugin, &rec);
    char **prov = r == 0 ? providers_of(m, plugin, rec.imports) : NULL;
    bool relink = prov && !hb__strv_equal(prov, rec.depends);
    hb__strv_free(prov);
    hb_version_rec_release(&rec);
    return relink;
}

/* The stored `depends` of a plugin's latest version (for the cycle check:
 * versions/graph.c walks them). */
static char **latest_depends(void *ud, const char *name)
{
    hb_manager *m = ud;
    hb_version_rec rec = {0};
    int r = hb_store_latest(m->store, name, &rec);
    char **d = r == 0 ? rec.depends : NULL;
    rec.depends = NULL;
    hb_version_rec_release(&rec);
    return d;
}

void hb__announce_isolation(hb_manager *m)
{
    /* Say once which isolation the compiles get, and why. */
    pthread_mutex_lock(&m->lock);
    bool told = m->selection_told;
    m->selection_told = true;
    pthread_mutex_unlock(&m->lock);
    if (told)
        return;
    const char *sel = hb_compiler_selection(m->compiler);
    hb_isolation which = hb_compiler_selected(m->compiler);
    if (m->cc_origin) /* a cloned repository's config must not pick a compiler silently */
        hb__emit(m, NULL, HB_EVENT_WARNING, NULL, 0, 0, 0, NULL,
                 "the compiler \"%s\" is named by %s, not chosen by you (--cc or $CC): "
                 "hotbox runs it, under %s isolation, to build plugins",
                 m->cc, m->cc_origin, hb_compiler_backend_name(which));
    if (which == HB_ISOLATION_LOCAL)
        hb__emit(m, NULL, HB_EVENT_WARNING, NULL, 0, 0, 0, NULL,
                 "compiles run with NO isolation (local backend): %s", sel ? sel : "");
    else
        hb__emit(m, NULL, HB_EVENT_NOTICE, NULL, 0, 0, 0, NULL, "compiler isolation: %s",
                 sel ? sel : "");
}

/* Set on hb__build_parallel's helper threads: events must be raised on the
 * thread that made the API call (hotbox.h), so they are reported after the
 * join. */
static _Thread_local bool in_build_worker;

/* A compile that succeeded with warnings says so, structured, in one
 * HB_EVENT_WARNING (the build does not fail). */
static void report_warnings(hb_manager *m, const char *plugin, const hb_compile_result *res)
{
    size_t n = 0;
    for (size_t i = 0; i < res->ndiags; i++)
        n += strcmp(res->diags[i].severity, "warning") == 0;
    if (!n)
        return;
    hb_diagnostic *v = calloc(n, sizeof(*v));
    hb_sb text = HB_SB_INIT;
    if (!v)
        return;
    size_t k = 0;
    for (size_t i = 0; i < res->ndiags; i++) {
        const hb_diag *d = &res->diags[i];
        if (strcmp(d->severity, "warning") != 0)
            continue;
        v[k++] = (hb_diagnostic){d->file, d->line, d->column, d->severity, d->message};
        hb__sb_addf(&text, "\n%s:%u:%u: warning: %s", d->file, d->line, d->column, d->message);
    }
    hb__emit_diags(m, HB_EVENT_WARNING, plugin, v, n, "%s: compiled with %zu warning%s%s",
                   plugin, n, n == 1 ? "" : "s", text.buf ? text.buf : "");
    hb__sb_release(&text);
    free(v);
}

/* A stored object that does not match its checksum was altered or damaged
 * after it was stored: never silent. The audit log gets a security record
 * at once (hb_audit is thread-safe); the warning event only when `emit`
 * (parallel pre-builds run on internal threads, which never call the
 * user's callback: they hand the text back instead). */
static char *report_mismatch(hb_manager *m, const hb_version_rec *rec, const char *why,
                             const char *then, bool emit)
{
    char *msg = hb__asprintf("stored object of %s v%llu does not match its checksum (altered or "
                             "damaged on disk): %s; %s",
                             rec->plugin, (unsigned long long)rec->version, why ? why : "", then);
    if (m->audit)
        hb_audit_log(m->audit, "object-mismatch", rec->plugin, rec->version,
                     rec->object_sha256, NULL, HB_ECORRUPT, msg ? msg : "", true);
    if (emit && msg)
        hb__emit(m, NULL, HB_EVENT_WARNING, rec->plugin, rec->version, 0, HB_ECORRUPT, NULL,
                 "%s", msg);
    return msg;
}

/* Checksum and ELF check of a stored object, without reporting. */
static int verify_object_quiet(hb_manager *m, const hb_version_rec *rec, char **err)
{
    int r = hb_store_object_verify(m->store, rec, err);
    char *path = hb_store_object_path(m->store, rec->object_sha256);
    if (r < 0) {
        free(path);
        return r == -ENOENT ? HB_ECORRUPT : r;
    }
    /* Analysed once per object: at its build, or at its first load. */
    if (hb_store_object_analysed(m->store, rec->object_sha256)) {
        free(path);
        return 0;
    }
    hb_elf_info info;
    char *eerr = NULL;
    r = path ? hb_elf_analyze_file(path, &info, &eerr) : -ENOMEM;
    if (r < 0) {
        hb__seterr(err, r, "%s v%llu: %s", rec->plugin, (unsigned long long)rec->version,
                   eerr ? eerr : hb_strerror(r));
        free(eerr);
        free(path);
        return r;
    }
    hb_elf_info_release(&info);
    free(path);
    hb_store_object_set_analysed(m->store, rec->object_sha256);
    return 0;
}

int hb__verify_object(hb_manager *m, const hb_version_rec *rec, char **err)
{
    int r = verify_object_quiet(m, rec, err);
    if (r == HB_ECORRUPT)
        free(report_mismatch(m, rec, err ? *err : NULL, "that version is not loaded", true));
    return r;
}

/* hb__build; `warned` (NULL: emit the event now) receives the warning
 * about an altered cached object instead; use_memo: hb__build_ex's. */
static int build_one(hb_manager *m, const char *dir, const char *plugin, bool use_cache,
                     bool use_memo, hb_build_out *out, char **err, char **warned)
{
    memset(out, 0, sizeof(*out));
    uint64_t t0 = hb__now_ns();
    hb__et_mark(HB_ET_BUILD);
    /* Before the cache lookup: that already runs the compiler (its
     * identity probe, isolated like a compile). */
    hb__announce_isolation(m);

    hb_version_rec hit = {0};
    char **relink_to = NULL; /* the providers a rejected cache hit should have had */
    if (use_cache && ((use_memo && hb__build_memo_get(m, dir, plugin, &hit) == 0) ||
                      cache_lookup(m, dir, plugin, &hit) == 0)) {
        /* A cached object is only reusable if its providers are still the
         * plugins that export what it imports (a provider may have appeared
         * since): otherwise it must be linked again, against those. */
        char **prov = providers_of(m, plugin, hit.imports);
        if (!prov || !hb__strv_equal(prov, hit.depends)) {
            hb_version_rec_release(&hit);
            memset(&hit, 0, sizeof(hit));
            hit.version = 0;
            relink_to = prov;
            prov = NULL;
        }
        hb__strv_free(prov);
    }
    if (hit.version) {
        uint64_t tv = hb__now_ns();
        int r = verify_object_quiet(m, &hit, err);
        if (r == HB_ECORRUPT) {
            char *w = report_mismatch(m, &hit, *err, "it is rebuilt from source", !warned);
            if (warned && !*warned)
                *warned = w;
            else
                free(w);
        }
        if (r == 0) {
            hb__strv_free(relink_to);
            out->rec = hit;
            out->cache_hit = true;
            out->t.verify_ms = hb__ms_since(tv);
            out->t.total_ms = hb__ms_since(t0);
            return 0;
        }
        /* A corrupt cached object (reported above): rebuild rather than fail. */
        hb_version_rec_release(&hit);
        free(*err);
        *err = NULL;
    }

    hb__et_mark(HB_ET_LOOKUP);
    char *job = NULL;
    int r = hb__mkdtemp_in(m->tmp_dir, "job-", &job);
    if (r < 0) {
        hb__strv_free(relink_to);
        return hb__seterr(err, r, "cannot create a job directory in %s: %s", m->tmp_dir,
                          strerror(-r));
    }
    hb_compile_request req = make_request(m, dir, job);
    char **siblings = sibling_dirs(m, dir);
    req.source_dirs = siblings;
    char *soname = hb__asprintf("hotbox-plugin-%s.so", plugin);
    char **dep_names = NULL, **needed = NULL; /* the plugins it links against */
    {
        /* Start from the providers the previous version had; recompile
         * below if the imports say otherwise. */
        hb_version_rec prev = {0};
        int pr = hb_store_latest(m->store, plugin, &prev);
        dep_names = relink_to ? relink_to : hb__strv_dup(pr == 0 ? prev.depends : NULL);
        relink_to = NULL;
        hb_version_rec_release(&prev);
    }
    needed = dep_names ? sonames_of(dep_names) : NULL;
    if (!soname || !needed || !siblings) {
        r = hb__seterr(err, -ENOMEM, "out of memory");
        goto out_rm;
    }
    req.soname = soname;
    req.needed = needed;
    char *cerr = NULL;
    uint64_t tc = hb__now_ns();
relink:
    hb__announce_isolation(m);
    r = hb_compiler_run_ctx(m->compiler, &req, &out->cres, &cerr);
    out->t.compile_ms = hb__ms_since(tc);
    hb__et_mark(HB_ET_COMPILED);
    hb_metrics_add(m->metrics, HB_CTR_COMPILES, 1);
    hb_metrics_observe(m->metrics, HB_HIST_COMPILE, hb__now_ns() - tc);
    if (r < 0)
        hb_metrics_add(m->metrics, HB_CTR_COMPILE_FAILURES, 1);
    if (r == HB_ECOMPILE && !out->cres.diagnostics && cerr) {
        /* Failed before compiling (the compiler's identity probe). */
        hb__seterr(err, r, "%s: compile failed: %s", plugin, cerr);
        goto out_rm;
    }
    if (r == HB_ECOMPILE) {
        hb__seterr(err, r, "%s: compile failed (%s exited with status %d)\n%s", plugin, m->cc,
                   out->cres.exit_status, out->cres.diagnostics ? out->cres.diagnostics : "");
        goto out_rm;
    }
    if (r == HB_EHUNG) {
        hb__seterr(err, r,
                   "%s: the compiler ran longer than %u ms and was killed (a longer limit: "
                   "hb_manager_options.compile_timeout_ms, hotbox --compile-timeout)\n%s",
                   plugin, req.timeout_ms, out->cres.diagnostics ? out->cres.diagnostics : "");
        goto out_rm;
    }
    if (r == HB_ECHANGED) {
        /* Nothing is stored: the next change event (or build) compiles the
         * settled content. */
        hb__seterr(err, r, "%s: not built: %s", plugin, cerr ? cerr : hb_strerror(r));
        goto out_rm;
    }
    if (r < 0) {
        hb__seterr(err, r, "%s: %s", plugin, cerr ? cerr : hb_strerror(r));
        goto out_rm;
    }

    uint64_t tv = hb__now_ns();
    hb_elf_info info;
    char *eerr = NULL;
    r = hb_elf_analyze_file(out->cres.object_path, &info, &eerr);
    if (r < 0) {
        hb__seterr(err, r, "%s: the compiled object is not a loadable plugin: %s", plugin,
                   eerr ? eerr : hb_strerror(r));
        free(eerr);
        goto out_rm;
    }
    {
        char **prov = providers_of(m, plugin, info.imports);
        if (prov && !hb__strv_equal(prov, dep_names)) {
            /* The providers changed: link again with the right DT_NEEDED. */
            hb__strv_free(dep_names);
            dep_names = prov;
            hb__strv_free(needed);
            needed = sonames_of(dep_names);
            req.needed = needed;
            hb_elf_info_release(&info);
            hb_compile_result_release(&out->cres);
            memset(&out->cres, 0, sizeof(out->cres));
            if (!needed || hb__rm_rf(job) < 0 || hb__mkdir_p(job, 0755) < 0) {
                r = hb__seterr(err, -ENOMEM, "cannot prepare the relink of %s", plugin);
                goto out_rm;
            }
            goto relink;
        }
        hb__strv_free(prov);
        for (size_t i = 0; dep_names && dep_names[i]; i++) {
            hb_sb cyc = HB_SB_INIT;
            hb__sb_addf(&cyc, "%s -> ", plugin);
            if (hb_graph_reaches(dep_names[i], plugin, latest_depends, m, &cyc)) {
                r = hb__seterr(err, HB_ECYCLE, "%s: dependency cycle between plugins: %s", plugin,
                               cyc.buf);
                hb__sb_release(&cyc);
                hb_elf_info_release(&info);
                goto out_rm;
            }
            hb__sb_release(&cyc);
        }
    }
    if (!in_build_worker) /* else the caller's thread reports them after the join */
        report_warnings(m, plugin, &out->cres);
    /* The lists are borrowed: meta is not released. */
    hb_version_rec meta = {0};
    memcpy(meta.input_hash, out->cres.input_hash, HB_SHA256_HEX);
    meta.inputs = out->cres.inputs;
    meta.exports = info.exports;
    meta.imports = info.imports;
    meta.needed = info.needed;
    meta.depends = dep_names;
    out->t.verify_ms = hb__ms_since(tv);
    hb__et_mark(HB_ET_VERIFIED);

    char *serr = NULL;
    uint64_t ts = hb__now_ns();
    r = hb_store_add(m->store, plugin, out->cres.object_path, &meta, &out->rec, &out->created,
                     &serr);
    out->t.store_ms = hb__ms_since(ts);
    hb__et_mark(HB_ET_STORED);
    hb_elf_info_release(&info);
    if (r == 0) /* the bytes just analysed are the stored object's */
        hb_store_object_set_analysed(m->store, out->rec.object_sha256);
    if (r < 0) {
        hb__seterr(err, r, "%s: cannot store the new version: %s", plugin,
                   serr ? serr : hb_strerror(r));
        free(serr);
        goto out_rm;
    }
    if (m->gcda_dir)
        hb__coverage_keep_notes(m, job, out->cres.inputs);
out_rm:
    hb__strv_free(siblings);
    free(soname);
    hb__strv_free(dep_names);
    hb__strv_free(needed);
    free(cerr);
    out->job = job; /* removed by hb__build_out_release: after the caller's event */
    out->t.total_ms = hb__ms_since(t0);
    hb__et_mark(HB_ET_BUILT);
    return r;
}

int hb__build_ex(hb_manager *m, const char *dir, const char *plugin, bool use_cache,
                 hb_build_out *out, char **err)
{
    return build_one(m, dir, plugin, use_cache, use_cache, out, err, NULL);
}

int hb__build(hb_manager *m, const char *dir, const char *plugin, hb_build_out *out, char **err)
{
    return build_one(m, dir, plugin, true, false, out, err, NULL);
}

/* ---- parallel builds ------------------------------------------------------- */

typedef struct par_builds {
    hb_manager *m;
    char *const *dirs, *const *names;
    size_t n, next;
    pthread_mutex_t lock;
    char **warnings;             /* [n]: what the calling thread reports after the join */
    hb_compile_result *compiled; /* [n]: each successful compile's result */
} par_builds;

static void *build_worker(void *arg)
{
    par_builds *p = arg;
    bool was = in_build_worker;
    in_build_worker = true;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        size_t i = p->next++;
        pthread_mutex_unlock(&p->lock);
        if (i >= p->n)
            break;
        hb_build_out b;
        char *err = NULL;
        if (build_one(p->m, p->dirs[i], p->names[i], true, false, &b, &err,
                      p->warnings ? &p->warnings[i] : NULL) == 0 &&
            !b.cache_hit && p->compiled) {
            p->compiled[i] = b.cres;
            memset(&b.cres, 0, sizeof(b.cres));
        }
        hb__build_out_release(&b);
        free(err);
    }
    in_build_worker = was;
    return NULL;
}

void hb__build_parallel(hb_manager *m, char *const *dirs, char *const *names, size_t n)
{
    if (!n)
        return;
    hb__announce_isolation(m); /* from this thread, before the workers */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nthreads = cores > 0 ? (size_t)cores : 1;
    if (nthreads > n)
        nthreads = n;
    if (nthreads > 8)
        nthreads = 8;
    par_builds p = {m, dirs, names, n, 0, PTHREAD_MUTEX_INITIALIZER, calloc(n, sizeof(char *)),
                    calloc(n, sizeof(hb_compile_result))};
    pthread_t tids[8];
    size_t started = 0;
    for (size_t t = 1; t < nthreads; t++)
        if (pthread_create(&tids[started], NULL, build_worker, &p) == 0)
            started++;
    build_worker(&p); /* this thread builds too */
    for (size_t t = 0; t < started; t++)
        pthread_join(tids[t], NULL);
    for (size_t i = 0; p.warnings && i < n; i++) {
        if (p.warnings[i])
            hb__emit(m, NULL, HB_EVENT_WARNING, names[i], 0, 0, HB_ECORRUPT, NULL, "%s",
                     p.warnings[i]);
        free(p.warnings[i]);
    }
    free(p.warnings);
    for (size_t i = 0; p.compiled && i < n; i++) {
        report_warnings(m, names[i], &p.compiled[i]);
        hb_compile_result_release(&p.compiled[i]);
    }
    free(p.compiled);
}
