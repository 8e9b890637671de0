/* plugin.json "runtime" section end to end (issue 18): a bad key fails the
 * compile with the file, line and key while the last good version keeps
 * serving; runtime.call_timeout_ms makes a hanging call fail at that
 * timeout instead of the sandbox's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"

static e2e_events ev;

static hb_sandbox *sandbox(hb_manager *m, unsigned call_timeout_ms)
{
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.call_timeout_ms = call_timeout_ms;
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(m, &so, &sb));
    return sb;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static const char *spinner(int version)
{
    return e2e_counter_src(version, 1,
                           "int64_t spin(void) { for (;;) __asm__ volatile(\"\"); return 0; }\n"
                           "HB_PLUGIN(\"counter\", 1, 0, 0, save, migrate);");
}

static void case_bad_key(void)
{
    e2e_write("counter", "plugin.json", "{\"runtime\": {\"call_timeout_ms\": 5000}}\n");
    char *dir = e2e_write("counter", "counter.c", spinner(1));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 10000);
    HB_CHECK_OK(hb_load(sb, dir));
    int64_t v;
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    e2e_write("counter", "plugin.json", "{\n  \"runtime\": {\n    \"timeout_ms\": 5}\n}\n");
    e2e_write("counter", "counter.c", spinner(2));
    int r = hb_reload(sb, "counter");
    printf("reload with a bad runtime key -> %d: %s\n", r, hb_sandbox_last_error(sb));
    HB_CHECK(r < 0);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "plugin.json:3:5:");
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "\"timeout_ms\"");
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "unknown key in runtime");
    int32_t ver;
    HB_CHECK_OK(hb_callf(sb, "counter", "version", ")i", &ver));
    HB_CHECK_EQ(ver, 1);
    HB_CHECK_OK(hb_callf(sb, "counter", "get", ")l", &v));
    HB_CHECK_EQ(v, 1);
    e2e_free(sb, m);
}

/* Runs spin() in a sandbox whose own call timeout is sandbox_ms; returns
 * how long the failing call took. */
static double hang(const char *json, unsigned sandbox_ms)
{
    e2e_write("counter", "plugin.json", json);
    char *dir = e2e_write("counter", "counter.c", spinner(1));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, sandbox_ms);
    HB_CHECK_OK(hb_load(sb, dir));
    int64_t v;
    double t0 = now_ms();
    int r = hb_callf(sb, "counter", "spin", ")l", &v);
    double took = now_ms() - t0;
    printf("spin() -> %d after %.0f ms: %s\n", r, took, hb_sandbox_last_error(sb));
    HB_CHECK_EQ(r, HB_EHUNG);
    e2e_free(sb, m);
    return took;
}

static void case_call_timeout(void)
{
    /* The sandbox allows 30 s; the plugin asks for 300 ms. */
    double took = hang("{\"runtime\": {\"call_timeout_ms\": 300}}\n", 30000);
    HB_CHECK(took >= 290);
    HB_CHECK(took < 10000);
}

static void case_call_timeout_ceiling(void)
{
    /* The plugin asks for 60 s; the sandbox's 300 ms is the ceiling. */
    double took = hang("{\"runtime\": {\"call_timeout_ms\": 60000}}\n", 300);
    HB_CHECK(took < 10000);
}

/* A plugin whose reader() returns the number in <dir>/testdata/n.txt (-1:
 * cannot open) and whose greeting() returns strlen(getenv("GREETING"))
 * (-1: unset). */
static char *reader_plugin(const char *json)
{
    e2e_write("counter", "plugin.json", json);
    char *dir = e2e_write("counter/testdata", "n.txt", "42\n");
    dir[strlen(dir) - strlen("/testdata")] = 0;
    char extra[8192];
    snprintf(extra, sizeof(extra),
             "#include <stdio.h>\n"
             "int64_t reader(void) { FILE *f = fopen(\"%s/testdata/n.txt\", \"r\"); long n = -1;"
             " if (!f) return -1; if (fscanf(f, \"%%ld\", &n) != 1) n = -2; fclose(f); return n; }\n"
             "int64_t greeting(void) { const char *g = getenv(\"GREETING\"); return g ? (int64_t)strlen(g) : -1; }\n"
             "HB_PLUGIN(\"counter\", 1, 0, 0, save, migrate);",
             dir);
    return e2e_write("counter", "counter.c", e2e_counter_src(1, 1, extra));
}

