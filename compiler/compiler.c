/*
 * compiler/compiler.c - hb_compiler_run and friends: list sources, choose a
 * backend, build the command line, run it, parse diagnostics and the
 * depfile, and hash every input for the compile cache.
 *
 * One source compiles in a single command:
 *   cc [diag flags] [cflags] -shared -fPIC -I<inc> -MD -MF <job>/plugin.d
 *      -o <job>/plugin.so <source>
 * Several sources compile one command per source (-c, each with its own
 * depfile) and then link: GCC and Clang write a single -MF file per
 * translation unit, so with several sources in one command each overwrites
 * the previous one and the headers of all but the last source would be
 * missing from the inputs (checked with GCC 12 and Clang 14).
 *
 * The input hash frames, in order: a format tag, the compiler identity
 * (resolved binary path and first line of `cc --version`), the canonical
 * flags "words-of-cc... cflags... -shared -fPIC -I<inc> -MD sources..." and
 * then every input (sorted) as its path and the SHA-256 of its content.
 * Output and depfile paths are not hashed, so the job directory does not
 * matter; nor does it reach the object: the compiler runs in the job
 * directory with it mapped to "." (-ffile-prefix-map), so the same inputs
 * give the same bytes. The compiler always runs with LC_ALL=C so its
 * messages parse.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "diag.h"
#include "inputs.h"
#include "settings.h"

#define DEFAULT_TIMEOUT_MS 60000u
#define DEFAULT_MAX_OUTPUT (256ull << 20)
#define DEFAULT_MAX_MEMORY (2ull << 30)
#define MAX_SOURCES 4096
#define MAX_DEPFILE (16u << 20)

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
        return hb__cerr(why, HB_EISOLATION, "%s backend is not built into this hotbox",
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
        return hb__cerr(err, HB_EISOLATION, "isolation backend %s is not built into this hotbox",
                        hb_compiler_backend_name(which));
    char *why = NULL;
    /* A stateful backend checks with the context's settings (kernel dir...). */
    int r = b->vm && vm ? b->vm->check(vm, &why) : b->probe(&why);
    if (r < 0) {
        r = hb__cerr(err, HB_EISOLATION, "isolation backend %s is unavailable: %s", b->name,
                     why ? why : "probe failed");
        free(why);
        return r;
    }
    *out = b;
    return 0;
}

/* ---- environment -------------------------------------------------------- */

/* The compiler's whole environment, documented in compiler.h: nothing of
 * the manager's leaks in (tokens, cloud keys, CPATH/C_INCLUDE_PATH that would
 * change the compile behind the input hash's back) except PATH, which the
 * driver needs to find as and ld. tmp is the job directory (NULL for probes:
 * /tmp). One malloc'ed block: free the array only. */
static char **compiler_env(const char *tmp)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    if (!tmp)
        tmp = "/tmp";
    char *vals[5];
    vals[0] = hb__asprintf("PATH=%s", path);
    vals[1] = hb__asprintf("TMPDIR=%s", tmp);
    vals[2] = hb__asprintf("HOME=%s", tmp);
    vals[3] = "LC_ALL=C";
    vals[4] = "LANG=C";
    size_t size = sizeof(char *) * 6;
    for (size_t i = 0; i < 5; i++)
        size += vals[i] ? strlen(vals[i]) + 1 : 0;
    char **e = vals[0] && vals[1] && vals[2] ? malloc(size) : NULL;
    if (e) {
        char *p = (char *)(e + 6);
        for (size_t i = 0; i < 5; i++) {
            e[i] = p;
            p = stpcpy(p, vals[i]) + 1;
        }
        e[5] = NULL;
    }
    for (size_t i = 0; i < 3; i++)
        free(vals[i]);
    return e;
}

/* ---- compiler identity, cached per process per cc string ---------------- */

typedef struct cc_info {
    char *cc;         /* the request's cc string, the cache key with backend */
    const char *backend; /* where it was probed (static backend name) */
    char **words;     /* cc split on blanks; words[0] resolved to a path */
    char *real;       /* realpath of words[0] */
    char *version;    /* first line of `cc --version` */
    bool json;        /* accepts -fdiagnostics-format=json (GCC >= 10) */
    struct cc_info *next;
} cc_info;

static pthread_mutex_t cc_lock = PTHREAD_MUTEX_INITIALIZER;
static cc_info *cc_cache;

static void cc_info_free(cc_info *ci)
{
    if (!ci)
        return;
    free(ci->cc);
    hb__strv_free(ci->words);
    free(ci->real);
    free(ci->version);
    free(ci);
}

/* Where identity probes run: the compile's own backend and directories, so
 * that a compiler named by a cloned repository's config never runs bare on
 * the host (unless the isolation is local). */
typedef struct probe_env {
    const hb__backend *be;
    hb__vm_state *vm;                /* microvm pool, else NULL */
    const hb_compile_request *req;   /* the directories the backend shows */
} probe_env;

static char **compiler_dirs(const cc_info *ci);

/* Runs words + extra (a short query, not a compile) under pe's backend, in a
 * fresh directory inside the request's job directory. */
static int run_query(const cc_info *ci, const probe_env *pe, const char *const *extra,
                     hb__run_outcome *out)
{
    char *const *words = ci->words;
    size_t nw = hb__strv_len(words), ne = 0;
    while (extra[ne])
        ne++;
    char *dir = NULL;
    char **argv = calloc(nw + ne + 1, sizeof(*argv));
    char **env = NULL, **ro = compiler_dirs(ci);
    int r = -ENOMEM;
    if (!argv || !ro)
        goto out;
    const char *tmp = getenv("TMPDIR");
    /* The probe directory is made inside the job directory, which must then
     * be searchable by the jail's host uid (a root manager's isolated run
     * drops root only where that uid can reach: namespace.c); the job
     * directory becomes that uid's for the compile anyway. */
    if (pe->req->job_dir && geteuid() == 0)
        (void)chmod(pe->req->job_dir, 0711);
    if ((!pe->req->job_dir || hb__mkdtemp_in(pe->req->job_dir, "probe-", &dir) < 0) &&
        (r = hb__mkdtemp_in(tmp && *tmp == '/' ? tmp : "/tmp", "hotbox-probe-", &dir)) < 0)
        goto out;
    r = -ENOMEM;
    if (!(env = compiler_env(dir)))
        goto out;
    for (size_t i = 0; i < nw; i++)
        argv[i] = words[i];
    for (size_t i = 0; i < ne; i++)
        argv[nw + i] = (char *)extra[i];
    hb_compile_request preq = *pe->req;
    preq.job_dir = dir;
    hb__run_ctx ctx = {
        .req = &preq,
        .envp = env,
        .deadline_ns = hb__now_ns() + 20ull * 1000000000ull,
        .timeout_ms = 20000,
        .max_output_bytes = 1u << 20,
        .max_memory_bytes = DEFAULT_MAX_MEMORY,
        .extra_ro_dirs = ro,
        .state = pe->vm,
    };
    r = pe->be->run(&ctx, argv, out, NULL);
    if (r == 0 && out->timed_out)
        r = -ETIMEDOUT;
out:
    if (dir)
        (void)hb__rm_rf(dir);
    free(dir);
    free(argv);
    free(env);
    hb__strv_free(ro);
    return r;
}

