/* plugin.json "runtime" section end to end (issue 18): a bad key fails the
 * compile with the file, line and key while the last good version keeps
 * serving; runtime.call_timeout_ms makes a hanging call fail at that
 * timeout instead of the sandbox's. */
#include <stdio.h>
#include <time.h>

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
    hb_sandbox_free(sb);
    hb_manager_free(m);
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
    hb_sandbox_free(sb);
    hb_manager_free(m);
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

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"bad_key", case_bad_key},
        {"call_timeout", case_call_timeout},
        {"call_timeout_ceiling", case_call_timeout_ceiling},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
