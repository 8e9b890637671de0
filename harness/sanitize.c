/* harness/sanitize.c - what hb_manager_options.sanitize and .coverage_dir
 * mean for the workers (docs/testing.md "Sanitizers", "Coverage").
 *
 * The compile side is compiler/plan.c's (the flags, hashed); this file
 * owns the worker side:
 *  - "address": an ASan plugin needs the ASan runtime loaded first in the
 *    process that dlopens it. The worker is started with `--preload LIB`
 *    (it re-executes itself with LD_PRELOAD=LIB before anything else, so
 *    only the worker carries the runtime, not bwrap or the shell in front
 *    of it); LIB is the exact runtime the plugins' compiler links against,
 *    learnt once per manager by building a probe with -fsanitize=address
 *    in the compile backend and reading its DT_NEEDED (the compiler is
 *    never run bare on the host). ASan reserves terabytes of shadow
 *    address space: the worker's RLIMIT_AS is lifted for such workers
 *    only (a cgroup memory limit, where there is one, still applies).
 *  - coverage: the worker's environment gets GCOV_PREFIX (the run's .gcda
 *    directory, bound read-write in the jail) and GCOV_PREFIX_STRIP (the
 *    components of the compile job directories' parent), so a plugin's
 *    counters land in <dir>/job-XXXXXX/<object>.gcda, next to nothing
 *    else; the notes (.gcno) of that compile are kept under the state
 *    directory by the same job name (harness/coverage.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compiler.h"
#include "elf.h"
#include "harness.h"
#include "sandbox_impl.h"

static bool known(const char *name)
{
    return strcmp(name, "undefined") == 0 || strcmp(name, "address") == 0;
}

int hb__sanitize_check(const char *list, char **out, bool *asan)
{
    *out = NULL;
    *asan = false;
    if (!list || !*list)
        return 0;
    char *copy = strdup(list);
    if (!copy)
        return -ENOMEM;
    int r = 0;
    for (char *save = NULL, *n = strtok_r(copy, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
        if (!known(n))
            r = -EINVAL;
        *asan = *asan || strcmp(n, "address") == 0;
    }
    free(copy);
    if (r < 0)
        return r;
    *out = strdup(list);
    return *out ? 0 : -ENOMEM;
}

/* The runtime a probe built with -fsanitize=address needs: the DT_NEEDED
 * entry naming libasan (GCC) or clang's shared ASan runtime. */
static const char *asan_needed(char *const *needed)
{
    for (char *const *n = needed; n && *n; n++)
        if (strncmp(*n, "libasan.so", 10) == 0 || strncmp(*n, "libclang_rt.asan", 16) == 0)
            return *n;
    return NULL;
}

static int probe_asan_runtime(hb_manager *m, char **soname, char **err)
{
    char *dir = NULL, *src = NULL, *job = NULL, *file = NULL;
    int r = hb__mkdtemp_in(m->tmp_dir, "asan-probe-", &dir);
    if (r < 0)
        return hb__seterr(err, r, "cannot create a directory in %s: %s", m->tmp_dir,
                          strerror(-r));
    static const char text[] = "#include <hotbox/plugin.h>\n"
                               "int hb__asan_probe(int *p) { return p[1]; }\n"
                               "HB_PLUGIN(\"asan_probe\", 1, 0, 0, NULL, NULL);\n";
    src = hb__path_join(dir, "src");
    job = hb__path_join(dir, "job");
    file = hb__path_join(src, "asan_probe.c");
    if (!src || !job || !file || (r = hb__mkdir_p(src, 0755)) < 0 ||
        (r = hb__mkdir_p(job, 0755)) < 0 ||
        (r = hb__write_file_atomic(file, text, sizeof(text) - 1, 0644)) < 0) {
        r = hb__seterr(err, r < 0 ? r : -ENOMEM, "cannot write the probe in %s", dir);
        goto out;
    }
    hb_compile_request req = {0};
    req.plugin_dir = src;
    req.job_dir = job;
    req.cc = m->cc;
    req.flags_text = m->cflags_text;
    req.sanitize = "address";
    req.include_dir = m->include_dir;
    req.timeout_ms = m->opts.compile_timeout_ms;
    req.isolation = m->opts.isolation;
    req.text_diagnostics = true;
    hb_compile_result res = {0};
    char *cerr = NULL;
    r = hb_compiler_run_ctx(m->compiler, &req, &res, &cerr);
    if (r < 0) {
        r = hb__seterr(err, r, "%s cannot build with -fsanitize=address (is its libasan "
                       "installed?): %s", m->cc,
                       res.diagnostics && *res.diagnostics ? res.diagnostics
                                                           : cerr ? cerr : hb_strerror(r));
    } else {
        hb_elf_info info;
        char *eerr = NULL;
        r = hb_elf_analyze_file(res.object_path, &info, &eerr);
        if (r < 0) {
            r = hb__seterr(err, r, "the AddressSanitizer probe: %s", eerr ? eerr : "?");
        } else {
            const char *lib = asan_needed(info.needed);
            if (!lib)
                r = hb__seterr(err, -ENOTSUP,
                               "%s links the AddressSanitizer runtime statically into "
                               "programs only (its plugins need no shared runtime a worker "
                               "could load first; with clang, add -shared-libasan to --cflags)",
                               m->cc);
            else if (!(*soname = strdup(lib)))
                r = -ENOMEM;
            hb_elf_info_release(&info);
        }
        free(eerr);
    }
    free(cerr);
    hb_compile_result_release(&res);
out:
    hb__rm_rf(dir);
    free(dir);
    free(src);
    free(job);
    free(file);
    return r;
}

int hb__sanitize_prepare(hb_manager *m, hb_profile profile, char **err)
{
    /* strict caps the address space at 1 GiB (ASan reserves terabytes),
     * allows no library but libc's (libasan), and its Landlock rule keeps
     * a worker from reading back the counters it writes: refused by name
     * rather than failing obscurely in the worker. */
    if ((m->asan || m->gcda_dir) && profile == HB_PROFILE_STRICT)
        return hb__seterr(err, -EINVAL, "%s needs the standard or permissive profile, not strict",
                          m->asan ? "--sanitize address" : "coverage");
    if (!m->asan)
        return 0;
    pthread_mutex_lock(&m->san_lock);
    /* Probed once; a failure is kept too (every sandbox gets its reason). */
    if (!m->asan_runtime && !m->asan_error) {
        char *perr = NULL;
        m->asan_code = probe_asan_runtime(m, &m->asan_runtime, &perr);
        if (m->asan_code < 0)
            m->asan_error = hb__asprintf("--sanitize address: %s", perr ? perr : "?");
        free(perr);
    }
    int r = m->asan_runtime ? 0 : m->asan_code < 0 ? m->asan_code : -ENOMEM;
    if (r < 0)
        hb__seterr(err, r, "%s", m->asan_error ? m->asan_error : "out of memory");
    pthread_mutex_unlock(&m->san_lock);
    return r;
}

void hb__sanitize_spawn(const hb_manager *m, hb_wspawn *how)
{
    if (m->asan_runtime) {
        how->preload = m->asan_runtime;
        how->limits.memory_bytes = 0; /* ASan's shadow reservation */
    }
    if (m->gcda_dir) {
        how->write_dir = m->gcda_dir;
        how->inst_env = m->inst_env;
    }
}
