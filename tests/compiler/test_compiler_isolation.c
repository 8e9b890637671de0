/* Backend selection when bubblewrap is missing: with PATH pointing nowhere
 * for the first probe (cached per process, then PATH is restored) NAMESPACE
 * fails with HB_EISOLATION naming the reason, and AUTO falls back to local. */
#include "ctest_util.h"

int main(void)
{
    if (access("/usr/bin/cc", X_OK) != 0)
        HB_SKIP("no /usr/bin/cc");
    const char *path = getenv("PATH");
    char *saved = strdup(path ? path : "/usr/bin:/bin");
    HB_CHECK_OK(setenv("PATH", "/nonexistent", 1));
    char *why = NULL;
    HB_CHECK(hb_compiler_backend_probe(HB_ISOLATION_NAMESPACE, &why) < 0);
    /* The probe's verdict is cached; the compiler driver needs PATH (for
     * `as`) back. */
    HB_CHECK_OK(setenv("PATH", saved, 1));
    free(saved);
    HB_CHECK_CONTAINS(why, "bwrap");
    HB_CHECK_STR(hb_compiler_backend_name(HB_ISOLATION_AUTO), "local");
    HB_CHECK(hb_compiler_backend_probe(HB_ISOLATION_MICROVM, NULL) < 0 ||
             strcmp(hb_compiler_backend_name(HB_ISOLATION_MICROVM), "microvm") == 0);

    char *root = t_mkdtemp("hb-ciso-"), *plugin = t_subdir(root, "p"), *job = t_job(root);
    char *err = NULL;
    t_write(plugin, "a.c", "int a(void) { return 1; }\n");
    hb_compile_request req = t_request(plugin, job, NULL);
    req.cc = "/usr/bin/cc";
    req.isolation = HB_ISOLATION_NAMESPACE;
    hb_compile_result res;
    HB_CHECK_EQ(hb_compiler_run(&req, &res, &err), HB_EISOLATION);
    HB_CHECK_CONTAINS(err, "bwrap");
    hb_compile_result_release(&res);

    req.isolation = HB_ISOLATION_AUTO;
    int r = hb_compiler_run(&req, &res, &err);
    if (r != 0)
        HB_FAIL_("AUTO compile failed %d: %s\n%s", r, err ? err : "", res.diagnostics);
    HB_CHECK_STR(res.backend, "local");
    t_check_elf_so(res.object_path);
    hb_compile_result_release(&res);

    /* A compiler that does not exist is a setup error naming it. */
    req.cc = "no-such-compiler-xyz";
    HB_CHECK_EQ(hb_compiler_run(&req, &res, &err), -ENOENT);
    HB_CHECK_CONTAINS(err, "no-such-compiler-xyz");
    hb_compile_result_release(&res);

    hb__rm_rf(root);
    free(root);
    free(plugin);
    free(job);
    free(err);
    free(why);
    printf("ok\n");
    return 0;
}
