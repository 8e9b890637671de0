/* Unit cases for the depfile parser and the diagnostics parsers (text and
 * GCC's JSON mixed with text lines). */
#include "ctest_util.h"
#include "diag.h"

static void check_deps(const char *text, size_t len, const char *const *want)
{
    char **deps = NULL;
    int r = hb_compiler_parse_depfile(text, len, &deps);
    if (r != 0)
        HB_FAIL_("parse_depfile(\"%.*s\") returned %d", (int)len, text, r);
    size_t n = 0;
    while (want[n])
        n++;
    if (hb__strv_len(deps) != n) {
        fprintf(stderr, "depfile \"%.*s\" gave:\n", (int)len, text);
        for (char **d = deps; *d; d++)
            fprintf(stderr, "  [%s]\n", *d);
    }
    HB_CHECK_EQ(hb__strv_len(deps), n);
    for (size_t i = 0; i < n; i++)
        HB_CHECK_STR(deps[i], want[i]);
    hb__strv_free(deps);
}
#define DEPS(text, ...)                                                      \
    do {                                                                     \
        static const char *const w_[] = {__VA_ARGS__};                       \
        check_deps(text, sizeof(text) - 1, w_);                              \
    } while (0)

static void test_depfile(void)
{
    DEPS("out.so: a.c b.h \\\n c.h\n", "a.c", "b.h", "c.h", NULL);
    DEPS("out.so: /p/my\\ file.c x.h", "/p/my file.c", "x.h", NULL);
    DEPS("o: a$$b.h", "a$b.h", NULL);
    DEPS("o: a.h \\\r\n b.h\r\n", "a.h", "b.h", NULL);
    DEPS("o: a.h b.h\n\na.h:\n\nb.h:\n", "a.h", "b.h", NULL);
    DEPS("my\\ out.so: x.h\n", "x.h", NULL);
    DEPS("", NULL);
    DEPS("o: a\\#b.h", "a#b.h", NULL);
    DEPS("# comment\no: a.h", "a.h", NULL);
    DEPS("o:\\\n a.h", "a.h", NULL);
    DEPS("o1 o2: a.h\n", "a.h", NULL);
    DEPS("o: c:/x.h", "c:/x.h", NULL);
    DEPS("garbage without colon\n", NULL);
    char **deps = NULL;
    HB_CHECK_EQ(hb_compiler_parse_depfile("o: a\0b", 6, &deps), -EINVAL);
    HB_CHECK(deps == NULL);
    HB_CHECK_EQ(hb_compiler_parse_depfile(NULL, 1, &deps), -EINVAL);
}

static void check_diag(const hb_diag *d, const char *file, unsigned line, unsigned col,
                       const char *sev, const char *msg)
{
    HB_CHECK_STR(d->file, file);
    HB_CHECK_EQ(d->line, line);
    HB_CHECK_EQ(d->column, col);
    HB_CHECK_STR(d->severity, sev);
    HB_CHECK_STR(d->message, msg);
}