/* GCC prints "[]" for a translation unit without diagnostics. */
static bool is_empty_json_output(const char *s)
{
    s += strspn(s, " \t\r\n");
    if (!strncmp(s, "[]", 2))
        s += 2;
    s += strspn(s, " \t\r\n");
    return *s == 0;
}

static int cc_info_probe(const char *cc, const probe_env *pe, cc_info **out, char **err)
{
    cc_info *ci = calloc(1, sizeof(*ci));
    hb__run_outcome o1 = {0}, o2 = {0};
    char *resolved = NULL;
    int r = -ENOMEM;
    if (!ci || !(ci->cc = strdup(cc)) || !(ci->words = hb__split_blank(cc)))
        goto fail;
    ci->backend = pe->be->name;
    if (!ci->words[0]) {
        r = hb__cerr(err, -EINVAL, "empty compiler command");
        goto fail;
    }
    r = hb__find_program(ci->words[0], &resolved);
    if (r < 0) {
        r = hb__cerr(err, r, "compiler %s not found on $PATH", ci->words[0]);
        goto fail;
    }
    free(ci->words[0]);
    ci->words[0] = resolved;
    if (hb__realpath(resolved, &ci->real) < 0 && !(ci->real = strdup(resolved))) {
        r = -ENOMEM;
        goto fail;
    }

    static const char *const ver[] = {"--version", NULL};
    r = run_query(ci, pe, ver, &o1);
    if (r < 0 || !WIFEXITED(o1.wait_status) || WEXITSTATUS(o1.wait_status) != 0) {
        /* It ran and failed: a compile problem the user fixes (HB_ECOMPILE). */
        r = hb__cerr(err, r < 0 ? r : HB_ECOMPILE, "%s --version failed%s%.2000s", cc,
                     o1.output.len ? ": " : "", o1.output.buf ? o1.output.buf : "");
        goto fail;
    }
    size_t l = strcspn(o1.output.buf, "\n");
    if (!(ci->version = strndup(o1.output.buf, l))) {
        r = -ENOMEM;
        goto fail;
    }
    /* GCC 9 has a different JSON shape and Clang rejects the value; only
     * trust a compiler that accepts the flag silently and is not clang. */
    static const char *const jq[] = {"-fdiagnostics-format=json", "-fsyntax-only", "-x", "c",
                                     "/dev/null", NULL};
    if (!strstr(ci->version, "clang") && run_query(ci, pe, jq, &o2) == 0 &&
        WIFEXITED(o2.wait_status) && WEXITSTATUS(o2.wait_status) == 0 &&
        is_empty_json_output(o2.output.buf ? o2.output.buf : ""))
        ci->json = true;
    hb__sb_release(&o1.output);
    hb__sb_release(&o2.output);
    *out = ci;
    return 0;
fail:
    hb__sb_release(&o1.output);
    hb__sb_release(&o2.output);
    cc_info_free(ci);
    return r;
}

/* Entries are never freed: the cache lives as long as the process, and a
 * pointer handed out stays valid. */
static int get_cc_info(const char *cc, const probe_env *pe, const cc_info **out, char **err)
{
    pthread_mutex_lock(&cc_lock);
    for (cc_info *c = cc_cache; c; c = c->next) {
        if (!strcmp(c->cc, cc) && !strcmp(c->backend, pe->be->name)) {
            pthread_mutex_unlock(&cc_lock);
            *out = c;
            return 0;
        }
    }
    pthread_mutex_unlock(&cc_lock);
    /* Probe without the lock (it runs processes); a racing duplicate is
     * harmless, the first one inserted wins. */
    cc_info *ci = NULL;
    int r = cc_info_probe(cc, pe, &ci, err);
    if (r < 0)
        return r;
    pthread_mutex_lock(&cc_lock);
    for (cc_info *c = cc_cache; c; c = c->next) {
        if (!strcmp(c->cc, cc) && !strcmp(c->backend, pe->be->name)) {
            pthread_mutex_unlock(&cc_lock);
            cc_info_free(ci);
            *out = c;
            return 0;
        }
    }
    ci->next = cc_cache;
    cc_cache = ci;
    pthread_mutex_unlock(&cc_lock);
    *out = ci;
    return 0;
}

/* ---- sources ------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

bool hb_compiler_is_source(const char *name)
{
    return name[0] != '.' && strlen(name) >= 3 &&
           (hb__has_suffix(name, ".c") || hb__is_cxx_source(name));
}

int hb_compiler_list_sources(const char *plugin_dir, char ***out)
{
    if (!plugin_dir || !out)
        return -EINVAL;
    DIR *d = opendir(plugin_dir);
    if (!d)
        return -errno;
    char **v = NULL;
    size_t n = 0, cap = 0;
    int r = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d))) {
        if (!hb_compiler_is_source(de->d_name))
            continue;
        char *p = hb__path_join(plugin_dir, de->d_name);
        struct stat st;
        if (!p) {
            r = -ENOMEM;
            goto fail;
        }
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(p);
            continue;
        }
        if (n + 2 > cap) {
            if (n >= MAX_SOURCES) {
                free(p);
                r = -E2BIG;
                goto fail;
            }
            size_t nc = cap ? 2 * cap : 16;
            char **nv = realloc(v, nc * sizeof(*nv));
            if (!nv) {
                free(p);
                r = -ENOMEM;
                goto fail;
            }
            v = nv;
            cap = nc;
        }
        v[n++] = p;
        v[n] = NULL;
    }
    if (!v && !(v = calloc(1, sizeof(*v)))) {
        r = -ENOMEM;
        goto fail;
    }
    closedir(d);
    qsort(v, n, sizeof(*v), cmp_str);
    *out = v;
    return 0;
fail:
    closedir(d);
    hb__strv_free(v);
    return r;
}

/* ---- argv ------------------------------------------------------------------ */

