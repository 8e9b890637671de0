/* harness/build.c - sources -> compiler -> ELF checks -> store.
 *
 * The compile cache: the newest stored version of the plugin remembers every
 * input file its compile read (from the depfile). When hashing those files'
 * current contents with the same flags and compiler gives the stored input
 * hash, nothing changed and the stored object is reused without compiling. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"

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
    memset(out, 0, sizeof(*out));
}

static hb_compile_request make_request(hb_manager *m, const char *dir, const char *job)
{
    hb_compile_request req = {0};
    req.plugin_dir = dir;
    req.job_dir = job;
    req.cc = m->cc;
    req.cflags = m->cflags;
    req.include_dir = m->include_dir;
    req.timeout_ms = m->opts.compile_timeout_ms;
    req.isolation = m->opts.isolation;
    return req;
}

/* The stored version whose inputs still hash the same, if any. */
static int cache_lookup(hb_manager *m, const char *dir, const char *plugin, hb_version_rec *out)
{
    hb_version_rec latest = {0};
    pthread_mutex_lock(&m->lock);
    int r = hb_store_latest(m->store, plugin, &latest);
    pthread_mutex_unlock(&m->lock);
    if (r < 0)
        return r;
    r = -ENOENT;
    if (latest.inputs && *latest.inputs) {
        char **inputs = hb__split_lines(latest.inputs);
        char hash[HB_SHA256_HEX];
        hb_compile_request req = make_request(m, dir, m->tmp_dir);
        /* Every current source must be among the remembered inputs, or a
         * new file was added. */
        char **sources = NULL;
        bool complete = inputs && hb_compiler_list_sources(dir, &sources) == 0;
        for (char **s = sources; complete && s && *s; s++) {
            bool found = false;
            for (char **i = inputs; *i && !found; i++)
                found = strcmp(*i, *s) == 0;
            complete = found;
        }
        hb__strv_free(sources);
        if (complete && hb_compiler_input_hash(&req, inputs, hash) == 0) {
            pthread_mutex_lock(&m->lock);
            r = hb_store_find_input(m->store, plugin, hash, out);
            pthread_mutex_unlock(&m->lock);
        }
        hb__strv_free(inputs);
    }
    hb_version_rec_release(&latest);
    return r;
}

static char *join_lines(char *const *v)
{
    hb_sb sb = HB_SB_INIT;
    for (size_t i = 0; v && v[i]; i++) {
        hb__sb_adds(&sb, v[i]);
        hb__sb_adds(&sb, "\n");
    }
    return hb__sb_detach(&sb);
}

int hb__verify_object(hb_manager *m, const hb_version_rec *rec, char **err)
{
    pthread_mutex_lock(&m->lock);
    int r = hb_store_object_verify(m->store, rec, err);
    char *path = hb_store_object_path(m->store, rec->object_sha256);
    pthread_mutex_unlock(&m->lock);
    if (r < 0) {
        free(path);
        return r == -ENOENT ? HB_ECORRUPT : r;
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
    return 0;
}

int hb__build(hb_manager *m, const char *dir, const char *plugin, hb_build_out *out, char **err)
{
    memset(out, 0, sizeof(*out));
    uint64_t t0 = hb__now_ns();

    hb_version_rec hit = {0};
    if (cache_lookup(m, dir, plugin, &hit) == 0) {
        uint64_t tv = hb__now_ns();
        int r = hb__verify_object(m, &hit, err);
        if (r == 0) {
            out->rec = hit;
            out->cache_hit = true;
            out->t.verify_ms = hb__ms_since(tv);
            out->t.total_ms = hb__ms_since(t0);
            return 0;
        }
        /* A corrupt cached object: rebuild rather than fail. */
        hb_version_rec_release(&hit);
        free(*err);
        *err = NULL;
    }

    char *job = NULL;
    int r = hb__mkdtemp_in(m->tmp_dir, "job-", &job);
    if (r < 0)
        return hb__seterr(err, r, "cannot create a job directory in %s: %s", m->tmp_dir,
                          strerror(-r));
    hb_compile_request req = make_request(m, dir, job);
    char *cerr = NULL;
    uint64_t tc = hb__now_ns();
    if (!m->selection_told) {
        /* Say once which isolation the compiles get, and why. */
        m->selection_told = true;
        const char *sel = hb_compiler_selection(m->compiler);
        hb_isolation which = hb_compiler_selected(m->compiler);
        if (which == HB_ISOLATION_LOCAL)
            hb__emit(m, NULL, HB_EVENT_WARNING, NULL, 0, 0, 0, NULL,
                     "compiles run with NO isolation (local backend): %s", sel ? sel : "");
        else
            hb__emit(m, NULL, HB_EVENT_NOTICE, NULL, 0, 0, 0, NULL, "compiler isolation: %s",
                     sel ? sel : "");
    }
    r = hb_compiler_run_ctx(m->compiler, &req, &out->cres, &cerr);
    out->t.compile_ms = hb__ms_since(tc);
    hb_metrics_add(m->metrics, HB_CTR_COMPILES, 1);
    hb_metrics_observe(m->metrics, HB_HIST_COMPILE, hb__now_ns() - tc);
    if (r < 0)
        hb_metrics_add(m->metrics, HB_CTR_COMPILE_FAILURES, 1);
    if (r == HB_ECOMPILE) {
        hb__seterr(err, r, "%s: compile failed (%s exited with status %d)\n%s", plugin, m->cc,
                   out->cres.exit_status, out->cres.diagnostics ? out->cres.diagnostics : "");
        goto out_rm;
    }
    if (r == HB_EHUNG) {
        hb__seterr(err, r, "%s: the compiler ran longer than %u ms and was killed\n%s", plugin,
                   req.timeout_ms, out->cres.diagnostics ? out->cres.diagnostics : "");
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
    hb_version_rec meta = {0};
    memcpy(meta.input_hash, out->cres.input_hash, HB_SHA256_HEX);
    meta.inputs = join_lines(out->cres.inputs);
    meta.exports = join_lines(info.exports);
    meta.imports = join_lines(info.imports);
    meta.needed = join_lines(info.needed);
    meta.depends = strdup("");
    hb_elf_info_release(&info);
    out->t.verify_ms = hb__ms_since(tv);

    char *serr = NULL;
    pthread_mutex_lock(&m->lock);
    r = hb_store_add(m->store, plugin, out->cres.object_path, &meta, &out->rec, &out->created,
                     &serr);
    pthread_mutex_unlock(&m->lock);
    meta.plugin = NULL;
    hb_version_rec_release(&meta);
    if (r < 0) {
        hb__seterr(err, r, "%s: cannot store the new version: %s", plugin,
                   serr ? serr : hb_strerror(r));
        free(serr);
        goto out_rm;
    }
out_rm:
    free(cerr);
    hb__rm_rf(job);
    free(job);
    out->t.total_ms = hb__ms_since(t0);
    return r;
}
