/* Which compiler probes a warm build-cache lookup runs (issue 14, the
 * fixed cost of `hotbox test`): an input hash needs the compiler's identity
 * (`cc --version`), not whether it speaks JSON diagnostics; that probe runs
 * at the first compile, and a compile still gets JSON diagnostics. A
 * wrapper compiler logs every command it is given. */
#include "backend.h"
#include "ctest_util.h"

static bool log_has(const char *log, const char *needle)
{
    void *data = NULL;
    size_t len = 0;
    int r = hb__read_file(log, 1u << 20, &data, &len);
    if (r == -ENOENT)
        return false;
    HB_CHECK_OK(r);
    bool found = memmem(data, len, needle, strlen(needle)) != NULL;
    free(data);
    return found;
}

int main(void)
{
    char *root = t_mkdtemp("hb-cprobes-");
    const char *cc = getenv("CC");
    char *real_cc = NULL;
    HB_CHECK_OK(hb__find_program(cc && *cc ? cc : "cc", &real_cc));
    char *plugin = t_subdir(root, "p");
    t_write(plugin, "p.c", "int p(void) { return 1; }\n");
    char *log = hb__path_join(root, "cc.log");
    char *text = hb__asprintf("#!/bin/sh\necho \"$*\" >> '%s'\nexec '%s' \"$@\"\n", log, real_cc);
    char *wrap = hb__path_join(root, "log-cc.sh");
    HB_CHECK(log && text && wrap);
    HB_CHECK_OK(hb__write_file_atomic(wrap, text, strlen(text), 0755));

    char *job = t_job(root);
    hb_compile_request req = t_request(plugin, job, NULL);
    req.cc = wrap;
    char *src = hb__path_join(plugin, "p.c");
    char *inputs[] = {src, NULL};
    char h[HB_SHA256_HEX];
    HB_CHECK_OK(hb_compiler_input_hash(&req, inputs, h));
    HB_CHECK(log_has(log, "--version"));
    if (log_has(log, "-fdiagnostics-format=json -fsyntax-only"))
        HB_FAIL_("an input hash (a cache lookup) ran the JSON-diagnostics probe");

    hb_compile_result res;
    char *err = NULL;
    int r = hb_compiler_run(&req, &res, &err);
    if (r != 0)
        HB_FAIL_("compile failed %d: %s", r, err ? err : "");
    if (!log_has(log, "-fdiagnostics-format=json -fsyntax-only"))
        HB_FAIL_("the first compile did not probe JSON diagnostics");
    /* GCC >= 10 (Debian 12 has 12): the compile itself asked for JSON. */
    if (!log_has(log, "-fdiagnostics-color=never -fdiagnostics-format=json"))
        HB_FAIL_("the compile did not use JSON diagnostics");
    hb_compile_result_release(&res);
    free(err);
    hb__rm_rf(root);
    HB_FREE_ALL(root, real_cc, plugin, log, text, wrap, job, src);
    printf("ok\n");
    return 0;
}
