/* tests/harness/test_crash_report.c - symbolized crash reports: plugin
 * code that dereferences NULL in foo() at a known line; the sandbox's last
 * error names the signal, foo and crashy.c:line with a backtrace through
 * its callers, and the CRASHED event carries the backtrace.
 * Each case runs as: test_crash_report CASE. */
#include "e2e.h"

/* Line 8 of crashy.c is the faulting load (FOO_LINE). */
#define FOO_LINE "8"
static const char crashy_c[] =
    "#include <hotbox/plugin.h>\n"                                      /* 1 */
    "#include <stdint.h>\n"                                             /* 2 */
    "#include <stddef.h>\n"                                             /* 3 */
    "int *volatile nowhere;\n"                                          /* 4 */
    "int64_t fine(void) { return 42; }\n"                               /* 5 */
    "__attribute__((noinline)) int foo(int k)\n"                        /* 6 */
    "{\n"                                                               /* 7 */
    "    return *nowhere + k;\n"                                        /* 8 */
    "}\n"                                                               /* 9 */
    "__attribute__((noinline)) int bar(int k) { return foo(k) * 3 + 1; }\n" /* 10 */
    "int64_t crash(void) { return bar(2) + 5; }\n"                      /* 11 */
    "HB_PLUGIN(\"crashy\", 1, 0, 0, NULL, NULL);\n";

static e2e_events ev;

static void run(hb_profile profile)
{
    char *dir = e2e_write("crashy", "crashy.c", crashy_c);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.profile = profile;
    hb_sandbox *sb = NULL;
    HB_CHECK_OK(hb_sandbox_new(m, &so, &sb));
    int r = hb_load(sb, dir);
    if (r == HB_EWORKER) {
        printf("SKIP: this profile cannot run here: %s\n", hb_sandbox_last_error(sb));
        exit(77);
    }
    HB_CHECK_OK(r);
    int64_t v = 0;
    HB_CHECK_EQ(hb_callf(sb, "crashy", "crash", ")l", &v), HB_ECRASHED);
    const char *err = hb_sandbox_last_error(sb);
    const char *crashed_message = ev.last[HB_EVENT_CRASHED];
    const char *crashed_backtrace = ev.backtrace[HB_EVENT_CRASHED];
    printf("last error:\n%s\nevent: %s\nbacktrace:\n%s\n", err, crashed_message,
           crashed_backtrace);
    HB_CHECK_CONTAINS(err, "SIGSEGV");
    /* Files are named by their real paths: <dir>/crashy.c. */
    char at[4400], f0[4400], f1[4400], f2[4400];
    snprintf(at, sizeof(at), "in crashy v1 at foo (%s/crashy.c:" FOO_LINE ")", dir);
    snprintf(f0, sizeof(f0), "backtrace:\n  #0 foo (%s/crashy.c:" FOO_LINE ") in crashy v1", dir);
    snprintf(f1, sizeof(f1), "\n  #1 bar (%s/crashy.c:10) in crashy v1", dir);
    snprintf(f2, sizeof(f2), "\n  #2 crash (%s/crashy.c:11) in crashy v1", dir);
    HB_CHECK_CONTAINS(err, at);
    HB_CHECK_CONTAINS(err, f0);
    HB_CHECK_CONTAINS(err, f1);
    HB_CHECK_CONTAINS(err, f2);
    /* The event: the one-line reason, and the backtrace in its own field. */
    HB_CHECK_EQ(ev.count[HB_EVENT_CRASHED], 1);
    HB_CHECK_CONTAINS(crashed_message, at);
    HB_CHECK(strchr(crashed_message, '\n') == NULL);
    HB_CHECK_CONTAINS(crashed_backtrace, f0 + strlen("backtrace:\n"));
    /* The sandbox serves on. */
    HB_CHECK_OK(hb_callf(sb, "crashy", "fine", ")l", &v));
    HB_CHECK_EQ(v, 42);
    e2e_free(sb, m);
}

/* A fault whose stack cannot be unwound (the stack pointer is garbage, so
 * the unwinder itself faults in the signal handler) is still attributed to
 * the plugin: the report without a backtrace goes out before the unwind. */
static void case_bad_stack(void)
{
#if defined(__x86_64__)
    char *dir = e2e_write("smash", "smash.c",
                          "#include <hotbox/plugin.h>\n#include <stdint.h>\n"
                          "int64_t smash(void) { __asm__ volatile(\"mov $0x10, %%rsp\\n\\tmov (%%rsp), %%rax\" ::: \"rax\", \"memory\"); return 0; }\n"
                          "HB_PLUGIN(\"smash\", 1, 0, 0, NULL, NULL);\n");
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = e2e_loaded(m, NULL, dir);
    int64_t v = 0;
    HB_CHECK_EQ(hb_callf(sb, "smash", "smash", ")l", &v), HB_ECRASHED);
    const char *err = hb_sandbox_last_error(sb);
    printf("last error:\n%s\n", err);
    HB_CHECK_CONTAINS(err, "SIGSEGV");
    HB_CHECK_CONTAINS(err, "in smash v1 at smash (");
    e2e_free(sb, m);
#else
    printf("SKIP: the bad-stack plugin is x86-64 assembly\n");
    exit(77);
#endif
}

static void case_standard(void) { run(HB_PROFILE_STANDARD); }
static void case_permissive(void) { run(HB_PROFILE_PERMISSIVE); }

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"standard", case_standard},
        {"permissive", case_permissive},
        {"bad_stack", case_bad_stack},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
