/*
 * compiler/plan.c - the command lines of one compile, and the canonical
 * flags the input hash covers (see plan.h). Every argv a compile runs is
 * assembled here and nowhere else.
 *
 * Where a flag goes:
 *   - push_prefix():        every command (compiler words, diagnostics
 *                           format, prefix maps, the request's cflags,
 *                           then plugin.json's compile flags for the
 *                           command's language);
 *   - push_compile_flags(): every command that compiles a source (-I...);
 *   - push_link_flags():    every command that links plugin.so (SONAME,
 *                           DT_NEEDED, then plugin.json's libraries: after
 *                           the objects, so that --as-needed keeps them);
 * and hb__plan_hashed_flags() lists the same things for the input hash.
 * Output and depfile paths are not hashed, so the job directory does not
 * matter; nor does it reach the object: it is mapped to "."
 * (-ffile-prefix-map), so the same inputs give the same bytes. The
 * compiler runs in the plugin directory (backend.h: hb__compile_cwd),
 * which the object names anyway (its sources' absolute paths).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "argv.h"
#include "buildcfg.h"
#include "plan.h"

/* ---- environment -------------------------------------------------------- */

/* Nothing of the manager's environment leaks in (tokens, cloud keys,
 * CPATH/C_INCLUDE_PATH that would change the compile behind the input
 * hash's back) except PATH, which the driver needs to find as and ld. */
char **hb__compiler_env(const char *tmp)
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

/* ---- the pieces of a command line ---------------------------------------- */

/* The job directory is random (the objects, depfiles and plugin.so go
 * there): map it to "." in everything the compiler writes into the object (DW_AT_comp_dir,
 * __FILE__ of job-relative paths), so identical inputs give identical bytes
 * in any job directory on every backend. Diagnostics are not affected:
 * they keep naming the real files. */
static void push_prefix_maps(hb_argv *a, const hb_compile_request *req)
{
    hb__argv_pushf(a, "-ffile-prefix-map=%s=.", req->job_dir);
    hb__argv_pushf(a, "-fdebug-prefix-map=%s=.", req->job_dir);
}

/* ---- debug information and instrumentation ------------------------------ */

/* Every plugin is compiled with -g, ahead of the request's cflags (a -g0
 * there still wins): a crash report names the faulting function, file and
 * line from the stored object's DWARF (versions/symbolize.c). Sanitizers
 * (hb_compile_request.sanitize) and coverage go on every command, compiles
 * and the link alike. Hashed as such by hb__plan_hashed_flags(). */
static void push_debug_flags(hb_argv *a, const hb_compile_request *req)
{
    hb__argv_push(a, "-g");
    if (req->sanitize && *req->sanitize) {
        hb__argv_pushf(a, "-fsanitize=%s", req->sanitize);
        hb__argv_pushl(a, "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", NULL);
    }
    /* Counters updated atomically: plugin threads must not lose counts. The
     * .gcda path compiled in is the job directory's; the worker strips
     * its parent (GCOV_PREFIX_STRIP, harness/sanitize.c). */
    if (req->coverage)
        hb__argv_pushl(a, "--coverage", "-fprofile-update=atomic", NULL);
}

/* ci is the command's driver; settings are plugin.json's flags for its
 * language (NULL: none). */
static void push_prefix(hb_argv *a, const hb_compile_request *req, const hb__buildcfg *bc,
                        const hb__ccinfo *ci, char *const *settings, bool json)
{
    hb__argv_push_all(a, ci->words);
    hb__argv_push(a, "-fdiagnostics-color=never");
    if (json)
        hb__argv_push(a, "-fdiagnostics-format=json");
    push_prefix_maps(a, req);
    push_debug_flags(a, req);
    hb__argv_push_all(a, hb__buildcfg_cflags(bc, req));
    hb__argv_push_all(a, settings);
}

/* Flags of a command that compiles a source, after -fPIC. */
static void push_compile_flags(hb_argv *a, const hb_compile_request *req)
{
    if (req->include_dir)
        hb__argv_pushf(a, "-I%s", req->include_dir);
}

