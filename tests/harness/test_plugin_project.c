/* A plugin laid out like real third-party code (docs/writing-plugins.md
 * "Third-party code inside a plugin"): plugin.json's "sources" names src/
 * (sources in subdirectories, in sorted order), include/ holds the
 * headers, and the flags name files by paths relative to the plugin
 * directory ("-include config.h", "-Wl,--version-script=feat.map"), which
 * works because the compile runs in the plugin directory. It builds,
 * loads and answers; bad "sources" entries fail with plugin.json's name,
 * the key and the entry while the last good version keeps serving; watch
 * mode sees an edit in src/ and a new file appearing there. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"

static e2e_events ev;

#define PROJECT_JSON                                                                              \
    "{\n  \"sources\": [\"src\", \"src/\", \"./src/sub\"],\n  \"include\": [\"include\"],\n"     \
    "  \"cflags\": [\"-include\", \"config.h\"],\n"                                               \
    "  \"libs\": [\"-Wl,--version-script=feat.map\"]\n}\n"

/* version() comes from src/a.c, answer() from src/sub/b.c through
 * include/feat.h; both need config.h's FEAT_BASE, which only the relative
 * "-include config.h" brings in. */
static char *write_project(const char *name, int version)
{
    char a[512];
    snprintf(a, sizeof(a),
             "#include <hotbox/plugin.h>\n#include <stdint.h>\n#include \"feat.h\"\n"
             "int32_t version(void) { return %d + FEAT_BASE; }\n"
             "HB_PLUGIN(\"%s\", 1, 0, 0, 0, 0);\n",
             version, name);
    char path[4400];
    snprintf(path, sizeof(path), "plugins/%s", name);
    e2e_write(path, "config.h", "#define FEAT_BASE 1000\n");
    e2e_write(path, "feat.map", "FEAT_1.0 { global: *; };\n");
    e2e_write(path, "plugin.json", PROJECT_JSON);
    snprintf(path, sizeof(path), "plugins/%s/include", name);
    e2e_write(path, "feat.h", "#include <stdint.h>\nint64_t feat_answer(void);\n");
    snprintf(path, sizeof(path), "plugins/%s/src/sub", name);
    e2e_write(path, "b.c", "#include \"feat.h\"\n"
                           "int64_t feat_answer(void) { return FEAT_BASE + 42; }\n"
                           "int64_t answer(void) { return feat_answer(); }\n");
    snprintf(path, sizeof(path), "plugins/%s/src", name);
    e2e_write(path, "a.c", a);
    snprintf(path, sizeof(path), "%s/plugins/%s", e2e_root, name);
    return e2e_ring(path);
}

static int32_t version_of(hb_sandbox *sb, const char *plugin)
{
    int32_t v = -1;
    HB_CHECK_OK(hb_callf(sb, plugin, "version", ")i", &v));
    return v;
}

/* version 1 of proj answers: config.h's FEAT_BASE reached both files. */
static void check_answers(hb_sandbox *sb)
{
    HB_CHECK_EQ(version_of(sb, "proj"), 1001);
    int64_t v = 0;
    HB_CHECK_OK(hb_callf(sb, "proj", "answer", ")l", &v));
    HB_CHECK_EQ(v, 1042);
}

static void case_build_load_call(void)
{
    char *dir = write_project("proj", 1);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    int r = hb_load(sb, dir);
    printf("load %s -> %d: %s\n", dir, r, r < 0 ? hb_sandbox_last_error(sb) : "");
    HB_CHECK_OK(r);
    check_answers(sb);
    e2e_free(sb, m);
}

/* The same in the namespace backend's jail: the plugin directory is bound
 * at its own path and the compile starts there. */
static void case_namespace(void)
{
    char *dir = write_project("proj", 1);
    hb_manager_options o = e2e_options(e2e_on_event, &ev);
    o.isolation = HB_ISOLATION_NAMESPACE;
    hb_manager *m = NULL;
    if (hb_manager_new(&o, &m) != 0) {
        printf("SKIP: no namespace backend here\n");
        exit(77);
    }
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    int r = hb_load(sb, dir);
    printf("load %s -> %d: %s\n", dir, r, r < 0 ? hb_sandbox_last_error(sb) : "");
    if (r == HB_EISOLATION) {
        printf("SKIP: namespace backend unavailable: %s\n", hb_sandbox_last_error(sb));
        e2e_free(sb, m);
        exit(77);
    }
    HB_CHECK_OK(r);
    check_answers(sb);
    e2e_free(sb, m);
}

