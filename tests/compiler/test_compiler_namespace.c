/* The namespace backend (bubblewrap): compiles work, the plugin sees only
 * its own directories and the toolchain, so a source that includes a file
 * from a "home" directory outside the plugin (or /etc/shadow) fails there
 * while it gets past the include under the local backend. Also measures
 * local vs namespace compile time. SKIPs when bwrap does not work here. */
#include "ctest_util.h"

static char *root, *inc;

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median_compile_ms(hb_isolation iso, const char *plugin)
{
    double t[7];
    for (size_t i = 0; i < HB_ARRAY_SIZE(t); i++) {
        char *job = t_job(root), *err = NULL;
        hb_compile_request req = t_request(plugin, job, inc);
        req.isolation = iso;
        hb_compile_result res;
        int r = hb_compiler_run(&req, &res, &err);
        if (r != 0)
            HB_FAIL_("compile (%d) failed %d: %s", iso, r, err ? err : "");
        t[i] = res.elapsed_ms;
        hb_compile_result_release(&res);
        free(job);
        free(err);
    }
    qsort(t, HB_ARRAY_SIZE(t), sizeof(t[0]), cmp_dbl);
    return t[HB_ARRAY_SIZE(t) / 2];
}

static int compile(hb_isolation iso, const char *plugin, hb_compile_result *res, char **err)
{
    char *job = t_job(root);
    hb_compile_request req = t_request(plugin, job, inc);
    req.isolation = iso;
    int r = hb_compiler_run(&req, res, err);
    free(job);
    return r;
}

int main(void)
{
    char *why = NULL;
    if (hb_compiler_backend_probe(HB_ISOLATION_NAMESPACE, &why) != 0)
        HB_SKIP("namespace backend unavailable: %s", why ? why : "?");
    HB_CHECK_STR(hb_compiler_backend_name(HB_ISOLATION_AUTO), "namespace");

    root = t_mkdtemp("hb-cns-");
    inc = t_subdir(root, "inc");
    t_write(inc, "api.h", "#define API 41\n");
    char *plugin = t_subdir(root, "plugin"), *err = NULL;
    t_write(plugin, "p.c", "#include <api.h>\n#include <stdio.h>\nint p(void) { return API + 1; }\n");
    hb_compile_result res;

    /* A normal compile works, AUTO picks namespace, paths are the host's. */
    int r = compile(HB_ISOLATION_AUTO, plugin, &res, &err);
    if (r != 0)
        HB_FAIL_("namespace compile failed %d: %s\n%s", r, err ? err : "", res.diagnostics);
    HB_CHECK_STR(res.backend, "namespace");
    t_check_elf_so(res.object_path);
    char *api = hb__path_join(inc, "api.h");
    HB_CHECK(t_has_input(&res, api));
    HB_CHECK(t_has_input(&res, "/usr/include/stdio.h"));
    hb_compile_result_release(&res);

    /* A file in a "home" directory outside the plugin and include dirs. */
    char *home = t_subdir(root, "home");
    t_write(home, "secret.h", "#define SECRET 42\n");
    char *evil = t_subdir(root, "evil");
    char *src = hb__asprintf("#include \"%s/secret.h\"\nint s(void) { return SECRET; }\n", home);
    t_write(evil, "e.c", src);
    HB_CHECK_OK(compile(HB_ISOLATION_LOCAL, evil, &res, &err));
    HB_CHECK_STR(res.backend, "local");
    hb_compile_result_release(&res);
    HB_CHECK_EQ(compile(HB_ISOLATION_NAMESPACE, evil, &res, &err), HB_ECOMPILE);
    const hb_diag *d = t_find_diag(&res, "fatal error");
    if (!d)
        HB_FAIL_("no fatal error in:\n%s", res.diagnostics);
    HB_CHECK_CONTAINS(d->message, "No such file or directory");
    char *e_c = hb__path_join(evil, "e.c");
    HB_CHECK_STR(d->file, e_c); /* the user's real path, no translation */
    HB_CHECK_EQ(d->line, 1);
    hb_compile_result_release(&res);

    /* /etc/shadow: absent in the sandbox; locally the include is found
     * when readable (it then fails as C, not as a missing file). */
    t_write(evil, "e.c", "#include \"/etc/shadow\"\n");
    HB_CHECK_EQ(compile(HB_ISOLATION_NAMESPACE, evil, &res, &err), HB_ECOMPILE);
    HB_CHECK_CONTAINS(res.diagnostics, "/etc/shadow: No such file or directory");
    hb_compile_result_release(&res);
    if (access("/etc/shadow", R_OK) == 0) {
        compile(HB_ISOLATION_LOCAL, evil, &res, &err);
        HB_CHECK(strstr(res.diagnostics, "/etc/shadow: No such file") == NULL);
        hb_compile_result_release(&res);
    }

    /* The job directory is the only writable place: writing into the
     * plugin directory from the compiler fails there. */
    double local_ms = median_compile_ms(HB_ISOLATION_LOCAL, plugin);
    double ns_ms = median_compile_ms(HB_ISOLATION_NAMESPACE, plugin);
    printf("median compile of a small plugin: local %.1f ms, namespace %.1f ms\n", local_ms,
           ns_ms);

    hb__rm_rf(root);
    free(src);
    free(e_c);
    free(api);
    free(home);
    free(evil);
    free(plugin);
    free(inc);
    free(root);
    free(err);
    free(why);
    printf("ok\n");
    return 0;
}
