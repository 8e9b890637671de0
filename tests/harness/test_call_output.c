/* tests/harness/test_call_output.c - a call's captured output is in the
 * sandbox's output file by the time hb_call returns, with no newline and
 * no flush of the plugin's own: the worker flushes stdout and stderr (each
 * when it holds bytes, worker/output.c) before it replies, through the
 * ring as through the socket. stderr made fully buffered by the plugin
 * counts too. Both the standard profile (seccomp, jailed) and permissive. */
#include <fcntl.h>
#include <unistd.h>

#include "e2e.h"

static e2e_events ev;

static const char talker[] =
    "#include <hotbox/plugin.h>\n#include <stdio.h>\n"
    "int out(int n) { printf(\"o%d\", n); return n; }\n"
    "int err(int n) { static int once; static char b[4096];\n"
    "  if (!once++) setvbuf(stderr, b, _IOFBF, sizeof b);\n"
    "  fprintf(stderr, \"e%d\", n); return n; }\n"
    "HB_PLUGIN(\"talker\", 1, 0, 0, 0, 0);\n";

/* Checks that path holds exactly want, read right after the call returned. */
static void holds(const char *path, const char *want)
{
    char buf[256];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    HB_CHECK(fd >= 0);
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    HB_CHECK(n >= 0);
    buf[n < 0 ? 0 : n] = '\0';
    HB_CHECK_STR(buf, want);
}

static void output_cases(hb_profile profile, const char *name)
{
    char out[4300];
    snprintf(out, sizeof(out), "%s/%s.out", e2e_root, name);
    char *dir = e2e_write("talker", "talker.c", talker);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox_options so = HB_SANDBOX_OPTIONS_INIT;
    so.profile = profile;
    so.output_path = out;
    hb_sandbox *sb = e2e_loaded(m, &so, dir);
    int32_t got = 0;
    HB_CHECK_OK(hb_callf(sb, "talker", "out", "i)i", 1, &got));
    HB_CHECK_EQ(got, 1);
    holds(out, "o1");
    HB_CHECK_OK(hb_callf(sb, "talker", "out", "i)i", 2, &got));
    holds(out, "o1o2");
    HB_CHECK_OK(hb_callf(sb, "talker", "err", "i)i", 3, &got));
    holds(out, "o1o2e3");
    HB_CHECK_OK(hb_callf(sb, "talker", "err", "i)i", 4, &got));
    HB_CHECK_OK(hb_callf(sb, "talker", "out", "i)i", 5, &got));
    holds(out, "o1o2e3e4o5");
    e2e_free(sb, m);
}

static void case_standard(void) { output_cases(HB_PROFILE_STANDARD, "standard"); }
static void case_permissive(void) { output_cases(HB_PROFILE_PERMISSIVE, "permissive"); }

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"standard", case_standard},
        {"permissive", case_permissive},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