typedef struct strv {
    char **v;
    size_t n, cap;
    bool failed;
} strv;

static void sv_add(strv *s, const char *str)
{
    if (s->failed)
        return;
    if (s->n + 2 > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 32;
        char **nv = realloc(s->v, cap * sizeof(*nv));
        if (!nv) {
            s->failed = true;
            return;
        }
        s->v = nv;
        s->cap = cap;
    }
    if (!(s->v[s->n] = strdup(str))) {
        s->failed = true;
        return;
    }
    s->v[++s->n] = NULL;
}

static void sv_addf_I(strv *s, const char *inc)
{
    char *x = hb__asprintf("-I%s", inc);
    if (!x) {
        s->failed = true;
        return;
    }
    sv_add(s, x);
    free(x);
}

static void sv_add_all(strv *s, char *const *v)
{
    for (; v && *v; v++)
        sv_add(s, *v);
}

static void sv_addf_soname(strv *s, const char *soname)
{
    char *f = hb__asprintf("-Wl,-soname,%s", soname);
    sv_add(s, f ? f : "");
    if (!f)
        s->failed = true;
    free(f);
}

/* The link-time arguments for SONAME and DT_NEEDED (see hb_compile_request):
 * the name-only libraries live in <job>/deps, named by their SONAMEs. */
static void add_link_names(strv *s, const hb_compile_request *req)
{
    if (req->soname)
        sv_addf_soname(s, req->soname);
    if (!req->needed || !req->needed[0])
        return;
    sv_add(s, "-Wl,--no-as-needed");
    for (char *const *n = req->needed; *n; n++) {
        char *namelib = hb__asprintf("%s/deps/%s", req->job_dir, *n);
        sv_add(s, namelib ? namelib : "");
        if (!namelib)
            s->failed = true;
        free(namelib);
    }
}

/* ---- per-plugin settings and the source language --------------------------
 *
 * plugin.json (compiler/settings.c) adds flags after the manager's and
 * before the sources, and libraries after the objects; C++ sources (or every
 * source, with "lang": "c++") compile with the C++ driver derived from cc,
 * which then also links. */

typedef struct build_cfg {
    hb__settings set;
    const cc_info *cxx; /* the C++ driver; NULL when nothing is C++ */
    bool all_cxx;       /* "lang": "c++": .c sources compile as C++ too */
    char **text_flags;  /* req->flags_text split (when req->cflags is NULL) */
} build_cfg;

static bool src_is_cxx(const build_cfg *bc, const char *src)
{
    return bc->all_cxx || hb__is_cxx_source(src);
}

static const cc_info *driver_for(const build_cfg *bc, const cc_info *ci, const char *src)
{
    return src_is_cxx(bc, src) ? bc->cxx : ci;
}

static char *const *settings_flags_for(const build_cfg *bc, const char *src)
{
    return src_is_cxx(bc, src) ? bc->set.compile_cxx : bc->set.compile_c;
}

/* The C++ driver that goes with cc: the first word named cc, gcc or clang
 * (with any prefix and version suffix) becomes c++, g++ or clang++. NULL
 * when no word is one of those. */
static char *cxx_command(const char *cc)
{
    char **w = hb__split_blank(cc);
    hb_sb sb = HB_SB_INIT;
    bool found = false;
    for (size_t i = 0; w && w[i]; i++) {
        const char *base = strrchr(w[i], '/') ? strrchr(w[i], '/') + 1 : w[i];
        size_t dir = (size_t)(base - w[i]);
        const char *g = strstr(base, "gcc"), *c = strstr(base, "clang");
        hb__sb_adds(&sb, i ? " " : "");
        if (found) {
            hb__sb_adds(&sb, w[i]);
        } else if (!strcmp(base, "cc")) {
            hb__sb_addf(&sb, "%.*sc++", (int)dir, w[i]);
            found = true;
        } else if (c && strncmp(c, "clang++", 7)) {
            hb__sb_addf(&sb, "%.*sclang++%s", (int)(c - w[i]), w[i], c + 5);
            found = true;
        } else if (g) {
            hb__sb_addf(&sb, "%.*sg++%s", (int)(g - w[i]), w[i], g + 3);
            found = true;
        } else {
            hb__sb_adds(&sb, w[i]);
        }
    }
    hb__strv_free(w);
    char *r = found ? hb__sb_detach(&sb) : NULL;
    hb__sb_release(&sb);
    return r;
}

static void build_cfg_release(build_cfg *bc)
{
    hb__settings_release(&bc->set);
    hb__strv_free(bc->text_flags);
    memset(bc, 0, sizeof(*bc));
}

/* Reads plugin.json and decides the language. A bad plugin.json, or one
 * that contradicts the sources, is the user's to fix: HB_ECOMPILE. */
static int load_build_cfg(const hb_compile_request *req, const probe_env *pe,
                          char *const *sources, build_cfg *bc, char **err)
{
    memset(bc, 0, sizeof(*bc));
    int r;
    if (!req->cflags && req->flags_text &&
        (r = hb__flags_split(req->flags_text, "--cflags", &bc->text_flags, err)) < 0)
        return r == -ENOMEM ? r : HB_ECOMPILE;
    if ((r = hb__settings_load(req->plugin_dir, &bc->set, err)) < 0) {
        build_cfg_release(bc);
        return r == -ENOMEM ? r : HB_ECOMPILE;
    }
    bool any_cxx = false;
    for (char *const *s = sources; *s; s++) {
        if (hb__is_cxx_source(*s) && bc->set.lang == HB__LANG_C) {
            r = hb__cerr(err, HB_ECOMPILE, "%s: key \"lang\" is \"c\" but %s is a C++ source",
                         bc->set.path, *s);
            goto fail;
        }
        any_cxx |= hb__is_cxx_source(*s);
    }
    bc->all_cxx = bc->set.lang == HB__LANG_CXX;
    if (!any_cxx && !bc->all_cxx)
        return 0;
    char *cxx = cxx_command(req->cc);
    if (!cxx) {
        r = hb__cerr(err, HB_ECOMPILE, "%s holds C++ sources, but hotbox cannot tell the C++ "
                                       "compiler that goes with cc \"%s\" (it knows cc, gcc and "
                                       "clang); choose one of those with --cc",
                     req->plugin_dir, req->cc);
        goto fail;
    }
    r = get_cc_info(cxx, pe, &bc->cxx, err);
    free(cxx);
    if (r < 0)
        goto fail;
    return 0;
fail:
    build_cfg_release(bc);
    return r;
}