/* The link-time arguments for SONAME and DT_NEEDED (see hb_compile_request):
 * the name-only libraries live in <job>/deps, named by their SONAMEs. */
static void push_link_flags(hb_argv *a, const hb_compile_request *req, const hb__buildcfg *bc)
{
    if (req->soname)
        hb__argv_pushf(a, "-Wl,-soname,%s", req->soname);
    if (req->needed && req->needed[0]) {
        hb__argv_push(a, "-Wl,--no-as-needed");
        for (char *const *n = req->needed; *n; n++)
            hb__argv_pushf(a, "%s/deps/%s", req->job_dir, *n);
    }
    hb__argv_push_all(a, hb__buildcfg_libs(bc));
}

/* The settings' part of the hashed flags: only with a plugin.json or C++,
 * so that versions cached before plugin.json existed still match. */
static void push_hashed_settings(hb_argv *a, const hb__buildcfg *bc)
{
    if (!bc || (!bc->set.path && !bc->cxx))
        return;
    hb__argv_push(a, bc->all_cxx ? "hotbox-settings-all-c++" : "hotbox-settings-c");
    hb__argv_push_all(a, bc->set.compile_c);
    hb__argv_push(a, "hotbox-settings-c++");
    hb__argv_push_all(a, bc->set.compile_cxx);
    hb__argv_push(a, "hotbox-settings-link");
    hb__argv_push_all(a, bc->set.link);
    if (bc->cxx) {
        hb__argv_push(a, "hotbox-cxx");
        hb__argv_push_all(a, bc->cxx->words);
        hb__argv_pushl(a, bc->cxx->real, bc->cxx->version, NULL);
    }
}

int hb__plan_hashed_flags(const hb_compile_request *req, const hb__ccinfo *ci,
                          const hb__buildcfg *bc, char *const *sources, char ***out)
{
    hb_argv a = HB_ARGV_INIT;
    for (size_t i = 1; ci->words[i]; i++)
        hb__argv_push(&a, ci->words[i]);
    hb__argv_push(&a, "hotbox-job-prefix-map"); /* stands for push_prefix_maps() */
    push_debug_flags(&a, req);
    hb__argv_push_all(&a, hb__buildcfg_cflags(bc, req));
    push_hashed_settings(&a, bc);
    hb__argv_pushl(&a, "-shared", "-fPIC", NULL);
    push_compile_flags(&a, req);
    hb__argv_push(&a, "-MD");
    hb__argv_push_all(&a, sources);
    /* push_link_flags() without the job directory's paths */
    if (req->soname)
        hb__argv_pushf(&a, "-Wl,-soname,%s", req->soname);
    for (char *const *n = req->needed; n && *n; n++)
        hb__argv_pushl(&a, "hotbox-needed", *n, NULL);
    return hb__argv_detach(&a, out);
}

/* ---- the plan ------------------------------------------------------------- */

void hb__plan_release(hb__plan *p)
{
    for (size_t i = 0; p->steps && p->steps[i]; i++)
        hb__strv_free(p->steps[i]);
    free(p->steps);
    hb__strv_free(p->depfiles);
    free(p->object);
    memset(p, 0, sizeof(*p));
}

/* Name-only libraries carrying only the providers' SONAMEs: linking against
 * them records DT_NEEDED entries, nothing else. */
static int plan_name_only_lib(const hb_compile_request *req, const hb__buildcfg *bc,
                              const hb__ccinfo *ci, const char *soname, char ***out)
{
    hb_argv a = HB_ARGV_INIT;
    push_prefix(&a, req, bc, ci, NULL, false);
    hb__argv_pushl(&a, "-shared", "-fPIC", NULL);
    hb__argv_pushf(&a, "-Wl,-soname,%s", soname);
    hb__argv_push(&a, "-o");
    hb__argv_pushf(&a, "%s/deps/%s", req->job_dir, soname);
    hb__argv_pushl(&a, "-x", "c", "/dev/null", NULL);
    return hb__argv_detach(&a, out);
}

