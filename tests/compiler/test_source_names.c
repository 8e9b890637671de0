/* A source file whose name holds a newline (or another control character)
 * is refused before any compile, with an error naming the file (escaped)
 * and the plugin directory (compiler/inputs.c). Before, the compile ran
 * and failed hashing an input named after the first line of the name
 * ("hashing compile input DIR/we: No such file or directory"). */
#include <stdio.h>

#include "ctest_util.h"

static void refused(const char *root, const char *name, const char *shown)
{
    char *dir = t_mkdtemp("hb-srcname-");
    t_write(dir, "main.c", "int main_fn(void) { return 1; }\n");
    t_write(dir, name, "int other_fn(void) { return 2; }\n");
    char **v = NULL;
    HB_CHECK_EQ(hb_compiler_list_sources(dir, &v), -EILSEQ);
    char *job = t_job(root), *err = NULL;
    hb_compile_request req = t_request(dir, job, NULL);
    hb_compile_result res;
    int r = hb_compiler_run(&req, &res, &err);
    printf("%d: %s\n", r, err ? err : "");
    HB_CHECK_EQ(r, HB_ECOMPILE);
    HB_CHECK(err != NULL);
    char want[512];
    snprintf(want, sizeof(want), "plugin directory %s: source file \"%s\" has a control character",
             dir, shown);
    HB_CHECK_CONTAINS(err, want);
    HB_CHECK(strstr(err, "No such file") == NULL);
    hb_compile_result_release(&res);
    free(err);
    /* renamed: it builds */
    char *from = hb__path_join(dir, name), *to = hb__path_join(dir, "other.c");
    HB_CHECK(rename(from, to) == 0);
    free(job);
    job = t_job(root);
    req = t_request(dir, job, NULL);
    err = NULL;
    r = hb_compiler_run(&req, &res, &err);
    if (r != 0)
        HB_FAIL_("after the rename: %d: %s", r, err ? err : "");
    hb_compile_result_release(&res);
    free(err);
    free(from);
    free(to);
    free(job);
    hb__rm_rf(dir);
    free(dir);
}

int main(void)
{
    char *root = t_mkdtemp("hb-srcname-jobs-");
    refused(root, "we\nird.c", "we\\nird.c");
    refused(root, "tab\tbed.c", "tab\\tbed.c");
    refused(root, "bell\a.c", "bell\\x07.c");
    hb__rm_rf(root);
    free(root);
    printf("PASS source_names\n");
    return 0;
}