/* Adds the settings file to a compile's sorted inputs. */
static int add_settings_input(char ***inputs, const char *path)
{
    for (char **i = *inputs; *i; i++)
        if (!strcmp(*i, path))
            return 0;
    strv s = {0};
    sv_add_all(&s, *inputs);
    sv_add(&s, path);
    if (s.failed) {
        hb__strv_free(s.v);
        return -ENOMEM;
    }
    qsort(s.v, s.n, sizeof(*s.v), cmp_str);
    hb__strv_free(*inputs);
    *inputs = s.v;
    return 0;
}

/* A NULL-terminated copy of a and b one after the other (either may be
 * NULL), or NULL on ENOMEM. */
static char **strv_concat(char *const *a, char *const *b)
{
    strv s = {0};
    sv_add_all(&s, a);
    sv_add_all(&s, b);
    if (!s.v && !s.failed)
        s.v = calloc(1, sizeof(*s.v));
    if (s.failed) {
        hb__strv_free(s.v);
        return NULL;
    }
    return s.v;
}

/* What the input hash covers besides identity and inputs: the command line
 * minus output and depfile paths, in argv order. */
static int canonical_flags(const hb_compile_request *req, const cc_info *ci,
                           const build_cfg *bc, char *const *sources, char ***out)
{
    strv s = {0};
    for (size_t i = 1; ci->words[i]; i++)
        sv_add(&s, ci->words[i]);
    sv_add(&s, "hotbox-job-prefix-map"); /* stands for add_prefix_maps() */
    sv_add_all(&s, req->cflags);
    /* Only with a plugin.json or C++, so older cached versions still match. */
    if (bc->set.path || bc->cxx) {
        sv_add(&s, bc->all_cxx ? "hotbox-settings-all-c++" : "hotbox-settings-c");
        sv_add_all(&s, bc->set.compile_c);
        sv_add(&s, "hotbox-settings-c++");
        sv_add_all(&s, bc->set.compile_cxx);
        sv_add(&s, "hotbox-settings-link");
        sv_add_all(&s, bc->set.link);
    }
    if (bc->cxx) {
        sv_add(&s, "hotbox-cxx");
        sv_add_all(&s, bc->cxx->words);
        sv_add(&s, bc->cxx->real);
        sv_add(&s, bc->cxx->version);
    }
    sv_add(&s, "-shared");
    sv_add(&s, "-fPIC");
    if (req->include_dir)
        sv_addf_I(&s, req->include_dir);
    sv_add(&s, "-MD");
    sv_add_all(&s, sources);
    if (req->soname)
        sv_addf_soname(&s, req->soname);
    for (char *const *n = req->needed; n && *n; n++) {
        sv_add(&s, "hotbox-needed");
        sv_add(&s, *n);
    }
    if (s.failed || !s.v) {
        hb__strv_free(s.v);
        return -ENOMEM;
    }
    *out = s.v;
    return 0;
}

/* The job directory is random and the compiler's working directory: map it
 * to "." in everything the compiler writes into the object (DW_AT_comp_dir,
 * __FILE__ of job-relative paths), so identical inputs give identical bytes
 * in any job directory on every backend. Diagnostics are not affected:
 * they keep naming the real files. */
static void add_prefix_maps(strv *s, const hb_compile_request *req)
{
    char *f = hb__asprintf("-ffile-prefix-map=%s=.", req->job_dir);
    char *d = hb__asprintf("-fdebug-prefix-map=%s=.", req->job_dir);
    if (!f || !d)
        s->failed = true;
    sv_add(s, f ? f : "");
    sv_add(s, d ? d : "");
    free(f);
    free(d);
}

static void add_prefix(strv *s, const hb_compile_request *req, const cc_info *ci, bool json)
{
    sv_add_all(s, ci->words);
    sv_add(s, "-fdiagnostics-color=never");
    if (json)
        sv_add(s, "-fdiagnostics-format=json");
    add_prefix_maps(s, req);
    sv_add_all(s, req->cflags);
}

/* ---- hashing ----------------------------------------------------------------- */

static int hash_all(const cc_info *ci, char *const *flags, char *const *sorted_inputs,
                    const char (*file_hashes)[HB_SHA256_HEX], char out[HB_SHA256_HEX])
{
    hb_sha256 *h = hb__sha256_new();
    if (!h)
        return -ENOMEM;
    static const char tag[] = "hotbox-compile-v1";
    hb__sha256_update_framed(h, tag, sizeof(tag) - 1);
    hb__sha256_update_framed(h, ci->real, strlen(ci->real));
    hb__sha256_update_framed(h, ci->version, strlen(ci->version));
    size_t nf = hb__strv_len(flags);
    hb__sha256_update_framed(h, &nf, sizeof(nf));
    for (size_t i = 0; i < nf; i++)
        hb__sha256_update_framed(h, flags[i], strlen(flags[i]));
    size_t ni = hb__strv_len(sorted_inputs);
    hb__sha256_update_framed(h, &ni, sizeof(ni));
    for (size_t i = 0; i < ni; i++) {
        hb__sha256_update_framed(h, sorted_inputs[i], strlen(sorted_inputs[i]));
        hb__sha256_update_framed(h, file_hashes[i], HB_SHA256_HEX - 1);
    }
    hb__sha256_final(h, out);
    return 0;
}

static char **sorted_copy(char *const *v)
{
    size_t n = hb__strv_len(v);
    char **c = calloc(n + 1, sizeof(*c));
    if (!c)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!(c[i] = strdup(v[i]))) {
            hb__strv_free(c);
            return NULL;
        }
    }
    qsort(c, n, sizeof(*c), cmp_str);
    return c;
}

static int select_backend(hb_isolation which, hb__vm_state *vm, const hb__backend **out,
                          char **err);
static hb_isolation context_selection(hb_compiler *c, hb_isolation want);
static hb__vm_state *context_vm(hb_compiler *c);

