/* tests/harness/test_batch.c - hb_run_tests: many self-tests in one round
 * trip with per-test results: a crash in test k reports test k crashed and
 * the tests after it still run (in a fresh worker); a hang is cut at that
 * test's own deadline and the rest continue; each test's output is exactly
 * its own; the fixture runs around each test; progress is reported live. */
#include <fcntl.h>
#include <time.h>

#include "e2e.h"

static e2e_events ev;

/* Tests print "<name> out" on stdout and "<name> err" on stderr. */
static const char *src =
    "#include <hotbox/plugin.h>\n#include <signal.h>\n#include <stdio.h>\n#include <unistd.h>\n"
    "static int fixture;\n"
    "#define SAY(n) (printf(n \" out\\n\"), fflush(stdout), fprintf(stderr, n \" err\\n\"))\n"
    "HB_EXPORT_FN int hb_setup(void) { fixture = 1; return 0; }\n"
    "HB_EXPORT_FN int hb_teardown(void) { fixture = 0; return 0; }\n"
    "HB_EXPORT_FN int hb_test_a(void) { SAY(\"a\"); return fixture == 1 ? 0 : 9; }\n"
    "HB_EXPORT_FN int hb_test_b(void) { SAY(\"b\"); return 3; }\n"
    "HB_EXPORT_FN int hb_test_crash(void) { SAY(\"crash\"); fflush(NULL); raise(SIGSEGV); return 0; }\n"
    "HB_EXPORT_FN int hb_test_c(void) { SAY(\"c\"); return 0; }\n"
    "HB_EXPORT_FN int hb_test_hang(void) { SAY(\"hang\"); fflush(NULL); for (;;) pause(); }\n"
    "HB_EXPORT_FN int hb_test_d(void) { SAY(\"d\"); return fixture == 1 ? 0 : 9; }\n"
    "HB_PLUGIN(\"batch\", 1, 0, 0, 0, 0);\n";

static char *out_path;
static size_t reported; /* progress callbacks so far */

static void on_done(void *ud, size_t i, const hb_test_outcome *o)
{
    (void)o;
    size_t *base = ud;
    HB_CHECK_EQ(*base + i, reported); /* in order, each once */
    reported++;
}

/* Bytes [from, to) of the output file (to UINT64_MAX: to its end). */
static char *slice(uint64_t from, uint64_t to)
{
    char *all = NULL;
    size_t n = 0;
    FILE *f = fopen(out_path, "r");
    HB_CHECK(f != NULL);
    FILE *m = open_memstream(&all, &n);
    int c;
    while ((c = fgetc(f)) != EOF)
        fputc(c, m);
    fclose(f);
    fclose(m);
    if (to > n)
        to = n;
    char *s = strndup(all + (from < to ? from : to), from < to ? to - from : 0);
    free(all);
    return s;
}

