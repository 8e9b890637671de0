/*
 * compiler/inputs.c - the files of a compile: the sources it is given, the
 * inputs its depfiles name, their content hashes, whether any changed while
 * the compiler ran, and the input hash over them. See inputs.h.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "argv.h"
#include "fileid.h"
#include "backend.h"
#include "inputs.h"
#include "settings.h"

int hb__hash_files(char *const *inputs, char (**out)[HB_SHA256_HEX], const char **bad)
{
    size_t n = hb__strv_len(inputs);
    char(*h)[HB_SHA256_HEX] = calloc(n + 1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int r = hb__sha256_file_cached(inputs[i], h[i]);
        if (r < 0) {
            if (bad)
                *bad = inputs[i];
            free(h);
            return r;
        }
    }
    *out = h;
    return 0;
}

/* ---- inputs changing under a running compile ---------------------------
 *
 * The object must be built from exactly the contents the input hash covers.
 * Before each compile hotbox takes a snapshot: the time t0 (from the coarse
 * real-time clock the kernel stamps files with), then the identity (inode,
 * size, mtime, ctime) and content hash of every input it already knows (the
 * sources, and on a retry every input the previous attempt read). After the
 * compile it hashes every input the depfile names and stats it again. An
 * input is unchanged when it is in the snapshot with the same identity and
 * hash, or when it is not and its ctime is before t0 (every write moves
 * ctime, and userspace cannot set it back). Anything else may have changed
 * while the compiler ran: the compile is repeated (a header written just
 * before the build also looks "new" once), and after HB__COMPILE_ATTEMPTS
 * attempts the result is HB_ECHANGED and nothing is reported as built. A
 * step of the real-time clock backwards during a compile can hide a change;
 * the content check of snapshotted files cannot be fooled that way. */

void hb__snapshot_release(hb__snapshot *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].path);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static void snapshot_add(hb__snapshot *s, size_t cap, const char *path)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i].path, path))
            return;
    hb__snap_ent e = {0};
    struct stat st;
    /* stat before hashing: a write between the two shows in the hash. */
    if (s->n >= cap || stat(path, &st) < 0 || hb__sha256_file_cached(path, e.hash) < 0)
        return; /* unknown: judged by its ctime after the compile */
    e.id = hb__file_id(&st);
    if (!(e.path = strdup(path)))
        return;
    s->v[s->n++] = e;
}

int hb__snapshot_take(hb__snapshot *s, char *const *sources, char *const *prev)
{
    hb__snapshot_release(s);
    clock_gettime(CLOCK_REALTIME_COARSE, &s->t0);
    size_t cap = hb__strv_len(sources) + hb__strv_len(prev);
    if (!(s->v = calloc(cap + 1, sizeof(*s->v))))
        return -ENOMEM;
    for (size_t i = 0; sources[i]; i++)
        snapshot_add(s, cap, sources[i]);
    for (size_t i = 0; prev && prev[i]; i++)
        snapshot_add(s, cap, prev[i]);
    return 0;
}

const char *hb__snapshot_changed(const hb__snapshot *s, char *const *inputs,
                                    const char (*hashes)[HB_SHA256_HEX])
{
    for (size_t i = 0; inputs[i]; i++) {
        struct stat st;
        if (stat(inputs[i], &st) < 0)
            return inputs[i];
        const hb__snap_ent *e = NULL;
        for (size_t k = 0; k < s->n && !e; k++)
            if (!strcmp(s->v[k].path, inputs[i]))
                e = &s->v[k];
        if (e) {
            if (!hb__file_id_same(&e->id, &st) || strcmp(e->hash, hashes[i]) != 0)
                return inputs[i];
            continue;
        }
        hb_file_id id = hb__file_id(&st);
        if (hb__file_id_racy(&id, &s->t0))
            return inputs[i];
    }
    return NULL;
}

/* ---- what an isolated compile was shown (inputs.h) ------------------------ */