/* One source to object: with `link` (the only source) straight to
 * plugin.so, else to an object file (-c) for plan_link(). */
static int plan_source(const hb_compile_request *req, const hb__buildcfg *bc,
                       const hb__ccinfo *ci, bool json, const char *source, const char *depfile,
                       const char *object, bool link, char ***out)
{
    hb_argv a = HB_ARGV_INIT;
    push_prefix(&a, req, bc, hb__buildcfg_driver(bc, ci, source),
                hb__buildcfg_compile_flags(bc, source), json);
    if (link)
        hb__argv_push(&a, "-shared");
    hb__argv_push(&a, "-fPIC");
    push_compile_flags(&a, req);
    hb__argv_pushl(&a, "-MD", "-MF", depfile, NULL);
    if (!link)
        hb__argv_push(&a, "-c");
    hb__argv_pushl(&a, "-o", object, source, NULL);
    if (link)
        push_link_flags(&a, req, bc);
    return hb__argv_detach(&a, out);
}

/* The link of several object files into plugin.so. */
static int plan_link(const hb_compile_request *req, const hb__buildcfg *bc,
                     const hb__ccinfo *ci, bool json, char *const *objects, const char *object,
                     char ***out)
{
    hb_argv a = HB_ARGV_INIT;
    push_prefix(&a, req, bc, hb__buildcfg_linker(bc, ci), hb__buildcfg_link_compile_flags(bc),
                json);
    hb__argv_pushl(&a, "-shared", "-fPIC", "-o", object, NULL);
    hb__argv_push_all(&a, objects);
    push_link_flags(&a, req, bc);
    return hb__argv_detach(&a, out);
}

int hb__plan_compile(const hb_compile_request *req, const hb__ccinfo *ci,
                     const hb__buildcfg *bc, bool json, char *const *sources, hb__plan *p)
{
    size_t ns = hb__strv_len(sources);
    size_t nneeded = hb__strv_len(req->needed);
    size_t nsteps = nneeded + (ns == 1 ? 1 : ns + 1), k = 0;
    hb_argv deps = HB_ARGV_INIT, objs = HB_ARGV_INIT;
    int r = -ENOMEM;
    memset(p, 0, sizeof(*p));
    p->steps = calloc(nsteps + 1, sizeof(*p->steps));
    p->object = hb__path_join(req->job_dir, "plugin.so");
    if (!p->steps || !p->object)
        return -ENOMEM;
    if (nneeded) {
        char *dd = hb__path_join(req->job_dir, "deps");
        if (!dd || (mkdir(dd, 0755) < 0 && errno != EEXIST)) {
            free(dd);
            return -ENOMEM;
        }
        free(dd);
    }
    for (size_t i = 0; i < nneeded; i++)
        if ((r = plan_name_only_lib(req, bc, ci, req->needed[i], &p->steps[k++])) < 0)
            goto out;
    if (ns == 1) {
        hb__argv_pushf(&deps, "%s/plugin.d", req->job_dir);
        if (deps.failed || (r = plan_source(req, bc, ci, json, sources[0], deps.v[0], p->object,
                                            true, &p->steps[k++])) < 0)
            goto nomem;
    } else {
        for (size_t i = 0; i < ns; i++) {
            hb__argv_pushf(&deps, "%s/src%zu.d", req->job_dir, i);
            hb__argv_pushf(&objs, "%s/src%zu.o", req->job_dir, i);
            if (deps.failed || objs.failed ||
                (r = plan_source(req, bc, ci, json, sources[i], deps.v[i], objs.v[i], false,
                                 &p->steps[k++])) < 0)
                goto nomem;
        }
        if ((r = plan_link(req, bc, ci, json, objs.v, p->object, &p->steps[k++])) < 0)
            goto nomem;
    }
    r = hb__argv_detach(&deps, &p->depfiles);
    goto out;
nomem:
    r = -ENOMEM;
out:
    hb__argv_release(&deps);
    hb__argv_release(&objs);
    return r;
}