static void case_outcomes(void)
{
    char *dir = e2e_write("batch", "batch.c", src);
    char p[4300];
    snprintf(p, sizeof(p), "%s/out", e2e_root);
    out_path = strdup(p);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox_options so;
    hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION);
    so.call_timeout_ms = 400;
    so.output_path = out_path;
    hb_sandbox *sb = e2e_loaded(m, &so, dir);
    const char *tests[] = {"hb_test_a", "hb_test_b", "hb_test_crash", "hb_test_c",
                           "hb_test_hang", "hb_test_d"};
    const size_t n = sizeof(tests) / sizeof(tests[0]);
    hb_test_outcome out[6];
    char *output[6];
    size_t done = 0, calls = 0;
    uint64_t t_hang0 = 0;
    double hang_ms = 0;
    while (done < n) {
        int fd = open(out_path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        HB_CHECK(fd >= 0);
        close(fd);
        size_t ran = 0, base = done;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        t_hang0 = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        HB_CHECK_OK(hb_run_tests(sb, "batch", tests + done, n - done, out + done, &ran, on_done,
                                 &base));
        clock_gettime(CLOCK_MONOTONIC, &ts);
        if (done + ran - 1 == 4) /* this call ended in the hang */
            hang_ms = (double)((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec -
                               t_hang0) / 1e6;
        HB_CHECK(ran >= 1 && done + ran <= n);
        uint64_t from = 0;
        for (size_t i = done; i < done + ran; i++) {
            output[i] = slice(from, out[i].output_end);
            if (out[i].output_end != UINT64_MAX)
                from = out[i].output_end;
        }
        done += ran;
        calls++;
    }
    HB_CHECK_EQ(reported, n);
    /* Three round trips: up to the crash, up to the hang, the rest. */
    HB_CHECK_EQ(calls, 3);
    HB_CHECK(out[0].result.passed);
    HB_CHECK_STR(output[0], "a out\na err\n");
    HB_CHECK(!out[1].result.passed);
    HB_CHECK_EQ(out[1].result.error, 0);
    HB_CHECK_EQ(out[1].result.returned, 3);
    HB_CHECK_STR(out[1].result.failed_in, "hb_test_b");
    HB_CHECK_STR(output[1], "b out\nb err\n");
    HB_CHECK_EQ(out[2].result.error, HB_ECRASHED);
    HB_CHECK_STR(out[2].result.failed_in, "hb_test_crash");
    HB_CHECK_CONTAINS(out[2].error_text, "SIGSEGV");
    HB_CHECK_CONTAINS(output[2], "crash out\n");
    HB_CHECK(strstr(output[2], "b out") == NULL);
    HB_CHECK(out[3].result.passed); /* after the crash, in a fresh worker */
    HB_CHECK_STR(output[3], "c out\nc err\n");
    HB_CHECK_EQ(out[4].result.error, HB_EHUNG);
    HB_CHECK_CONTAINS(output[4], "hang out\n");
    /* Cut at its own deadline (3 steps x 400 ms), not the batch's. */
    HB_CHECK(hang_ms >= 1200 && hang_ms < 1200 + 5000);
    HB_CHECK(out[5].result.passed);
    HB_CHECK_STR(output[5], "d out\nd err\n");
    for (size_t i = 0; i < n; i++)
        free(output[i]);
    e2e_free(sb, m);
}

/* The fixture is known per version (selftest.c keeps it in the slot): a
 * reload that adds hb_setup is seen by the next batch, and one that takes
 * it away too. */
static void case_fixture_follows_swap(void)
{
    static const char *const v[3] = {
        "#include <hotbox/plugin.h>\nstatic int fixture;\n"
        "HB_EXPORT_FN int hb_test_x(void) { return fixture == 1 ? 0 : 9; }\n"
        "HB_PLUGIN(\"fx\", 1, 0, 0, 0, 0);\n",
        "#include <hotbox/plugin.h>\nstatic int fixture;\n"
        "HB_EXPORT_FN int hb_setup(void) { fixture = 1; return 0; }\n"
        "HB_EXPORT_FN int hb_test_x(void) { return fixture == 1 ? 0 : 9; }\n"
        "HB_PLUGIN(\"fx\", 1, 0, 0, 0, 0);\n",
        "#include <hotbox/plugin.h>\nstatic int fixture;\n"
        "HB_EXPORT_FN int hb_test_x(void) { return fixture == 1 ? 0 : 8; }\n"
        "HB_PLUGIN(\"fx\", 1, 0, 0, 0, 0);\n"};
    static const int want[3] = {9, 0, 8}; /* what hb_test_x returns */
    char *dir = e2e_write("fx", "fx.c", v[0]);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = e2e_loaded(m, NULL, dir);
    const char *tests[] = {"hb_test_x"};
    for (int k = 0; k < 3; k++) {
        if (k > 0) {
            e2e_write("fx", "fx.c", v[k]);
            HB_CHECK_OK(hb_reload(sb, "fx"));
        }
        /* Twice per version: the second batch takes the kept answer. */
        for (int rep = 0; rep < 2; rep++) {
            hb_test_outcome out[1];
            size_t ran = 0;
            HB_CHECK_OK(hb_run_tests(sb, "fx", tests, 1, out, &ran, NULL, NULL));
            HB_CHECK_EQ(ran, 1);
            HB_CHECK_EQ(out[0].result.passed, want[k] == 0);
            HB_CHECK_EQ(out[0].result.returned, want[k]);
        }
    }
    e2e_free(sb, m);
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"outcomes", case_outcomes},
        {"fixture_follows_swap", case_fixture_follows_swap},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