static void test_text(void)
{
    static const char text[] =
        "a.c: In function 'f':\n"
        "a.c:3:12: error: 'x' undeclared (first use in this function)\n"
        "    3 |     return x;\n"
        "      |            ^\n"
        "In file included from a.c:1:\n"
        "a.c:7: warning: old style\r\n"
        "cc1: fatal error: nothere.c: No such file or directory\n"
        "compilation terminated.\n"
        "error: invalid value 'json' in '-fdiagnostics-format json'\n"
        "clang: error: no such file or directory: 'x.c'\n"
        "/p/my file.c:2:5: note: declared here\n"
        "x.c:1:10: fatal error: y.h: No such file or directory\n"
        "1 error generated.\n"
        "a.c:1:2: error:\n"
        "/usr/bin/ld: cannot find -lfoo: No such file or directory\n"
        "collect2: error: ld returned 1 exit status";
    hb_diag *d = NULL;
    size_t n = 0;
    HB_CHECK_OK(hb_compiler_parse_diagnostics(text, sizeof(text) - 1, &d, &n));
    HB_CHECK_EQ(n, 9);
    check_diag(&d[0], "a.c", 3, 12, "error", "'x' undeclared (first use in this function)");
    check_diag(&d[1], "a.c", 7, 0, "warning", "old style");
    check_diag(&d[2], "cc1", 0, 0, "fatal error", "nothere.c: No such file or directory");
    check_diag(&d[3], "", 0, 0, "error", "invalid value 'json' in '-fdiagnostics-format json'");
    check_diag(&d[4], "clang", 0, 0, "error", "no such file or directory: 'x.c'");
    check_diag(&d[5], "/p/my file.c", 2, 5, "note", "declared here");
    check_diag(&d[6], "x.c", 1, 10, "fatal error", "y.h: No such file or directory");
    check_diag(&d[7], "a.c", 1, 2, "error", "");
    check_diag(&d[8], "collect2", 0, 0, "error", "ld returned 1 exit status");
    hb_diags_free(d, n);
}

static void test_text_edges(void)
{
    hb_diag *d = (hb_diag *)1;
    size_t n = 99;
    HB_CHECK_OK(hb_compiler_parse_diagnostics("", 0, &d, &n));
    HB_CHECK_EQ(n, 0);
    hb_diags_free(d, n);
    HB_CHECK_OK(hb_compiler_parse_diagnostics("a.c:99999999999999:1: error: big", 32, &d, &n));
    HB_CHECK_EQ(n, 1);
    HB_CHECK_EQ(d[0].line, 4294967295u);
    hb_diags_free(d, n);
}

static void test_json(void)
{
    static const char text[] =
        "[{\"kind\": \"fatal error\", \"children\": [], \"locations\": [{\"caret\": "
        "{\"line\": 1, \"file\": \"/p/f.c\", \"column\": 10}}], \"message\": \"nothere.h: No "
        "such file or directory\"}]\n"
        "compilation terminated.\n"
        "[{\"kind\": \"error\", \"children\": [{\"kind\": \"note\", \"locations\": [{\"caret\": "
        "{\"line\": 2, \"file\": \"/p/e.c\", \"column\": 10}}], \"message\": \"each undeclared "
        "identifier is reported only once\"}], \"locations\": [{\"caret\": {\"line\": 2, "
        "\"file\": \"/p/e.c\", \"column\": 10}}], \"message\": \"'x' undeclared\"}, "
        "{\"kind\": \"warning\", \"locations\": [], \"children\": [], \"message\": \"#warning "
        "hi\"}]\n"
        "[not json at all\n";
    hb_diag *d = NULL;
    size_t n = 0;
    char *rendered = NULL;
    HB_CHECK_OK(hb__parse_mixed_diagnostics(text, sizeof(text) - 1, &d, &n, &rendered));
    HB_CHECK_EQ(n, 4);
    check_diag(&d[0], "/p/f.c", 1, 10, "fatal error", "nothere.h: No such file or directory");
    check_diag(&d[1], "/p/e.c", 2, 10, "error", "'x' undeclared");
    check_diag(&d[2], "/p/e.c", 2, 10, "note", "each undeclared identifier is reported only once");
    check_diag(&d[3], "", 0, 0, "warning", "#warning hi");
    HB_CHECK_STR(rendered,
                 "/p/f.c:1:10: fatal error: nothere.h: No such file or directory\n"
                 "compilation terminated.\n"
                 "/p/e.c:2:10: error: 'x' undeclared\n"
                 "/p/e.c:2:10: note: each undeclared identifier is reported only once\n"
                 "warning: #warning hi\n"
                 "[not json at all\n");
    hb_diags_free(d, n);
    free(rendered);
}

int main(void)
{
    test_depfile();
    test_text();
    test_text_edges();
    test_json();
    printf("ok\n");
    return 0;
}