static int input_hash_impl(hb_compiler *c, const hb_compile_request *req, char *const *inputs,
                           char out[HB_SHA256_HEX])
{
    if (!req || !req->plugin_dir || !req->cc || !inputs || !out)
        return -EINVAL;
    const cc_info *ci;
    char **sources = NULL, **flags = NULL, **sorted = NULL;
    build_cfg bc = {0};
    probe_env pe = {.vm = context_vm(c), .req = req};
    int r = select_backend(context_selection(c, req->isolation), pe.vm, &pe.be, NULL);
    if (r < 0)
        return r;
    if (pe.be->vm && !pe.vm)
        return HB_EISOLATION; /* microvm needs a context */
    r = get_cc_info(req->cc, &pe, &ci, NULL);
    if (r < 0)
        return r;
    if ((r = hb_compiler_list_sources(req->plugin_dir, &sources)) < 0)
        goto out;
    if (!sources[0]) {
        r = HB_ENOSOURCES;
        goto out;
    }
    if ((r = load_build_cfg(req, &pe, sources, &bc, NULL)) < 0)
        goto out;
    hb_compile_request rq = *req;
    if (bc.text_flags)
        rq.cflags = bc.text_flags;
    if ((r = canonical_flags(&rq, ci, &bc, sources, &flags)) < 0)
        goto out;
    if (!(sorted = sorted_copy(inputs))) {
        r = -ENOMEM;
        goto out;
    }
    char(*fh)[HB_SHA256_HEX] = NULL;
    if ((r = hb__hash_files(sorted, &fh, NULL)) < 0)
        goto out;
    r = hash_all(ci, flags, sorted, (const char(*)[HB_SHA256_HEX])fh, out);
    free(fh);
out:
    build_cfg_release(&bc);
    hb__strv_free(sources);
    hb__strv_free(flags);
    hb__strv_free(sorted);
    return r;
}

int hb_compiler_input_hash(const hb_compile_request *req, char *const *inputs,
                           char out[HB_SHA256_HEX])
{
    return input_hash_impl(NULL, req, inputs, out);
}

int hb_compiler_input_hash_ctx(hb_compiler *c, const hb_compile_request *req,
                               char *const *inputs, char out[HB_SHA256_HEX])
{
    if (!c)
        return -EINVAL;
    return input_hash_impl(c, req, inputs, out);
}

/* ---- depfiles -------------------------------------------------------------- */

/* Absolute path for a depfile entry: relative ones are relative to the job
 * directory (the compiler's working directory); entries with "." or ".."
 * components are resolved so the same file has one name. */
static char *absolute_input(const char *job_dir, const char *dep)
{
    char *p = dep[0] == '/' ? strdup(dep) : hb__path_join(job_dir, dep);
    if (!p)
        return NULL;
    if (strstr(p, "/./") || strstr(p, "/../") || hb__has_suffix(p, "/.") ||
        hb__has_suffix(p, "/..")) {
        char *rp;
        if (hb__realpath(p, &rp) == 0) {
            free(p);
            p = rp;
        }
    }
    return p;
}

static int collect_inputs(const char *job_dir, char *const *depfiles, char ***out, char **err)
{
    strv all = {0};
    int r = 0;
    for (size_t i = 0; depfiles[i]; i++) {
        void *data = NULL;
        size_t len = 0;
        char **deps = NULL;
        r = hb__read_file(depfiles[i], MAX_DEPFILE, &data, &len);
        if (r < 0) {
            r = hb__cerr(err, r, "reading depfile %s: %s", depfiles[i], strerror(-r));
            goto fail;
        }
        r = hb_compiler_parse_depfile(data, len, &deps);
        free(data);
        if (r < 0) {
            r = hb__cerr(err, r, "parsing depfile %s: %s", depfiles[i], strerror(-r));
            goto fail;
        }
        for (size_t k = 0; deps[k]; k++) {
            char *a = absolute_input(job_dir, deps[k]);
            if (a)
                sv_add(&all, a);
            else
                all.failed = true;
            free(a);
            if (all.failed)
                break;
        }
        hb__strv_free(deps);
        if (all.failed) {
            r = hb__cerr(err, -ENOMEM, "out of memory");
            goto fail;
        }
    }
    if (!all.v && !(all.v = calloc(1, sizeof(*all.v)))) {
        r = -ENOMEM;
        goto fail;
    }
    qsort(all.v, all.n, sizeof(*all.v), cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < all.n; i++) {
        if (k > 0 && !strcmp(all.v[k - 1], all.v[i])) {
            free(all.v[i]);
            continue;
        }
        all.v[k++] = all.v[i];
    }
    all.v[k] = NULL;
    *out = all.v;
    return 0;
fail:
    hb__strv_free(all.v);
    return r;
}

/* ---- run ---------------------------------------------------------------------- */

void hb_compile_result_release(hb_compile_result *res)
{
    if (!res)
        return;
    free(res->object_path);
    free(res->diagnostics);
    hb_diags_free(res->diags, res->ndiags);
    hb__strv_free(res->inputs);
    memset(res, 0, sizeof(*res));
}

/* Directories the sandbox must show for the compiler binary itself when it
 * lives outside /usr (a toolchain in /opt, a wrapper script in a temp dir). */
static char **compiler_dirs(const cc_info *ci)
{
    strv s = {0};
    const char *paths[] = {ci->words[0], ci->real};
    for (size_t i = 0; i < HB_ARRAY_SIZE(paths); i++) {
        if (!strncmp(paths[i], "/usr/", 5) || !strncmp(paths[i], "/etc/alternatives/", 18))
            continue;
        char *d = strdup(paths[i]);
        if (!d)
            goto fail;
        char *slash = strrchr(d, '/');
        if (slash && slash != d) {
            *slash = 0;
            sv_add(&s, d);
        }
        free(d);
    }
    if (!s.v)
        s.v = calloc(1, sizeof(*s.v));
    if (s.failed || !s.v)
        goto fail;
    return s.v;
fail:
    hb__strv_free(s.v);
    return NULL;
}

typedef struct plan {
    char ***steps;  /* NULL-terminated list of argv */
    char **depfiles;
    char *object;
} plan;

static void plan_free(plan *p)
{
    for (size_t i = 0; p->steps && p->steps[i]; i++)
        hb__strv_free(p->steps[i]);
    free(p->steps);
    hb__strv_free(p->depfiles);
    free(p->object);
}