char **hb__view_new(const char *const *dirs, size_t nd)
{
    hb_argv v = HB_ARGV_INIT;
    hb__argv_push(&v, "/usr");
    for (size_t i = 0; i < nd; i++) {
        if (!dirs[i])
            continue;
        hb__argv_push(&v, dirs[i]);
        char *real = NULL;
        if (hb__realpath(dirs[i], &real) == 0 && strcmp(real, dirs[i]) != 0)
            hb__argv_push(&v, real);
        free(real);
    }
    char **out = NULL;
    if (hb__argv_detach(&v, &out) < 0) {
        hb__argv_release(&v);
        return NULL;
    }
    return out;
}

static bool under_any(const char *path, char *const *view)
{
    for (size_t i = 0; view[i]; i++)
        if (hb__path_under(path, view[i]))
            return true;
    return false;
}

static bool has_dot_component(const char *p)
{
    return strstr(p, "/./") || strstr(p, "/../") || hb__has_suffix(p, "/.") ||
           hb__has_suffix(p, "/..");
}

bool hb__in_view(const char *path, char *const *view)
{
    if (!path || path[0] != '/')
        return false;
    char *real = NULL;
    if (hb__realpath(path, &real) < 0)
        return !has_dot_component(path) && under_any(path, view);
    bool in = under_any(real, view);
    free(real);
    return in;
}

const char *hb__inputs_outside_view(char *const *inputs, char *const *view)
{
    for (size_t i = 0; inputs[i]; i++)
        if (!hb__in_view(inputs[i], view))
            return inputs[i];
    return NULL;
}

/* ---- sources ------------------------------------------------------------- */

#define MAX_SOURCES HB__SOURCES_MAX

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

bool hb_compiler_is_source(const char *name)
{
    return name[0] != '.' && strlen(name) >= 3 &&
           (hb__has_suffix(name, ".c") || hb__has_suffix(name, ".S") ||
            hb__has_suffix(name, ".s") || hb__is_cxx_source(name));
}

/* A control character (a newline above all) in a file name: the
 * compiler's depfile and diagnostics are lines, and such a name comes back
 * from them as other files' names. */
static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* name with each control character written as \n, \t or \xNN. */
static char *escaped_name(const char *name)
{
    hb_sb b = HB_SB_INIT;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p == '\n')
            hb__sb_addf(&b, "\\n");
        else if (*p == '\t')
            hb__sb_addf(&b, "\\t");
        else if (*p < 0x20 || *p == 0x7f || *p == '\\')
            hb__sb_addf(&b, "\\x%02x", *p);
        else
            hb__sb_addf(&b, "%c", *p);
    }
    return hb__sb_detach(&b);
}

static bool source_pred(const char *dir, const char *name, void *arg)
{
    (void)dir;
    (void)arg;
    return hb_compiler_is_source(name);
}

bool hb_compiler_is_plugin_dir(const char *dir)
{
    if (hb__dir_any(dir, source_pred, NULL) == 1)
        return true;
    char **entries = NULL;
    bool listed = hb__settings_sources(dir, &entries, NULL) == 0 && entries;
    hb__strv_free(entries);
    return listed;
}

int hb_compiler_list_sources(const char *plugin_dir, char ***out)
{
    return hb__compiler_list_sources(plugin_dir, out, NULL);
}

/* -EILSEQ with *err naming a source whose name has a control character. */
static int control_error(const char *plugin_dir, const char *name, char **err)
{
    char *shown = escaped_name(name);
    int r = hb__seterr(err, -EILSEQ,
                       "plugin directory %s: source file \"%s\" has a control character "
                       "(newline, tab, ...) in its name, which the compiler's dependency "
                       "list and messages cannot carry: rename it",
                       plugin_dir, shown ? shown : "?");
    free(shown);
    return r;
}

/* The sources plugin.json's "sources" key names (sources.c); *out NULL
 * when it has no such key. */
static int listed_sources(const char *plugin_dir, char ***out, char **err)
{
    char **entries = NULL;
    int r = hb__settings_sources(plugin_dir, &entries, err);
    if (r < 0 || !entries) {
        *out = NULL;
        return r;
    }
    r = hb__sources_expand(plugin_dir, entries, out, err);
    hb__strv_free(entries);
    for (size_t i = 0; r == 0 && (*out)[i]; i++) {
        if (!has_control((*out)[i]))
            continue;
        r = control_error(plugin_dir, (*out)[i], err);
        hb__strv_free(*out);
        *out = NULL;
    }
    return r;
}

