/*
 * compiler/compiler.c - the compile pipeline: hb_compiler_run and the input
 * hash for the compile cache. One compile: list the sources, ask select.c
 * for the backend, ccinfo.c for the compiler's identity, buildcfg.c for
 * plugin.json, the language and the C++ driver, plan.c for the command
 * lines; run them on the backend, parse the diagnostics (diag.c),
 * collect and hash the inputs the depfiles name (inputs.c), and compile
 * again when an input changed while the compiler ran.
 *
 * The compiler always runs with LC_ALL=C so its messages parse.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "argv.h"
#include "backend.h"
#include "buildcfg.h"
#include "ccinfo.h"
#include "diag.h"
#include "inputs.h"
#include "plan.h"
#include "select.h"

static int input_hash_impl(hb_compiler *c, const hb_compile_request *req, char *const *inputs,
                           char out[HB_SHA256_HEX])
{
    if (!req || !req->plugin_dir || !req->cc || !inputs || !out)
        return -EINVAL;
    const hb__ccinfo *ci;
    char **sources = NULL, **flags = NULL, **sorted = NULL;
    hb__buildcfg bc = {0};
    hb__probe_env pe = {.req = req};
    int r = hb__compiler_backend(c, req->isolation, &pe.be, &pe.vm, NULL);
    if (r < 0)
        return r;
    r = hb__ccinfo_get(req->cc, &pe, &ci, NULL);
    if (r < 0)
        return r;
    if ((r = hb_compiler_list_sources(req->plugin_dir, &sources)) < 0)
        goto out;
    if (!sources[0]) {
        r = HB_ENOSOURCES;
        goto out;
    }
    if ((r = hb__buildcfg_load(req, &pe, sources, &bc, NULL)) < 0 ||
        (r = hb__plan_hashed_flags(req, ci, &bc, sources, &flags)) < 0)
        goto out;
    if (!(sorted = hb__sorted_copy(inputs))) {
        r = -ENOMEM;
        goto out;
    }
    char(*fh)[HB_SHA256_HEX] = NULL;
    if ((r = hb__hash_files(sorted, &fh, NULL)) < 0)
        goto out;
    r = hb__input_hash(ci->real, ci->version, flags, sorted, (const char(*)[HB_SHA256_HEX])fh,
                       out);
    free(fh);
out:
    hb__buildcfg_release(&bc);
    HB_STRV_FREE_ALL(sources, flags, sorted);
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
        HB_FREE_ALL(d->file, d->severity, d->message, text);
        return -ENOMEM;
    }
    res->ndiags++;
    free(res->diagnostics);
    res->diagnostics = text;
    return 0;
}

static int run_impl(hb_compiler *c, const hb_compile_request *req, hb_compile_result *res,
                    char **err);

/* What the backend shows: the request's source directories plus the
 * siblings holding plugin.json's include directories (*shown), and the
 * compilers' own files plus pkg-config's directories outside /usr
 * (*extra). */
static int backend_dirs(const hb_compile_request *req, const hb__ccinfo *ci,
                        const hb__buildcfg *bc, char ***shown, char ***extra)
{
    hb_argv s = HB_ARGV_INIT, e = HB_ARGV_INIT;
    char **cc_dirs = hb__ccinfo_paths(ci);
    char **cxx_dirs = bc->cxx ? hb__ccinfo_paths(bc->cxx) : NULL;
    hb__argv_push_all(&s, req->source_dirs);
    hb__argv_push_all(&s, bc->set.show_dirs);
    hb__argv_push_all(&e, cc_dirs);
    hb__argv_push_all(&e, cxx_dirs);
    hb__argv_push_all(&e, bc->set.host_dirs);
    int r = !cc_dirs || (bc->cxx && !cxx_dirs) ? -ENOMEM : 0;
    hb__strv_free(cc_dirs);
    hb__strv_free(cxx_dirs);
    if (r == 0 && (r = hb__argv_detach(&s, shown)) == 0 && (r = hb__argv_detach(&e, extra)) < 0) {
        hb__strv_free(*shown);
        *shown = NULL;
    }
    hb__argv_release(&s);
    hb__argv_release(&e);
    return r;
}