/* Each bad plugin.json fails the reload naming the file, the key and the
 * entry; the version loaded before keeps answering. */
static void case_bad_sources(void)
{
    char *dir = write_project("proj", 1);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    HB_CHECK_OK(hb_load(sb, dir));
    static const struct {
        const char *json, *want[3];
    } bad[] = {
        {"{\n  \"sources\": [\"../other\"]\n}\n", {"plugin.json:2:3:", "\"sources\"", "\"../other\" leaves"}},
        {"{\n  \"sources\": [\"/etc\"]\n}\n", {"plugin.json:2:3:", "\"sources\"", "\"/etc\" is absolute"}},
        {"{\"sources\": \"src\"}\n", {"plugin.json:1:2:", "\"sources\"", "array of strings"}},
        {"{\"sources\": [\"srcs\"]}\n", {"plugin.json", "\"sources\"", "\"srcs\" does not exist"}},
        {"{\"sources\": [\"feat.map\"]}\n", {"plugin.json", "\"sources\"", "\"feat.map\" is not a source"}},
        {"{\"sources\": [\"outside\"]}\n", {"plugin.json", "\"sources\"", "\"outside\" leads outside"}},
        {"{\"sources\": [\"include\"]}\n", {"proj", "holds no", "\"sources\""}},
    };
    char link[4300];
    snprintf(link, sizeof(link), "%s/outside", dir);
    HB_CHECK(symlink("/usr/include", link) == 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        e2e_write("plugins/proj", "plugin.json", bad[i].json);
        int r = hb_reload(sb, "proj");
        printf("reload with %s -> %d: %s\n", bad[i].json, r, hb_sandbox_last_error(sb));
        HB_CHECK(r < 0);
        for (size_t k = 0; k < 3; k++)
            HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), bad[i].want[k]);
        HB_CHECK_EQ(version_of(sb, "proj"), 1001);
    }
    e2e_free(sb, m);
}

/* Runs hb_watch_process until proj's version() is want; fails after
 * timeout_ms. */
static void wait_version(hb_watch *w, hb_sandbox *sb, int32_t want, int timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t end = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000 + timeout_ms;
    for (;;) {
        HB_CHECK(hb_watch_process(w) >= 0);
        if (version_of(sb, "proj") == want)
            return;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t now = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
        if (now >= end)
            HB_FAIL_("proj is at version %d, not %d, after %d ms", version_of(sb, "proj"), want,
                     timeout_ms);
        struct pollfd p = {.fd = hb_watch_fd(w), .events = POLLIN};
        poll(&p, 1, (int)(end - now));
    }
}

static void case_watch_src(void)
{
    write_project("proj", 1);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    char root[4200];
    snprintf(root, sizeof(root), "%s/plugins", e2e_root);
    const char *roots[] = {root, NULL};
    hb_watch_options wo = HB_WATCH_OPTIONS_INIT;
    wo.run_selftests = -1;
    hb_watch *w = NULL;
    HB_CHECK_OK(hb_watch_new(sb, roots, &wo, &w));
    HB_CHECK_EQ(version_of(sb, "proj"), 1001);
    /* An edit of src/a.c swaps. */
    write_project("proj", 2);
    wait_version(w, sb, 1002, 60000);
    printf("edit of src/a.c swapped\n");
    fflush(stdout);
    /* A new file in src/ is a new source: it defines version2(). */
    e2e_write("plugins/proj/src/sub", "c.c",
              "#include <stdint.h>\nint32_t version2(void) { return FEAT_BASE + 7; }\n");
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t end = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000 + 60000;
    int32_t v2 = -1;
    for (;;) {
        HB_CHECK(hb_watch_process(w) >= 0);
        if (hb_callf(sb, "proj", "version2", ")i", &v2) == 0)
            break;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t now = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
        if (now >= end)
            HB_FAIL_("version2() from the new src/sub/c.c never appeared: %s",
                     hb_sandbox_last_error(sb));
        struct pollfd p = {.fd = hb_watch_fd(w), .events = POLLIN};
        poll(&p, 1, (int)(end - now));
    }
    HB_CHECK_EQ(v2, 1007);
    hb_watch_free(w);
    e2e_free(sb, m);
}

static const e2e_case cases[] = {
    {"build_load_call", case_build_load_call},
    {"namespace", case_namespace},
    {"bad_sources", case_bad_sources},
    {"watch_src", case_watch_src},
};

int main(int argc, char **argv)
{
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