static int make_plan(const hb_compile_request *req, const cc_info *ci, const build_cfg *bc,
                     bool json, char *const *sources, plan *p)
{
    size_t ns = hb__strv_len(sources);
    size_t nneeded = hb__strv_len(req->needed);
    size_t nsteps = nneeded + (ns == 1 ? 1 : ns + 1);
    strv deps = {0}, objs = {0};
    p->steps = calloc(nsteps + 1, sizeof(*p->steps));
    p->object = hb__path_join(req->job_dir, "plugin.so");
    if (!p->steps || !p->object)
        return -ENOMEM;
    /* Name-only libraries carrying only the providers' SONAMEs: linking against
     * them records DT_NEEDED entries, nothing else. */
    if (nneeded) {
        char *dd = hb__path_join(req->job_dir, "deps");
        if (!dd || (mkdir(dd, 0755) < 0 && errno != EEXIST)) {
            free(dd);
            return -ENOMEM;
        }
        free(dd);
    }
    for (size_t i = 0; i < nneeded; i++) {
        strv st = {0};
        add_prefix(&st, req, ci, false);
        sv_add(&st, "-shared");
        sv_add(&st, "-fPIC");
        sv_addf_soname(&st, req->needed[i]);
        sv_add(&st, "-o");
        char *namelib = hb__asprintf("%s/deps/%s", req->job_dir, req->needed[i]);
        sv_add(&st, namelib ? namelib : "");
        free(namelib);
        sv_add(&st, "-x");
        sv_add(&st, "c");
        sv_add(&st, "/dev/null");
        if (st.failed)
            return -ENOMEM;
        p->steps[i] = st.v;
    }
    char ***steps_base = p->steps;
    p->steps += nneeded; /* the compile steps follow the name-only libraries */
    if (ns == 1) {
        char *d = hb__path_join(req->job_dir, "plugin.d");
        strv s = {0};
        add_prefix(&s, req, driver_for(bc, ci, sources[0]), json);
        sv_add_all(&s, settings_flags_for(bc, sources[0]));
        sv_add(&s, "-shared");
        sv_add(&s, "-fPIC");
        if (req->include_dir)
            sv_addf_I(&s, req->include_dir);
        sv_add(&s, "-MD");
        sv_add(&s, "-MF");
        sv_add(&s, d ? d : "");
        sv_add(&s, "-o");
        sv_add(&s, p->object);
        sv_add(&s, sources[0]);
        add_link_names(&s, req);
        sv_add_all(&s, bc->set.link); /* after the objects: --as-needed keeps them */
        sv_add(&deps, d ? d : "");
        p->steps[0] = s.v;
        p->steps = steps_base;
        free(d);
        if (!d || s.failed || deps.failed)
            goto nomem;
        p->depfiles = deps.v;
        return 0;
    }
    for (size_t i = 0; i < ns; i++) {
        char *d = hb__asprintf("%s/src%zu.d", req->job_dir, i);
        char *o = hb__asprintf("%s/src%zu.o", req->job_dir, i);
        strv s = {0};
        add_prefix(&s, req, driver_for(bc, ci, sources[i]), json);
        sv_add_all(&s, settings_flags_for(bc, sources[i]));
        sv_add(&s, "-fPIC");
        if (req->include_dir)
            sv_addf_I(&s, req->include_dir);
        sv_add(&s, "-MD");
        sv_add(&s, "-MF");
        sv_add(&s, d ? d : "");
        sv_add(&s, "-c");
        sv_add(&s, "-o");
        sv_add(&s, o ? o : "");
        sv_add(&s, sources[i]);
        sv_add(&deps, d ? d : "");
        sv_add(&objs, o ? o : "");
        p->steps[i] = s.v;
        bool bad = !d || !o || s.failed;
        free(d);
        free(o);
        if (bad)
            goto nomem;
    }
    strv l = {0};
    add_prefix(&l, req, bc->cxx ? bc->cxx : ci, json);
    sv_add_all(&l, bc->cxx ? bc->set.compile_cxx : bc->set.compile_c);
    sv_add(&l, "-shared");
    sv_add(&l, "-fPIC");
    sv_add(&l, "-o");
    sv_add(&l, p->object);
    sv_add_all(&l, objs.v);
    add_link_names(&l, req);
    sv_add_all(&l, bc->set.link); /* after the objects: --as-needed keeps them */
    p->steps[ns] = l.v;
    p->steps = steps_base;
    if (l.failed || deps.failed || objs.failed)
        goto nomem;
    hb__strv_free(objs.v);
    p->depfiles = deps.v;
    return 0;
nomem:
    p->steps = steps_base;
    hb__strv_free(deps.v);
    hb__strv_free(objs.v);
    return -ENOMEM;
}