/* What an isolated backend showed the compile (inputs.h: the view): the
 * plugin directory, the directories it includes from, the include and job
 * directories, the compilers' files, pkg-config's directories, /usr. NULL for
 * the local backend, which shows everything (and promises nothing). */
static int compile_view(const hb__backend *be, const hb_compile_request *req, char *const *extra,
                        char ***out)
{
    *out = NULL;
    if (be == hb__local_backend())
        return 0;
    hb_argv d = HB_ARGV_INIT;
    hb__argv_pushl(&d, req->plugin_dir, req->job_dir, NULL);
    if (req->include_dir)
        hb__argv_push(&d, req->include_dir);
    if (req->source_dirs)
        hb__argv_push_all(&d, req->source_dirs);
    else if (req->source_root) /* deprecated: its sibling plugins are shown */
        hb__argv_push(&d, req->source_root);
    hb__argv_push_all(&d, extra);
    char **dirs = NULL;
    int r = hb__argv_detach(&d, &dirs);
    if (r == 0 && !(*out = hb__view_new((const char *const *)dirs, hb__strv_len(dirs))))
        r = -ENOMEM;
    hb__argv_release(&d);
    hb__strv_free(dirs);
    return r;
}

/* A diagnostic's location is the compiler's claim ("#line 1 \"/etc/shadow\""
 * makes GCC blame line 1 of /etc/shadow). Where the file is outside what
 * an isolated compile was shown, or not a regular file (a FIFO the tree
 * ships: reading its "line" would block), the line and column are dropped
 * (0, "unknown"), so nothing that shows a diagnostic's source line (the
 * CLI, an editor) opens that file; the compiler's own text keeps them. */
static void confine_diags(hb_diag *d, size_t n, char *const *view)
{
    for (size_t i = 0; view && i < n; i++) {
        struct stat st;
        if ((d[i].line || d[i].column) &&
            (!hb__in_view(d[i].file, view) || stat(d[i].file, &st) < 0 || !S_ISREG(st.st_mode)))
            d[i].line = d[i].column = 0;
    }
}

/* plugin.json was read before the snapshot: the flags used must be those
 * of the content hashed. */
static int check_settings_unchanged(const hb__buildcfg *bc, char *const *inputs,
                                    const char (*hashes)[HB_SHA256_HEX], char **err)
{
    for (size_t i = 0; bc->set.path && inputs[i]; i++)
        if (!strcmp(inputs[i], bc->set.path) && strcmp(hashes[i], bc->set.hash))
            return hb__seterr(err, HB_ECHANGED,
                              "%s changed while the compiler ran; the object was not used",
                              bc->set.path);
    return 0;
}