int hb__compiler_list_sources(const char *plugin_dir, char ***out, char **err)
{
    if (!plugin_dir || !out)
        return -EINVAL;
    int lr = listed_sources(plugin_dir, out, err);
    if (lr < 0 || *out)
        return lr;
    /* Read once per change of the directory's entries, not per call
     * (util/dircache.c): 100,000 unrelated files cost one stat. */
    char **names = NULL;
    int r = hb__dir_sources_cached(plugin_dir, &names);
    if (r < 0)
        return r;
    hb_argv v = HB_ARGV_INIT;
    for (char **np = names; *np; np++) {
        const char *name = *np;
        if (!hb_compiler_is_source(name))
            continue;
        if (has_control(name)) {
            r = control_error(plugin_dir, name, err);
            break;
        }
        char *p = hb__path_join(plugin_dir, name);
        struct stat st;
        if (p && (stat(p, &st) != 0 || !S_ISREG(st.st_mode))) {
            free(p);
            continue;
        }
        if (v.n >= MAX_SOURCES) {
            free(p);
            r = -E2BIG;
            break;
        }
        hb__argv_push(&v, p);
        free(p);
    }
    hb__strv_free(names);
    if (r < 0 || (r = hb__argv_detach(&v, out)) < 0) {
        hb__argv_release(&v);
        return r;
    }
    qsort(*out, hb__strv_len(*out), sizeof(**out), cmp_str);
    return 0;
}

/* ---- hashing ----------------------------------------------------------------- */

int hb__input_hash(const char *cc_real, const char *cc_version, char *const *flags,
                   char *const *sorted_inputs, const char (*file_hashes)[HB_SHA256_HEX],
                   char out[HB_SHA256_HEX])
{
    hb_sha256 *h = hb__sha256_new();
    if (!h)
        return -ENOMEM;
    static const char tag[] = "hotbox-compile-v1";
    hb__sha256_update_framed(h, tag, sizeof(tag) - 1);
    hb__sha256_update_framed(h, cc_real, strlen(cc_real));
    hb__sha256_update_framed(h, cc_version, strlen(cc_version));
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

char **hb__sorted_copy(char *const *v)
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

int hb__inputs_add(char ***inputs, const char *path)
{
    if (hb__strv_contains(*inputs, path))
        return 0;
    if (hb__strv_push(inputs, path) < 0)
        return -ENOMEM;
    qsort(*inputs, hb__strv_len(*inputs), sizeof(**inputs), cmp_str);
    return 0;
}

/* ---- depfiles -------------------------------------------------------------- */

#define MAX_DEPFILE (16u << 20)

/* Absolute path for a depfile entry: relative ones are relative to the
 * compiler's working directory (hb__compile_cwd); entries with "." or ".."
 * components are resolved so the same file has one name. */
static char *absolute_input(const char *cwd, const char *dep)
{
    char *p = dep[0] == '/' ? strdup(dep) : hb__path_join(cwd, dep);
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

int hb__collect_inputs(const char *cwd, char *const *depfiles, char ***out, char **err)
{
    hb_argv all = HB_ARGV_INIT;
    int r = 0;
    for (size_t i = 0; depfiles[i]; i++) {
        void *data = NULL;
        size_t len = 0;
        char **deps = NULL;
        r = hb__read_file(depfiles[i], MAX_DEPFILE, &data, &len);
        if (r < 0) {
            r = hb__seterr(err, r, "reading depfile %s: %s", depfiles[i], strerror(-r));
            goto fail;
        }
        r = hb_compiler_parse_depfile(data, len, &deps);
        free(data);
        if (r < 0) {
            r = hb__seterr(err, r, "parsing depfile %s: %s", depfiles[i], strerror(-r));
            goto fail;
        }
        for (size_t k = 0; deps[k]; k++) {
            char *a = absolute_input(cwd, deps[k]);
            hb__argv_push(&all, a);
            all.failed |= !a;
            free(a);
            if (all.failed)
                break;
        }
        hb__strv_free(deps);
        if (all.failed) {
            r = hb__seterr(err, -ENOMEM, "out of memory");
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
    hb__argv_release(&all);
    return r;
}