/* Adds one hotbox-made error to the result, as the compiler would print it. */
static int add_error_diag(hb_compile_result *res, const char *file, const char *msg)
{
    hb_diag *nd = realloc(res->diags, (res->ndiags + 1) * sizeof(*nd));
    if (!nd)
        return -ENOMEM;
    res->diags = nd;
    hb_diag *d = &nd[res->ndiags];
    memset(d, 0, sizeof(*d));
    d->file = strdup(file);
    d->severity = strdup("error");
    d->message = strdup(msg);
    char *text = hb__asprintf("%s%s: error: %s\n", res->diagnostics ? res->diagnostics : "",
                              file, msg);
    if (!d->file || !d->severity || !d->message || !text) {
        free(d->file);
        free(d->severity);
        free(d->message);
        free(text);
        return -ENOMEM;
    }
    res->ndiags++;
    free(res->diagnostics);
    res->diagnostics = text;
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
        return hb__cerr(err, -EINVAL, "hb_compiler_new: bad arguments or options version");
    hb_compiler *c = calloc(1, sizeof(*c));
    if (!c)
        return hb__cerr(err, -ENOMEM, "out of memory");
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

int hb_compiler_warm(hb_compiler *c, char **err)
{
    if (!c)
        return hb__cerr(err, -EINVAL, "hb_compiler_warm: NULL context");
    if (hb_compiler_selected(c) != HB_ISOLATION_MICROVM)
        return 0;
    if (!c->vm)
        return hb__cerr(err, HB_EISOLATION, "microvm backend is not built into this hotbox");
    return c->mv->vm->start(c->vm, err);
}

int hb_compiler_wait_warm(hb_compiler *c, unsigned timeout_ms, char **err)
{
    if (!c)
        return hb__cerr(err, -EINVAL, "hb_compiler_wait_warm: NULL context");
    if (hb_compiler_selected(c) != HB_ISOLATION_MICROVM)
        return 0;
    if (!c->vm)
        return hb__cerr(err, HB_EISOLATION, "microvm backend is not built into this hotbox");
    return c->mv->vm->wait_warm(c->vm, timeout_ms, err);
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

/* ---- run ------------------------------------------------------------------ */

/* The backend a request runs on: AUTO means the context's selection (or,
 * without a context, namespace when it works, else local). */
static hb_isolation context_selection(hb_compiler *c, hb_isolation want)
{
    return c && want == HB_ISOLATION_AUTO ? hb_compiler_selected(c) : want;
}

static hb__vm_state *context_vm(hb_compiler *c)
{
    return c ? c->vm : NULL;
}

static int run_impl(hb_compiler *c, const hb_compile_request *req, hb_compile_result *res,
                    char **err);

int hb_compiler_run_ctx(hb_compiler *c, const hb_compile_request *req, hb_compile_result *res,
                        char **err)
{
    if (!c)
        return hb__cerr(err, -EINVAL, "hb_compiler_run_ctx: NULL context");
    return run_impl(c, req, res, err);
}

/* Without a context: AUTO means namespace when bwrap works, else local (no
 * probe boot); MICROVM boots a throw-away one-VM pool for this compile. */
int hb_compiler_run(const hb_compile_request *req, hb_compile_result *res, char **err)
{
    if (req && req->isolation == HB_ISOLATION_MICROVM) {
        hb_compiler_options o = HB_COMPILER_OPTIONS_INIT;
        hb_compiler *c = NULL;
        o.isolation = HB_ISOLATION_MICROVM;
        int r = hb_compiler_new(&o, &c, err);
        if (r < 0)
            return r;
        r = run_impl(c, req, res, err);
        hb_compiler_free(c);
        return r;
    }
    return run_impl(NULL, req, res, err);
}

static int run_impl(hb_compiler *c, const hb_compile_request *req, hb_compile_result *res,
                    char **err)
{
    if (!req || !res || !req->plugin_dir || !req->job_dir || !req->cc || req->plugin_dir[0] != '/' ||
        req->job_dir[0] != '/' || (req->include_dir && req->include_dir[0] != '/'))
        return hb__cerr(err, -EINVAL, "compile request needs absolute plugin_dir and job_dir and a cc");
    memset(res, 0, sizeof(*res));
    uint64_t start = hb__now_ns();
    const hb__backend *be = NULL;
    const cc_info *ci = NULL;
    char **sources = NULL, **env = NULL, **extra = NULL, **flags = NULL, **prev_inputs = NULL;
    char **watched = NULL, **shown = NULL, **cc_dirs = NULL, **cxx_dirs = NULL, **both = NULL;
    build_cfg bc = {0};
    char(*fhash)[HB_SHA256_HEX] = NULL;
    hb__snapshot snap = {0};
    plan p = {0};
    hb_sb output = HB_SB_INIT;
    int r;

    r = hb_compiler_list_sources(req->plugin_dir, &sources);
    if (r < 0) {
        r = hb__cerr(err, r, "plugin directory %s: %s", req->plugin_dir, strerror(-r));
        goto out;
    }
    if (!sources[0]) {
        r = hb__cerr(err, HB_ENOSOURCES,
                     "plugin directory %s holds no *.c, *.cc, *.cpp or *.cxx sources",
                     req->plugin_dir);
        goto out;
    }
    if ((r = select_backend(context_selection(c, req->isolation), context_vm(c), &be, err)) < 0)
        goto out;
    if (be->vm && !(c && c->vm)) {
        r = hb__cerr(err, HB_EISOLATION, "the microvm backend needs an hb_compiler context");
        goto out;
    }
    probe_env pe = {be, be->vm ? c->vm : NULL, req};
    if ((r = get_cc_info(req->cc, &pe, &ci, err)) < 0)
        goto out;
    if ((r = load_build_cfg(req, &pe, sources, &bc, err)) < 0)
        goto out;
    if (be->vm && bc.set.host_dirs[0]) {
        r = hb__cerr(err, HB_EISOLATION,
                     "%s: key \"pkg\": pkg-config names %s, outside /usr; the microvm guest "
                     "only has the host's /usr (use the namespace backend for this plugin)",
                     bc.set.path, bc.set.host_dirs[0]);
        goto out;
    }
    bool json = ci->json && (!bc.cxx || bc.cxx->json) && !req->text_diagnostics;
    /* What the backends show: the request's directories plus the siblings
     * holding plugin.json's include directories, and the compilers' own
     * directories plus pkg-config's outside /usr. */
    hb_compile_request rq = *req;
    if (bc.text_flags)
        rq.cflags = bc.text_flags;
    shown = strv_concat(req->source_dirs, bc.set.show_dirs);
    rq.source_dirs = shown && shown[0] ? shown : req->source_dirs;
    req = &rq;
    env = compiler_env(req->job_dir);
    cc_dirs = compiler_dirs(ci);
    cxx_dirs = bc.cxx ? compiler_dirs(bc.cxx) : NULL;
    both = cc_dirs ? strv_concat(cc_dirs, cxx_dirs) : NULL;
    extra = both ? strv_concat(both, bc.set.host_dirs) : NULL;
    watched = bc.set.path ? strv_concat(sources, (char *const[]){bc.set.path, NULL}) : NULL;
    if (!env || !extra || !shown || (bc.set.path && !watched) ||
        (r = make_plan(req, ci, &bc, json, sources, &p)) < 0) {
        r = hb__cerr(err, -ENOMEM, "out of memory");
        goto out;
    }
    res->backend = be->name;

    unsigned timeout_ms = req->timeout_ms                   ? req->timeout_ms
                          : c && c->o.job_timeout_ms ? c->o.job_timeout_ms
                                                     : DEFAULT_TIMEOUT_MS;
    hb__run_ctx ctx = {
        .req = req,
        .envp = env,
        .timeout_ms = timeout_ms,
        .max_output_bytes = req->max_output_bytes ? req->max_output_bytes : DEFAULT_MAX_OUTPUT,
        .max_memory_bytes = req->max_memory_bytes ? req->max_memory_bytes : DEFAULT_MAX_MEMORY,
        .extra_ro_dirs = extra,
        .state = be->vm ? c->vm : NULL,
    };
    if ((r = canonical_flags(req, ci, &bc, sources, &flags)) < 0) {
        r = hb__cerr(err, r, "out of memory");
        goto out;
    }
    for (unsigned attempt = 1;; attempt++) {
        if ((r = hb__snapshot_take(&snap, watched ? watched : sources, prev_inputs)) < 0) {
            r = hb__cerr(err, r, "out of memory");
            goto out;
        }
        (void)unlink(p.object); /* a retry must not find the previous attempt's */
        ctx.deadline_ns = hb__now_ns() + (uint64_t)timeout_ms * 1000000ull;
        int status = 0;
        bool ok = true;
        for (size_t i = 0; p.steps[i]; i++) {
            hb__run_outcome o = {0};
            r = be->run(&ctx, p.steps[i], &o, err);
            if (r == 0 && o.output.len && output.len < HB__MAX_CAPTURE)
                r = hb__sb_add(&output, o.output.buf, o.output.len);
            hb__sb_release(&o.output);
            if (r < 0)
                goto out;
            if (o.timed_out) {
                res->timed_out = true;
                ok = false;
                break;
            }
            status = o.wait_status;
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                ok = false;
                break;
            }
        }
        res->exit_status = res->timed_out || !WIFEXITED(status) ? -1 : WEXITSTATUS(status);
        res->elapsed_ms = hb__ms_since(start);

        /* Diagnostics, whatever the outcome. */
        if (json) {
            r = hb__parse_mixed_diagnostics(output.buf ? output.buf : "", output.len,
                                            &res->diags, &res->ndiags, &res->diagnostics);
        } else {
            r = hb_compiler_parse_diagnostics(output.buf ? output.buf : "", output.len,
                                              &res->diags, &res->ndiags);
            if (r == 0 && !(res->diagnostics = hb__sb_detach(&output)))
                r = -ENOMEM;
        }
        hb__sb_release(&output);
        if (r < 0) {
            r = hb__cerr(err, r, "parsing compiler output: %s", strerror(-r));
            goto out;
        }

        if (res->timed_out) {
            r = hb__cerr(err, HB_EHUNG,
                         "compiler killed after %u ms: it exceeded the compile time limit "
                         "(timeout_ms)",
                         timeout_ms);
            goto out;
        }
        if (!ok && WIFSIGNALED(status)) {
            char desc[128];
            int sig = WTERMSIG(status);
            hb__describe_wait_status(status, desc, sizeof(desc));
            if (sig == SIGXCPU)
                r = hb__cerr(err, HB_EHUNG, "compiler %s: CPU time limit (%u s, from timeout_ms)",
                             desc, (unsigned)(timeout_ms / 1000 + 2));
            else if (sig == SIGXFSZ)
                r = hb__cerr(err, HB_ELIMIT,
                             "compiler %s: output size limit (max_output_bytes=%llu)", desc,
                             (unsigned long long)ctx.max_output_bytes);
            else
                r = hb__cerr(err, HB_ECOMPILE, "compiler %s", desc);
            goto out;
        }
        if (!ok) {
            r = hb__cerr(err, HB_ECOMPILE, "compiler exited with status %d", res->exit_status);
            goto out;
        }
        if (access(p.object, F_OK) != 0) {
            r = hb__cerr(err, HB_ECOMPILE, "compiler succeeded but wrote no %s", p.object);
            goto out;
        }
        if ((r = collect_inputs(req->job_dir, p.depfiles, &res->inputs, err)) < 0)
            goto out;
        if (bc.set.path && (r = add_settings_input(&res->inputs, bc.set.path)) < 0) {
            r = hb__cerr(err, r, "out of memory");
            goto out;
        }
        const char *bad = NULL;
        r = hb__hash_files(res->inputs, &fhash, &bad);
        if (r == -EINVAL && bad) {
            /* A FIFO or device would hang (or feed) every later cache check. */
            char *msg = hb__asprintf("the compile read %s, which is not a regular file (a FIFO, "
                                     "device or /proc file); hotbox refuses such inputs",
                                     bad);
            r = msg ? add_error_diag(res, bad, msg) : -ENOMEM;
            free(msg);
            if (r == 0)
                r = hb__cerr(err, HB_ECOMPILE, "compile input %s is not a regular file", bad);
            else
                r = hb__cerr(err, r, "out of memory");
            goto out;
        }
        if (r < 0) {
            r = hb__cerr(err, r, "hashing compile input %s: %s", bad ? bad : "?", strerror(-r));
            goto out;
        }
        const char *moved = hb__snapshot_changed(&snap, res->inputs,
                                             (const char(*)[HB_SHA256_HEX])fhash);
        /* plugin.json was read before the snapshot: the flags used must be
         * those of the content hashed. */
        for (size_t i = 0; !moved && bc.set.path && res->inputs[i]; i++)
            if (!strcmp(res->inputs[i], bc.set.path) && strcmp(fhash[i], bc.set.hash)) {
                r = hb__cerr(err, HB_ECHANGED, "%s changed while the compiler ran; the object "
                                               "was not used",
                             bc.set.path);
                goto out;
            }
        if (!moved)
            break;
        if (attempt >= HB__COMPILE_ATTEMPTS) {
            r = hb__cerr(err, HB_ECHANGED,
                         "%s changed while the compiler ran (%u attempts); the object was not "
                         "used",
                         moved, attempt);
            goto out;
        }
        /* Again, now knowing every input: this time the snapshot covers
         * them all. */
        hb__strv_free(prev_inputs);
        prev_inputs = res->inputs;
        res->inputs = NULL;
        free(fhash);
        fhash = NULL;
        free(res->diagnostics);
        res->diagnostics = NULL;
        hb_diags_free(res->diags, res->ndiags);
        res->diags = NULL;
        res->ndiags = 0;
    }
    if ((r = hash_all(ci, flags, res->inputs, (const char(*)[HB_SHA256_HEX])fhash,
                      res->input_hash)) < 0) {
        r = hb__cerr(err, r, "hashing compile inputs: %s", strerror(-r));
        goto out;
    }
    res->object_path = p.object;
    p.object = NULL;
    r = 0;
out:
    if (r == 0 || r == HB_ECOMPILE || r == HB_EHUNG || r == HB_ELIMIT || r == HB_ECHANGED)
        res->elapsed_ms = hb__ms_since(start);
    if (r != 0) {
        /* inputs and input_hash only on success */
        hb__strv_free(res->inputs);
        res->inputs = NULL;
        memset(res->input_hash, 0, sizeof(res->input_hash));
    }
    hb__snapshot_release(&snap);
    hb__strv_free(prev_inputs);
    free(fhash);
    hb__sb_release(&output);
    hb__strv_free(sources);
    hb__strv_free(flags);
    free(env);
    hb__strv_free(extra);
    hb__strv_free(watched);
    hb__strv_free(shown);
    hb__strv_free(cc_dirs);
    hb__strv_free(cxx_dirs);
    hb__strv_free(both);
    build_cfg_release(&bc);
    plan_free(&p);
    return r;
}
