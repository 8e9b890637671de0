/* Real compiles with the real `cc` ($CC if set) through the local backend:
 * objects, inputs and the input hash, errors and their diagnostics in both
 * the text and the GCC JSON paths, missing sources and directories. */
#include "ctest_util.h"

static char *root, *plugin, *inc;

static void setup(void)
{
    root = t_mkdtemp("hb-ctest-");
    plugin = t_subdir(root, "plugin");
    inc = t_subdir(root, "inc");
    t_write(inc, "api.h", "#define API_VALUE 40\n");
    t_write(plugin, "local.h", "#define LOCAL_VALUE 2\n");
    t_write(plugin, "a.c",
            "#include <api.h>\n#include \"local.h\"\nint answer(void) { return API_VALUE + "
            "LOCAL_VALUE; }\n");
}

static char *path2(const char *dir, const char *name)
{
    char *p = hb__path_join(dir, name);
    HB_CHECK(p != NULL);
    return p;
}

static void test_ok_and_hash(void)
{
    char *job = t_job(root), *err = NULL;
    hb_compile_request req = t_request(plugin, job, inc);
    hb_compile_result res;
    int r = hb_compiler_run(&req, &res, &err);
    if (r != 0)
        HB_FAIL_("compile failed %d: %s\n%s", r, err ? err : "", res.diagnostics);
    HB_CHECK_EQ(res.exit_status, 0);
    HB_CHECK(!res.timed_out);
    HB_CHECK_STR(res.backend, "local");
    char *so = path2(job, "plugin.so");
    HB_CHECK_STR(res.object_path, so);
    t_check_elf_so(res.object_path);
    char *a = path2(plugin, "a.c"), *l = path2(plugin, "local.h"), *h = path2(inc, "api.h");
    HB_CHECK(t_has_input(&res, a));
    HB_CHECK(t_has_input(&res, l));
    HB_CHECK(t_has_input(&res, h));
    HB_CHECK(!t_has_input(&res, so));
    for (char **p = res.inputs; *p; p++) {
        HB_CHECK((*p)[0] == '/');
        if (p[1])
            HB_CHECK(strcmp(p[0], p[1]) < 0); /* sorted, no duplicates */
    }
    HB_CHECK_EQ(strlen(res.input_hash), 64);
    printf("compile (local): %.1f ms, %zu inputs\n", res.elapsed_ms, hb__strv_len(res.inputs));

    /* Unchanged tree: the recomputed hash equals the compile's, also for a
     * different job directory. */
    char h1[HB_SHA256_HEX];
    hb_compile_request req2 = t_request(plugin, "/nonexistent-job", inc);
    HB_CHECK_OK(hb_compiler_input_hash(&req2, res.inputs, h1));
    HB_CHECK_STR(h1, res.input_hash);

    /* Files the compile did not read change nothing. */
    t_write(plugin, "notes.txt", "unrelated\n");
    t_write(inc, "other.h", "#define OTHER 1\n");
    HB_CHECK_OK(hb_compiler_input_hash(&req2, res.inputs, h1));
    HB_CHECK_STR(h1, res.input_hash);

    /* A header change does. */
    t_write(inc, "api.h", "#define API_VALUE 41\n");
    HB_CHECK_OK(hb_compiler_input_hash(&req2, res.inputs, h1));
    HB_CHECK(strcmp(h1, res.input_hash) != 0);
    t_write(inc, "api.h", "#define API_VALUE 40\n");
    HB_CHECK_OK(hb_compiler_input_hash(&req2, res.inputs, h1));
    HB_CHECK_STR(h1, res.input_hash);

    /* So do the flags. */
    char *flags[] = {"-O2", NULL};
    req2.cflags = flags;
    HB_CHECK_OK(hb_compiler_input_hash(&req2, res.inputs, h1));
    HB_CHECK(strcmp(h1, res.input_hash) != 0);
    req2.cflags = NULL;

    /* And a new source file the old inputs do not mention. */
    t_write(plugin, "z.c", "int z(void) { return 0; }\n");
    HB_CHECK_OK(hb_compiler_input_hash(&req2, res.inputs, h1));
    HB_CHECK(strcmp(h1, res.input_hash) != 0);
    char *z = path2(plugin, "z.c");
    HB_CHECK_OK(unlink(z));

    /* A vanished input is -ENOENT. */
    HB_CHECK_OK(rename(l, z));
    HB_CHECK_EQ(hb_compiler_input_hash(&req2, res.inputs, h1), -ENOENT);
    HB_CHECK_OK(rename(z, l));

    /* Recompiling the unchanged tree gives the same hash. */
    char *job2 = t_job(root);
    hb_compile_result res2;
    req.job_dir = job2;
    HB_CHECK_OK(hb_compiler_run(&req, &res2, &err));
    HB_CHECK_STR(res2.input_hash, res.input_hash);

    hb_compile_result_release(&res);
    hb_compile_result_release(&res2);
    free(err);
    free(job);
    free(job2);
    free(so);
    free(a);
    free(l);
    free(h);
    free(z);
}

