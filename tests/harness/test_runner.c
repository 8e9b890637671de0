/* tests/harness/test_runner.c - the one self-test runner (hb_run_test):
 * hb_setup/hb_teardown mean the same in watch mode (hb_run_selftests) and
 * in `hotbox test`; the order and the failure rules of hotbox.h. */
#include "e2e.h"

/* A plugin whose tests see whether the fixture ran. `mode` picks what
 * hb_setup / the test / hb_teardown return. */
static const char *fixture_src(int setup_rc, int test_rc, int teardown_rc)
{
    static char src[4096];
    snprintf(src, sizeof(src),
             "#include <hotbox/plugin.h>\n"
             "static int ready, setups, tests, teardowns;\n"
             "HB_EXPORT_FN int hb_setup(void) { setups++; ready = 1; return %d; }\n"
             "HB_EXPORT_FN int hb_teardown(void) { teardowns++; ready = 0; return %d; }\n"
             "HB_EXPORT_FN int hb_test_sees_setup(void) { tests++; return ready ? %d : 99; }\n"
             "HB_EXPORT_FN int counts(void) { return setups * 100 + tests * 10 + teardowns; }\n"
             "HB_PLUGIN(\"fixture\", 1, 0, 0, 0, 0);\n",
             setup_rc, teardown_rc, test_rc);
    return src;
}

static hb_sandbox *load(hb_manager *m, int setup_rc, int test_rc, int teardown_rc)
{
    char *dir = e2e_write("fixture", "fixture.c", fixture_src(setup_rc, test_rc, teardown_rc));
    hb_sandbox *sb = e2e_loaded(m, NULL, dir);
    return sb;
}

static int counts(hb_sandbox *sb)
{
    int32_t c = -1;
    HB_CHECK_OK(hb_callf(sb, "fixture", "counts", ")i", &c));
    return c;
}

/* Watch mode's self-tests run the fixture around each test (they did not
 * before: the test saw no setup and failed). */
static void case_selftests_use_fixture(void)
{
    e2e_events ev = {0};
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = load(m, 0, 0, 0);
    unsigned passed = 9, failed = 9;
    HB_CHECK_OK(hb_run_selftests(sb, "fixture", &passed, &failed));
    HB_CHECK_EQ(passed, 1);
    HB_CHECK_EQ(failed, 0);
    HB_CHECK_EQ(counts(sb), 111);
    HB_CHECK_CONTAINS(ev.last[HB_EVENT_SELFTEST], "hb_test_sees_setup passed");
    e2e_free(sb, m);
}

/* A failing hb_setup fails the test, which does not run, nor teardown. */
static void case_setup_fails(void)
{
    e2e_events ev = {0};
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = load(m, 7, 0, 0);
    hb_test_result res;
    HB_CHECK_OK(hb_run_test(sb, "fixture", "hb_test_sees_setup", &res));
    HB_CHECK_EQ(res.passed, 0);
    HB_CHECK_STR(res.failed_in, "hb_setup");
    HB_CHECK_EQ(res.returned, 7);
    HB_CHECK_EQ(res.error, 0);
    HB_CHECK_EQ(counts(sb), 100);
    unsigned passed = 9, failed = 9;
    HB_CHECK_OK(hb_run_selftests(sb, "fixture", &passed, &failed));
    HB_CHECK_EQ(failed, 1);
    HB_CHECK_CONTAINS(ev.last[HB_EVENT_SELFTEST], "FAILED (hb_setup returned 7)");
    e2e_free(sb, m);
}

/* A test that returns nonzero still gets its teardown; its failure is the
 * one reported even when the teardown fails too. */
static void case_teardown_after_failure(void)
{
    e2e_events ev = {0};
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = load(m, 0, 3, 5);
    hb_test_result res;
    HB_CHECK_OK(hb_run_test(sb, "fixture", "hb_test_sees_setup", &res));
    HB_CHECK_EQ(res.passed, 0);
    HB_CHECK_STR(res.failed_in, "hb_test_sees_setup");
    HB_CHECK_EQ(res.returned, 3);
    HB_CHECK_EQ(counts(sb), 111);
    HB_CHECK(res.ms > 0);
    e2e_free(sb, m);
}

/* A failing teardown fails a test that had passed. */
static void case_teardown_fails(void)
{
    e2e_events ev = {0};
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = load(m, 0, 0, 4);
    hb_test_result res;
    HB_CHECK_OK(hb_run_test(sb, "fixture", "hb_test_sees_setup", &res));
    HB_CHECK_EQ(res.passed, 0);
    HB_CHECK_STR(res.failed_in, "hb_teardown");
    HB_CHECK_EQ(res.returned, 4);
    HB_CHECK_EQ(hb_run_test(sb, "nosuch", "hb_test_x", &res) < 0, 1);
    HB_CHECK_EQ(hb_run_test(NULL, "fixture", "hb_test_x", &res), -EINVAL);
    e2e_free(sb, m);
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"selftests_use_fixture", case_selftests_use_fixture},
        {"setup_fails", case_setup_fails},
        {"teardown_after_failure", case_teardown_after_failure},
        {"teardown_fails", case_teardown_fails},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