static int64_t call_in_new(const char *json, const char *fn)
{
    char *dir = reader_plugin(json);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 10000);
    int r = hb_load(sb, dir);
    if (r < 0)
        printf("load: %s\n", hb_sandbox_last_error(sb));
    HB_CHECK_OK(r);
    int64_t v = 0;
    HB_CHECK_OK(hb_callf(sb, "counter", fn, ")l", &v));
    e2e_free(sb, m);
    return v;
}

static void case_data(void)
{
    /* A jail that drops root binds as an unprivileged host uid: the data
     * directory's parents must be searchable by it (mkdtemp made 0700). */
    HB_CHECK(chmod(e2e_root, 0755) == 0);
    int64_t without = call_in_new("{}\n", "reader");
    printf("reader() without runtime.data: %lld\n", (long long)without);
    if (without != -1) {
        printf("SKIP: the worker is not jailed here (it reads the plugin directory anyway)\n");
        exit(77);
    }
    int64_t with = call_in_new("{\"runtime\": {\"data\": [\"testdata\"]}}\n", "reader");
    printf("reader() with runtime.data: %lld\n", (long long)with);
    HB_CHECK_EQ(with, 42);
}

static void case_data_outside(void)
{
    char *dir = reader_plugin("{\"runtime\": {\"data\": [\"escape\"]}}\n");
    char link[4400];
    snprintf(link, sizeof(link), "%s/escape", dir);
    unlink(link);
    HB_CHECK(symlink("/etc", link) == 0);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 10000);
    int r = hb_load(sb, dir);
    printf("load with data -> /etc: %d: %s\n", r, hb_sandbox_last_error(sb));
    HB_CHECK(r < 0);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "\"runtime.data\"");
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "outside the plugin directory");
    e2e_free(sb, m);
}

/* As root with a jail that drops root, a data directory under a 0700
 * parent cannot be bound: the load is refused with the path named and the
 * sandbox keeps serving the plugin it has. */
static void case_data_unreachable(void)
{
    if (geteuid() != 0) {
        printf("SKIP: only root binds as another user\n");
        exit(77);
    }
    char *other = e2e_write("other", "other.c", e2e_counter_src(1, 1, "HB_PLUGIN(\"other\", 1, 0, 0, save, migrate);"));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, 10000);
    HB_CHECK_OK(hb_load(sb, other));
    int64_t v;
    HB_CHECK_OK(hb_callf(sb, "other", "increment", ")l", &v));
    HB_CHECK(chmod(e2e_root, 0700) == 0);
    char *dir = reader_plugin("{\"runtime\": {\"data\": [\"testdata\"]}}\n");
    int r = hb_load(sb, dir);
    printf("load -> %d: %s\n", r, hb_sandbox_last_error(sb));
    if (r == 0) {
        printf("SKIP: the jail does not drop root here\n");
        exit(77);
    }
    HB_CHECK_EQ(r, -EACCES);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), e2e_root);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "runtime.data");
    HB_CHECK_OK(hb_callf(sb, "other", "increment", ")l", &v));
    HB_CHECK_EQ(v, 2);
    e2e_free(sb, m);
}

static void case_env(void)
{
    HB_CHECK_EQ(call_in_new("{}\n", "greeting"), -1);
    HB_CHECK_EQ(call_in_new("{\"runtime\": {\"env\": {\"GREETING\": \"hello\"}}}\n", "greeting"), 5);
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"bad_key", case_bad_key},
        {"call_timeout", case_call_timeout},
        {"call_timeout_ceiling", case_call_timeout_ceiling},
        {"data", case_data},
        {"data_outside", case_data_outside},
        {"data_unreachable", case_data_unreachable},
        {"env", case_env},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