static void test_multi_source(void)
{
    char *dir = t_subdir(root, "multi"), *job = t_job(root), *err = NULL;
    t_write(dir, "a.h", "#define A 1\n");
    t_write(dir, "b.h", "#define B 2\n");
    t_write(dir, "a.c", "#include \"a.h\"\nint fa(void) { return A; }\n");
    t_write(dir, "b.c", "#include \"b.h\"\nint fb(void) { return B; }\n");
    hb_compile_request req = t_request(dir, job, inc);
    hb_compile_result res;
    int r = hb_compiler_run(&req, &res, &err);
    if (r != 0)
        HB_FAIL_("compile failed %d: %s\n%s", r, err ? err : "", res.diagnostics);
    t_check_elf_so(res.object_path);
    /* Both translation units' headers, not only the last one's. */
    char *ah = path2(dir, "a.h"), *bh = path2(dir, "b.h");
    HB_CHECK(t_has_input(&res, ah));
    HB_CHECK(t_has_input(&res, bh));
    char h[HB_SHA256_HEX];
    HB_CHECK_OK(hb_compiler_input_hash(&req, res.inputs, h));
    HB_CHECK_STR(h, res.input_hash);
    hb_compile_result_release(&res);
    free(ah);
    free(bh);
    free(dir);
    free(job);
    free(err);
}

static const char bad_src[] = "int f(void)\n{\n    return undeclared_x;\n}\n";

/* text: force the text parser; returns false when JSON was asked for but
 * the compiler has no JSON diagnostics. */
static bool compile_error(bool text)
{
    char *dir = t_subdir(root, text ? "bad-text" : "bad-json"), *job = t_job(root), *err = NULL;
    t_write(dir, "bad.c", bad_src);
    hb_compile_request req = t_request(dir, job, inc);
    req.text_diagnostics = text;
    hb_compile_result res;
    int r = hb_compiler_run(&req, &res, &err);
    HB_CHECK_EQ(r, HB_ECOMPILE);
    HB_CHECK(res.exit_status > 0);
    HB_CHECK(res.object_path == NULL);
    HB_CHECK(res.inputs == NULL);
    HB_CHECK(err != NULL);
    char *src = path2(dir, "bad.c");
    const hb_diag *d = t_find_diag(&res, "error");
    if (!d)
        HB_FAIL_("no error diag in:\n%s", res.diagnostics);
    HB_CHECK_STR(d->file, src);
    HB_CHECK_EQ(d->line, 3);
    HB_CHECK_EQ(d->column, 12);
    HB_CHECK_CONTAINS(d->message, "undeclared_x");
    char *want = hb__asprintf("%s:3:12: error: ", src);
    HB_CHECK_CONTAINS(res.diagnostics, want);
    /* GCC's text output carries a source excerpt ("    3 |     return");
     * the rendering of its JSON output does not. */
    bool json = strstr(res.diagnostics, "    3 |") == NULL && strstr(res.diagnostics, "return undeclared_x") == NULL;
    printf("%s path: %zu diags, rendered:\n%s", text ? "text" : "default", res.ndiags,
           res.diagnostics);
    hb_compile_result_release(&res);
    free(want);
    free(src);
    free(dir);
    free(job);
    free(err);
    return text || json;
}