int hb_compiler_run_ctx(hb_compiler *c, const hb_compile_request *req, hb_compile_result *res,
                        char **err)
{
    if (!c)
        return hb__seterr(err, -EINVAL, "hb_compiler_run_ctx: NULL context");
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
        return hb__seterr(err, -EINVAL, "compile request needs absolute plugin_dir and job_dir and a cc");
    memset(res, 0, sizeof(*res));
    uint64_t start = hb__now_ns();
    const hb__backend *be = NULL;
    const hb__ccinfo *ci = NULL;
    char **sources = NULL, **env = NULL, **extra = NULL, **flags = NULL, **prev_inputs = NULL;
    char **watched = NULL, **shown = NULL, **view = NULL;
    hb__buildcfg bc = {0};
    char(*fhash)[HB_SHA256_HEX] = NULL;
    hb__snapshot snap = {0};
    hb__plan p = {0};
    hb_sb output = HB_SB_INIT;
    int r;

    char *serr = NULL;
    r = hb__compiler_list_sources(req->plugin_dir, &sources, &serr);
    if (r < 0) {
        /* A name the depfile cannot carry, a bad "sources" entry: said in
         * serr; an unreadable directory: said here. */
        if (r == -EILSEQ || (serr && r != -ENOMEM))
            r = HB_ECOMPILE; /* the plugin's own fault, like a bad plugin.json key */
        if (serr)
            r = hb__seterr(err, r, "%s", serr);
        else
            r = hb__seterr(err, r, "plugin directory %s: %s", req->plugin_dir, strerror(-r));
        free(serr);
        goto out;
    }
    if (!sources[0]) {
        r = hb__seterr(err, HB_ENOSOURCES,
                       "plugin directory %s holds no *.c, *.cc, *.cpp, *.cxx, *.S or *.s sources "
                       "(in itself, or in what plugin.json's \"sources\" lists)",
                       req->plugin_dir);
        goto out;
    }
    hb__probe_env pe = {.req = req};
    if ((r = hb__compiler_backend(c, req->isolation, &pe.be, &pe.vm, err)) < 0)
        goto out;
    be = pe.be;
    if ((r = hb__ccinfo_get(req->cc, &pe, &ci, err)) < 0)
        goto out;
    if ((r = hb__buildcfg_load(req, &pe, sources, &bc, err)) < 0)
        goto out;
    if (be->vm && bc.set.host_dirs[0]) {
        r = hb__seterr(err, HB_EISOLATION,
                       "%s: key \"pkg\": pkg-config names %s, outside /usr; the microvm guest "
                       "only has the host's /usr (use the namespace backend for this plugin)",
                       bc.set.path, bc.set.host_dirs[0]);
        goto out;
    }
    bool json = !req->text_diagnostics && hb__ccinfo_json(ci, &pe) &&
                (!bc.cxx || hb__ccinfo_json(bc.cxx, &pe));
    if (backend_dirs(req, ci, &bc, &shown, &extra) < 0) {
        r = hb__seterr(err, -ENOMEM, "out of memory");
        goto out;
    }
    hb_compile_request rq = *req;
    rq.source_dirs = shown[0] ? shown : req->source_dirs;
    req = &rq;
    if (compile_view(be, req, extra, &view) < 0) {
        r = hb__seterr(err, -ENOMEM, "out of memory");
        goto out;
    }
    env = hb__compiler_env(req->job_dir);
    watched = hb__strv_dup(sources);
    if (!env || !watched || (bc.set.path && hb__strv_push(&watched, bc.set.path) < 0) ||
        (r = hb__plan_compile(req, ci, &bc, json, sources, &p)) < 0) {
        r = hb__seterr(err, -ENOMEM, "out of memory");
        goto out;
    }
    res->backend = be->name;

    unsigned timeout_ms = req->timeout_ms                  ? req->timeout_ms
                          : hb__compiler_job_timeout(c) ? hb__compiler_job_timeout(c)
                                                        : HB__DEFAULT_TIMEOUT_MS;
    hb__run_ctx ctx = {
        .req = req,
        .envp = env,
        .timeout_ms = timeout_ms,
        .max_output_bytes = req->max_output_bytes ? req->max_output_bytes : HB__DEFAULT_MAX_OUTPUT,
        .max_memory_bytes = req->max_memory_bytes ? req->max_memory_bytes : HB__DEFAULT_MAX_MEMORY,
        .max_job_bytes = req->max_job_bytes,
        .max_job_files = req->max_job_files,
        .extra_ro_dirs = extra,
        .state = pe.vm,
    };
    if ((r = hb__plan_hashed_flags(req, ci, &bc, sources, &flags)) < 0) {
        r = hb__seterr(err, r, "out of memory");
        goto out;
    }
    for (unsigned attempt = 1;; attempt++) {
        if ((r = hb__snapshot_take(&snap, watched, prev_inputs)) < 0) {
            r = hb__seterr(err, r, "out of memory");
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
            r = hb__seterr(err, r, "parsing compiler output: %s", strerror(-r));
            goto out;
        }
        confine_diags(res->diags, res->ndiags, view);

        if (res->timed_out) {
            r = hb__seterr(err, HB_EHUNG,
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
                r = hb__seterr(err, HB_EHUNG, "compiler %s: CPU time limit (%u s, from timeout_ms)",
                             desc, (unsigned)(timeout_ms / 1000 + 2));
            else if (sig == SIGXFSZ)
                r = hb__seterr(err, HB_ELIMIT,
                             "compiler %s: output size limit (max_output_bytes=%llu)", desc,
                             (unsigned long long)ctx.max_output_bytes);
            else
                r = hb__seterr(err, HB_ECOMPILE, "compiler %s", desc);
            goto out;
        }
        if (!ok) {
            r = hb__seterr(err, HB_ECOMPILE, "compiler exited with status %d", res->exit_status);
            goto out;
        }
        if (access(p.object, F_OK) != 0) {
            r = hb__seterr(err, HB_ECOMPILE, "compiler succeeded but wrote no %s", p.object);
            goto out;
        }
        if ((r = hb__collect_inputs(hb__compile_cwd(req), p.depfiles, &res->inputs, err)) < 0)
            goto out;
        if (bc.set.path && (r = hb__inputs_add(&res->inputs, bc.set.path)) < 0) {
            r = hb__seterr(err, r, "out of memory");
            goto out;
        }
        const char *bad = view ? hb__inputs_outside_view(res->inputs, view) : NULL;
        if (bad) {
            /* Read, hashed, stored and watched on the host as the manager's
             * uid, it would let a hostile depfile (plugin.json's "-MT",
             * a repository's "cc") make a root manager open any file. */
            char *msg = hb__asprintf("the compile named %s as an input (in its depfile), "
                                     "outside what the %s backend showed it (the plugin "
                                     "directory, the directories it includes from, the include "
                                     "directory, /usr); refused, nothing read",
                                     bad, be->name);
            r = msg ? add_error_diag(res, bad, msg) : -ENOMEM; /* line 0: no source line */
            free(msg);
            r = r < 0 ? hb__seterr(err, r, "out of memory")
                      : hb__seterr(err, HB_ECOMPILE, "compile input %s is outside the %s "
                                                     "backend's view: refused",
                                   bad, be->name);
            goto out;
        }
        r = hb__hash_files(res->inputs, &fhash, &bad);
        if (r == -EINVAL && bad) {
            /* A FIFO or device would hang (or feed) every later cache check. */
            char *msg = hb__asprintf("the compile read %s, which is not a regular file (a FIFO, "
                                     "device or /proc file); hotbox refuses such inputs",
                                     bad);
            r = msg ? add_error_diag(res, bad, msg) : -ENOMEM;
            free(msg);
            if (r == 0)
                r = hb__seterr(err, HB_ECOMPILE, "compile input %s is not a regular file", bad);
            else
                r = hb__seterr(err, r, "out of memory");
            goto out;
        }
        if (r < 0) {
            r = hb__seterr(err, r, "hashing compile input %s: %s", bad ? bad : "?", strerror(-r));
            goto out;
        }
        const char *moved = hb__snapshot_changed(&snap, res->inputs,
                                             (const char(*)[HB_SHA256_HEX])fhash);
        if (!moved && (r = check_settings_unchanged(&bc, res->inputs,
                                                    (const char(*)[HB_SHA256_HEX])fhash, err)) < 0)
            goto out;
        if (!moved)
            break;
        if (attempt >= HB__COMPILE_ATTEMPTS) {
            r = hb__seterr(err, HB_ECHANGED,
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
    if ((r = hb__input_hash(ci->real, ci->version, flags, res->inputs, (const char(*)[HB_SHA256_HEX])fhash,
                      res->input_hash)) < 0) {
        r = hb__seterr(err, r, "hashing compile inputs: %s", strerror(-r));
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
    HB_STRV_FREE_ALL(extra, watched, shown, view);
    hb__buildcfg_release(&bc);
    hb__plan_release(&p);
    return r;
}