static void test_warning_and_fatal(void)
{
    char *dir = t_subdir(root, "warn"), *job = t_job(root), *err = NULL;
    t_write(dir, "w.c", "#warning careful\nint w(void) { return 0; }\n");
    hb_compile_request req = t_request(dir, job, inc);
    hb_compile_result res;
    HB_CHECK_OK(hb_compiler_run(&req, &res, &err));
    const hb_diag *d = t_find_diag(&res, "warning");
    if (!d)
        HB_FAIL_("no warning diag in:\n%s", res.diagnostics);
    HB_CHECK_EQ(d->line, 1);
    HB_CHECK_CONTAINS(d->message, "careful");
    hb_compile_result_release(&res);
    free(job);

    t_write(dir, "w.c", "#include \"nothere.h\"\n");
    for (int text = 0; text < 2; text++) {
        job = t_job(root);
        req.job_dir = job;
        req.text_diagnostics = text;
        HB_CHECK_EQ(hb_compiler_run(&req, &res, &err), HB_ECOMPILE);
        d = t_find_diag(&res, "fatal error");
        if (!d)
            HB_FAIL_("no fatal error diag in:\n%s", res.diagnostics);
        HB_CHECK_EQ(d->line, 1);
        HB_CHECK_EQ(d->column, 10);
        HB_CHECK_CONTAINS(d->message, "nothere.h");
        hb_compile_result_release(&res);
        free(job);
    }
    free(dir);
    free(err);
}

static void test_no_sources_and_missing_dir(void)
{
    char *dir = t_subdir(root, "empty"), *job = t_job(root), *err = NULL;
    t_write(dir, "README", "no C here\n");
    t_write(dir, "x.h", "\n");
    hb_compile_request req = t_request(dir, job, inc);
    hb_compile_result res;
    HB_CHECK_EQ(hb_compiler_run(&req, &res, &err), HB_ENOSOURCES);
    HB_CHECK_CONTAINS(err, dir);
    hb_compile_result_release(&res);

    char *missing = path2(root, "does-not-exist");
    req.plugin_dir = missing;
    HB_CHECK_EQ(hb_compiler_run(&req, &res, &err), -ENOENT);
    HB_CHECK_CONTAINS(err, missing);
    hb_compile_result_release(&res);

    char **srcs = NULL;
    HB_CHECK_EQ(hb_compiler_list_sources(missing, &srcs), -ENOENT);
    req.plugin_dir = "relative/dir";
    HB_CHECK_EQ(hb_compiler_run(&req, &res, &err), -EINVAL);
    free(missing);
    free(dir);
    free(job);
    free(err);
}

static void test_list_sources_sorted(void)
{
    char *dir = t_subdir(root, "list"), **v = NULL;
    t_write(dir, "b.c", "\n");
    t_write(dir, "a.c", "\n");
    t_write(dir, ".hidden.c", "\n");
    t_write(dir, "c.h", "\n");
    char *sub = t_subdir(dir, "sub.c"); /* a directory, not a source */
    HB_CHECK_OK(hb_compiler_list_sources(dir, &v));
    HB_CHECK_EQ(hb__strv_len(v), 2);
    char *a = path2(dir, "a.c"), *b = path2(dir, "b.c");
    HB_CHECK_STR(v[0], a);
    HB_CHECK_STR(v[1], b);
    hb__strv_free(v);
    free(a);
    free(b);
    free(sub);
    free(dir);
}

static void test_backend_names(void)
{
    HB_CHECK_STR(hb_compiler_backend_name(HB_ISOLATION_LOCAL), "local");
    HB_CHECK_STR(hb_compiler_backend_name(HB_ISOLATION_NAMESPACE), "namespace");
    HB_CHECK_OK(hb_compiler_backend_probe(HB_ISOLATION_LOCAL, NULL));
    const char *autoname = hb_compiler_backend_name(HB_ISOLATION_AUTO);
    HB_CHECK(!strcmp(autoname, "namespace") || !strcmp(autoname, "local"));
}

static bool cc_is_clang(void)
{
    hb_compile_request req = t_request("/", "/", NULL);
    char *cmd = hb__asprintf("%s --version", req.cc), line[512] = "";
    FILE *f = popen(cmd, "r");
    HB_CHECK(f != NULL);
    if (!fgets(line, sizeof(line), f))
        line[0] = 0;
    pclose(f);
    free(cmd);
    return strstr(line, "clang") != NULL;
}

int main(void)
{
    setup();
    test_backend_names();
    test_list_sources_sorted();
    test_ok_and_hash();
    test_multi_source();
    HB_CHECK(compile_error(true));
    if (!compile_error(false)) {
        if (!cc_is_clang())
            HB_FAIL_("GCC >= 10 expected to use JSON diagnostics");
        printf("note: clang has no JSON diagnostics; text path used twice\n");
    }
    test_warning_and_fatal();
    test_no_sources_and_missing_dir();
    hb__rm_rf(root);
    free(root);
    free(plugin);
    free(inc);
    printf("ok\n");
    return 0;
}
