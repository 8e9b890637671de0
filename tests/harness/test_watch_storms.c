/* tests/harness/test_watch_storms.c - watch mode against the save patterns
 * of real editors and tools, as other hot-reload tools test theirs: save,
 * wait for the reload, call the new behaviour. Each case: vim, emacs and
 * JetBrains save sequences, sed -i, a save paused half-way for longer than
 * the quiet window, a header shared by three plugins, a provider and its
 * dependent changed in one storm, a plugin directory deleted and re-created,
 * moved out of and back into the root, a file added to a plugin, a
 * directory created empty and filled later, a checkout switching every
 * plugin at once, a revert to an earlier version, and many plugins.
 *
 * After each storm the case waits (watch fd, deadline as the failure path)
 * until every plugin serves the value in its final content, then asserts
 * that the event stream told the truth (the last word on every plugin is
 * not a failure) and counts compiler runs (no build of content already
 * built). The nanosleeps pace writers only; no wait of the test is one. */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "e2e.h"

static hb_manager *m;
static hb_sandbox *sb;
static hb_watch *w;
static char root[4200];
static unsigned max_plugins; /* the sandbox's; 0: its default */

#define MAXP 256
static struct {
    char name[64];
    hb_event_type last; /* last compile/swap/load/up-to-date event */
    int compiled, failed, swaps, loads, unloads;
} plug[MAXP];
static int nplug_seen, warnings;
static char last_warning[512];

static int slot(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < nplug_seen; i++)
        if (!strcmp(plug[i].name, name))
            return i;
    if (nplug_seen == MAXP)
        return -1;
    snprintf(plug[nplug_seen].name, sizeof(plug[0].name), "%s", name);
    return nplug_seen++;
}

static void on_event(const hb_event *ev, void *ud)
{
    (void)ud;
    if (ev->sandbox && sb && ev->sandbox != sb)
        return; /* another sandbox's (case under_load: another thread) */
    if (getenv("HB_TEST_VERBOSE"))
        fprintf(stderr, "event %d %s v%llu: %.200s\n", ev->type, ev->plugin ? ev->plugin : "-",
                (unsigned long long)ev->version, ev->message ? ev->message : "");
    if (ev->type == HB_EVENT_WARNING) {
        warnings++;
        snprintf(last_warning, sizeof(last_warning), "%s", ev->message ? ev->message : "");
    }
    int i = slot(ev->plugin);
    if (i < 0)
        return;
    switch (ev->type) {
    case HB_EVENT_COMPILED: plug[i].compiled++; break;
    case HB_EVENT_COMPILE_FAILED:
    case HB_EVENT_SWAP_FAILED:
        plug[i].failed++;
        plug[i].last = ev->type;
        break;
    case HB_EVENT_SWAPPED:
        plug[i].swaps++;
        plug[i].last = ev->type;
        break;
    case HB_EVENT_LOADED:
        plug[i].loads++;
        plug[i].last = ev->type;
        break;
    case HB_EVENT_UP_TO_DATE: plug[i].last = ev->type; break;
    case HB_EVENT_UNLOADED:
        plug[i].unloads++;
        plug[i].last = ev->type;
        break;
    default: break;
    }
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void pace_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static long compiler_runs(void)
{
    char *metrics = NULL;
    HB_CHECK_OK(hb_manager_metrics(m, 1, &metrics));
    const char *c = strstr(metrics, "\"compiles\":");
    HB_CHECK(c != NULL);
    long runs = strtol(c + strlen("\"compiles\":"), NULL, 10);
    hb_free(metrics);
    return runs;
}

/* The source of a plugin whose value() returns v (plus what extra adds). */
static const char *src(const char *name, int v, const char *extra)
{
    static char buf[2048];
    snprintf(buf, sizeof(buf),
             "#include <hotbox/plugin.h>\n#include <stdint.h>\n%s\n"
             "int32_t value(void) { return %d; }\n"
             "HB_PLUGIN(\"%s\", 1, 0, 0, 0, 0);\n",
             extra ? extra : "", v, name);
    return buf;
}

static void path_of(char *buf, size_t size, const char *plugin, const char *file)
{
    snprintf(buf, size, "%s/%s%s%s", root, plugin, file ? "/" : "", file ? file : "");
}

/* Writes path in place, like an editor that truncates and writes. */
static void put(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    HB_CHECK(fd >= 0);
    size_t len = strlen(text);
    HB_CHECK_EQ(write(fd, text, len), (ssize_t)len);
    HB_CHECK_EQ(close(fd), 0);
}

static void put_plug(const char *plugin, const char *file, const char *text)
{
    char p[4400];
    path_of(p, sizeof(p), plugin, NULL);
    mkdir(p, 0755);
    path_of(p, sizeof(p), plugin, file);
    put(p, text);
}

static int32_t value_of(const char *plugin)
{
    int32_t v = INT32_MIN;
    if (hb_callf(sb, plugin, "value", ")i", &v) != 0)
        return INT32_MIN;
    return v;
}

/* One round of the watch loop. Returns whether the fd was ready. */
static bool step(int timeout_ms)
{
    struct pollfd p = {.fd = hb_watch_fd(w), .events = POLLIN};
    int n = poll(&p, 1, timeout_ms);
    HB_CHECK(n >= 0 || errno == EINTR);
    if (n <= 0)
        return false;
    HB_CHECK(hb_watch_process(w) >= 0);
    return true;
}

typedef struct want {
    const char *plugin;
    int32_t value; /* INT32_MIN: not loaded */
} want;

static bool all_serve(const want *ws, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (value_of(ws[i].plugin) != ws[i].value)
            return false;
    return true;
}

/* Waits until every plugin in ws serves its value (deadline: the failure
 * path), then handles whatever is still ready until the watch is idle for
 * a few quiet windows, and checks nothing moved and the last word on each
 * plugin is not a failure. */
static void settle(const want *ws, size_t n)
{
    uint64_t deadline = now_ns() + 60ull * 1000000000u;
    bool ok = all_serve(ws, n);
    while (!ok && now_ns() < deadline) {
        step(100);
        ok = all_serve(ws, n);
    }
    if (!ok)
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "%s serves %d, want %d\n", ws[i].plugin, value_of(ws[i].plugin),
                    ws[i].value);
    HB_CHECK(ok);
    while (step(150))
        ;
    HB_CHECK(all_serve(ws, n));
    for (size_t i = 0; i < n; i++) {
        int k = slot(ws[i].plugin);
        if (plug[k].last == HB_EVENT_COMPILE_FAILED || plug[k].last == HB_EVENT_SWAP_FAILED)
            fprintf(stderr, "%s: the last event was a failure, yet it serves its final content\n",
                    ws[i].plugin);
        HB_CHECK(plug[k].last != HB_EVENT_COMPILE_FAILED && plug[k].last != HB_EVENT_SWAP_FAILED);
    }
}

static void start(const char *const *names, size_t n)
{
    snprintf(root, sizeof(root), "%s/plugins", e2e_root);
    mkdir(root, 0755);
    for (size_t i = 0; i < n; i++)
        put_plug(names[i], "main.c", src(names[i], 1, NULL));
    hb_manager_options o = e2e_options(on_event, NULL);
    o.cflags = "-O0";
    m = e2e_manager_with(&o);
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.max_plugins = max_plugins;
    HB_CHECK_OK(hb_sandbox_new(m, &so, &sb));
    const char *roots[] = {root, NULL};
    HB_CHECK_OK(hb_watch_new(sb, roots, NULL, &w));
    for (size_t i = 0; i < n; i++)
        HB_CHECK_EQ(value_of(names[i]), 1);
    warnings = 0; /* the environment's (isolation, limits) */
}

static void stop(void)
{
    hb_watch_free(w);
    e2e_free(sb, m);
}

/* vim (writebackup, backupcopy=no): probe file 4913 created and deleted,
 * the file renamed to its backup main.c~, a new main.c written, the backup
 * deleted. One build. */
static void case_vim(void)
{
    const char *names[] = {"a"};
    start(names, 1);
    long runs = compiler_runs();
    char probe[4400], file[4400], backup[4400];
    path_of(probe, sizeof(probe), "a", "4913");
    path_of(file, sizeof(file), "a", "main.c");
    path_of(backup, sizeof(backup), "a", "main.c~");
    for (int v = 2; v <= 4; v++) {
        put(probe, "");
        HB_CHECK_EQ(unlink(probe), 0);
        HB_CHECK_EQ(rename(file, backup), 0);
        put(file, src("a", v, NULL));
        HB_CHECK_EQ(unlink(backup), 0);
        want ws[] = {{"a", v}};
        settle(ws, 1);
    }
    HB_CHECK_EQ(compiler_runs() - runs, 3);
    HB_CHECK_EQ(warnings, 0);
    stop();
}

/* emacs: a lock symlink .#main.c pointing nowhere, an autosave #main.c#,
 * a backup main.c~ made by rename, then the save. One build each. */
static void case_emacs(void)
{
    const char *names[] = {"a"};
    start(names, 1);
    long runs = compiler_runs();
    char lock[4400], autosave[4400], file[4400], backup[4400];
    path_of(lock, sizeof(lock), "a", ".#main.c");
    path_of(autosave, sizeof(autosave), "a", "#main.c#");
    path_of(file, sizeof(file), "a", "main.c");
    path_of(backup, sizeof(backup), "a", "main.c~");
    for (int v = 2; v <= 3; v++) {
        HB_CHECK_EQ(symlink("root@host.12345:1700000000", lock), 0);
        put(autosave, src("a", v, "int32_t half("));
        HB_CHECK_EQ(rename(file, backup), 0);
        put(file, src("a", v, NULL));
        HB_CHECK_EQ(unlink(autosave), 0);
        HB_CHECK_EQ(unlink(lock), 0);
        want ws[] = {{"a", v}};
        settle(ws, 1);
        HB_CHECK_EQ(unlink(backup), 0);
    }
    HB_CHECK_EQ(compiler_runs() - runs, 2);
    HB_CHECK_EQ(plug[slot("a")].failed, 0);
    HB_CHECK_EQ(warnings, 0);
    stop();
}

/* JetBrains "safe write": main.c___jb_tmp___ written, main.c renamed to
 * main.c___jb_old___, the temp renamed over, the old one deleted. VS Code
 * style: a temp in the same directory renamed over. sed -i. */
static void case_atomic_tools(void)
{
    const char *names[] = {"a"};
    start(names, 1);
    long runs = compiler_runs();
    char tmp[4400], file[4400], old[4400], cmd[9000];
    path_of(tmp, sizeof(tmp), "a", "main.c___jb_tmp___");
    path_of(file, sizeof(file), "a", "main.c");
    path_of(old, sizeof(old), "a", "main.c___jb_old___");
    put(tmp, src("a", 2, NULL));
    HB_CHECK_EQ(rename(file, old), 0);
    HB_CHECK_EQ(rename(tmp, file), 0);
    HB_CHECK_EQ(unlink(old), 0);
    want w2[] = {{"a", 2}};
    settle(w2, 1);
    path_of(tmp, sizeof(tmp), "a", ".main.c.tmp.4242");
    put(tmp, src("a", 3, NULL));
    HB_CHECK_EQ(rename(tmp, file), 0);
    want w3[] = {{"a", 3}};
    settle(w3, 1);
    snprintf(cmd, sizeof(cmd), "sed -i 's/return 3;/return 4;/' '%s'", file);
    HB_CHECK_EQ(system(cmd), 0);
    want w4[] = {{"a", 4}};
    settle(w4, 1);
    HB_CHECK_EQ(compiler_runs() - runs, 3);
    HB_CHECK_EQ(plug[slot("a")].failed, 0);
    stop();
}

/* A save that truncates, writes half, pauses longer than the quiet window
 * (a compile sees the half file and may say so), then writes the rest:
 * the plugin ends on the full content and the last word is not a failure. */
static void case_pause_mid_save(void)
{
    const char *names[] = {"a"};
    start(names, 1);
    char file[4400];
    path_of(file, sizeof(file), "a", "main.c");
    for (int v = 2; v <= 3; v++) {
        const char *text = src("a", v, NULL);
        int fd = open(file, O_WRONLY | O_TRUNC | O_CLOEXEC);
        HB_CHECK(fd >= 0);
        size_t len = strlen(text), half = len / 2;
        HB_CHECK_EQ(write(fd, text, half), (ssize_t)half);
        /* Let the watch see and build the half file. */
        uint64_t until = now_ns() + 400ull * 1000000u;
        while (now_ns() < until)
            step(50);
        HB_CHECK_EQ(write(fd, text + half, len - half), (ssize_t)(len - half));
        HB_CHECK_EQ(close(fd), 0);
        want ws[] = {{"a", v}};
        settle(ws, 1);
    }
    stop();
}

/* A header outside the plugins, included by three: an edit rebuilds each
 * of them once; a burst of edits converges on the last. */
static void case_shared_header(void)
{
    snprintf(root, sizeof(root), "%s/plugins", e2e_root);
    mkdir(root, 0755);
    char inc[4400];
    snprintf(inc, sizeof(inc), "%s/plugins/include", e2e_root);
    mkdir(inc, 0755);
    char hdr[4500];
    snprintf(hdr, sizeof(hdr), "%s/shared.h", inc);
    put(hdr, "#define SHARED 10\n");
    const char *names[] = {"h1", "h2", "h3"};
    char extra[128];
    for (int i = 0; i < 3; i++) {
        snprintf(extra, sizeof(extra), "#include \"../include/shared.h\"\n#define K %d\n", i);
        char text[2048];
        snprintf(text, sizeof(text),
                 "#include <hotbox/plugin.h>\n#include <stdint.h>\n%s\n"
                 "int32_t value(void) { return SHARED + K; }\n"
                 "HB_PLUGIN(\"%s\", 1, 0, 0, 0, 0);\n",
                 extra, names[i]);
        put_plug(names[i], "main.c", text);
    }
    hb_manager_options o = e2e_options(on_event, NULL);
    o.cflags = "-O0";
    m = e2e_manager_with(&o);
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    const char *roots[] = {root, NULL};
    HB_CHECK_OK(hb_watch_new(sb, roots, NULL, &w));
    want w0[] = {{"h1", 10}, {"h2", 11}, {"h3", 12}};
    settle(w0, 3);
    long runs = compiler_runs();
    put(hdr, "#define SHARED 20\n");
    want w1[] = {{"h1", 20}, {"h2", 21}, {"h3", 22}};
    settle(w1, 3);
    HB_CHECK_EQ(compiler_runs() - runs, 3);
    for (int k = 0; k < 15; k++) {
        char text[64];
        snprintf(text, sizeof(text), "#define SHARED %d\n", 100 + k);
        put(hdr, text);
        pace_ms(k % 3 == 0 ? 35 : 5);
    }
    want w2[] = {{"h1", 114}, {"h2", 115}, {"h3", 116}};
    settle(w2, 3);
    stop();
}

static const char *provider(int factor)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf),
             "#include <hotbox/plugin.h>\n#include <stdint.h>\n"
             "int32_t scale(int32_t x) { return x * %d; }\n"
             "int32_t value(void) { return %d; }\n"
             "HB_PLUGIN(\"scale\", 1, 0, 0, 0, 0);\n",
             factor, factor);
    return buf;
}

static const char *dependent(int offset)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf),
             "#include <hotbox/plugin.h>\n#include <stdint.h>\n"
             "int32_t scale(int32_t x);\n"
             "int32_t value(void) { return scale(10) + %d; }\n"
             "HB_PLUGIN(\"pricing\", 1, 0, 0, 0, 0);\n",
             offset);
    return buf;
}

/* A provider and the plugin that imports from it, both changed in one
 * storm: the dependent ends bound to the provider's final version. */
static void case_dependency_storm(void)
{
    snprintf(root, sizeof(root), "%s/plugins", e2e_root);
    mkdir(root, 0755);
    put_plug("scale", "main.c", provider(2));
    put_plug("pricing", "main.c", dependent(1));
    hb_manager_options o = e2e_options(on_event, NULL);
    o.cflags = "-O0";
    m = e2e_manager_with(&o);
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    const char *roots[] = {root, NULL};
    HB_CHECK_OK(hb_watch_new(sb, roots, NULL, &w));
    want w0[] = {{"scale", 2}, {"pricing", 21}};
    settle(w0, 2);
    for (int k = 0; k < 12; k++) {
        if (k % 2)
            put_plug("scale", "main.c", provider(3 + k));
        else
            put_plug("pricing", "main.c", dependent(100 + k));
        for (uint64_t until = now_ns() + (uint64_t)(k % 4 == 0 ? 40 : 8) * 1000000u;
             now_ns() < until;)
            step(5);
    }
    want w1[] = {{"scale", 14}, {"pricing", 140 + 110}};
    settle(w1, 2);
    /* Both in the same window. */
    put_plug("pricing", "main.c", dependent(7));
    put_plug("scale", "main.c", provider(5));
    want w2[] = {{"scale", 5}, {"pricing", 57}};
    settle(w2, 2);
    stop();
}

/* A plugin directory deleted and re-created with different content, in
 * one window and across windows. */
static void case_dir_recreated(void)
{
    const char *names[] = {"a", "b"};
    start(names, 2);
    char dir[4400], cmd[9000];
    path_of(dir, sizeof(dir), "a", NULL);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    HB_CHECK_EQ(system(cmd), 0);
    put_plug("a", "main.c", src("a", 2, NULL));
    want w1[] = {{"a", 2}, {"b", 1}};
    settle(w1, 2);
    HB_CHECK_EQ(system(cmd), 0);
    want w2[] = {{"a", INT32_MIN}, {"b", 1}};
    settle(w2, 2);
    put_plug("a", "main.c", src("a", 3, NULL));
    want w3[] = {{"a", 3}, {"b", 1}};
    settle(w3, 2);
    /* Same content as a version already built: no compile. */
    long runs = compiler_runs();
    HB_CHECK_EQ(system(cmd), 0);
    want w4[] = {{"a", INT32_MIN}};
    settle(w4, 1);
    put_plug("a", "main.c", src("a", 2, NULL));
    want w5[] = {{"a", 2}};
    settle(w5, 1);
    HB_CHECK_EQ(compiler_runs() - runs, 0);
    stop();
}

/* A plugin directory moved out of the watched root (unloaded) and back in
 * with other content (loaded again); a directory moved in from outside. */
static void case_move_out_in(void)
{
    const char *names[] = {"a", "b"};
    start(names, 2);
    char dir[4400], outside[4400], file[4500];
    path_of(dir, sizeof(dir), "a", NULL);
    snprintf(outside, sizeof(outside), "%s/parked-a", e2e_root);
    HB_CHECK_EQ(rename(dir, outside), 0);
    want w1[] = {{"a", INT32_MIN}, {"b", 1}};
    settle(w1, 2);
    snprintf(file, sizeof(file), "%s/main.c", outside);
    put(file, src("a", 5, NULL));
    HB_CHECK_EQ(rename(outside, dir), 0);
    want w2[] = {{"a", 5}, {"b", 1}};
    settle(w2, 2);
    /* A new plugin prepared elsewhere and moved in whole. */
    char cdir[4400], cfile[4500];
    snprintf(cdir, sizeof(cdir), "%s/c-prepared", e2e_root);
    mkdir(cdir, 0755);
    snprintf(cfile, sizeof(cfile), "%s/main.c", cdir);
    put(cfile, src("c", 7, NULL));
    path_of(dir, sizeof(dir), "c", NULL);
    HB_CHECK_EQ(rename(cdir, dir), 0);
    want w3[] = {{"a", 5}, {"b", 1}, {"c", 7}};
    settle(w3, 3);
    /* A second file moved out of a plugin: rebuilt without it; back in:
     * rebuilt with it. */
    put_plug("b", "extra.c", "#include <stdint.h>\nint32_t extra(void) { return 3; }\n");
    uint64_t deadline = now_ns() + 60ull * 1000000000u;
    int32_t v = -1;
    while ((hb_callf(sb, "b", "extra", ")i", &v) != 0 || v != 3) && now_ns() < deadline)
        step(100);
    HB_CHECK_EQ(v, 3);
    path_of(file, sizeof(file), "b", "extra.c");
    snprintf(outside, sizeof(outside), "%s/b-extra.c", e2e_root);
    HB_CHECK_EQ(rename(file, outside), 0);
    while (hb_callf(sb, "b", "extra", ")i", &v) == 0 && now_ns() < deadline)
        step(100);
    HB_CHECK(hb_callf(sb, "b", "extra", ")i", &v) != 0);
    want w4[] = {{"b", 1}};
    settle(w4, 1);
    /* Its only source moved out: said, and the last good version serves. */
    path_of(file, sizeof(file), "b", "main.c");
    snprintf(outside, sizeof(outside), "%s/b-main.c", e2e_root);
    HB_CHECK_EQ(rename(file, outside), 0);
    int failed = plug[slot("b")].failed;
    while (plug[slot("b")].failed == failed && now_ns() < deadline)
        step(100);
    HB_CHECK_EQ(plug[slot("b")].failed, failed + 1);
    HB_CHECK_EQ(value_of("b"), 1);
    put(outside, src("b", 9, NULL));
    HB_CHECK_EQ(rename(outside, file), 0);
    want w5[] = {{"b", 9}};
    settle(w5, 1);
    stop();
}

/* A new source file added to a plugin is built into it. */
static void case_new_file(void)
{
    const char *names[] = {"a"};
    start(names, 1);
    put_plug("a", "helper.c", "#include <stdint.h>\nint32_t helper(void) { return 40; }\n");
    put_plug("a", "main.c", src("a", 2, "int32_t helper(void);\nint32_t more(void) { return helper() + 2; }\n"));
    want w1[] = {{"a", 2}};
    settle(w1, 1);
    int32_t v = -1;
    HB_CHECK_OK(hb_callf(sb, "a", "more", ")i", &v));
    HB_CHECK_EQ(v, 42);
    /* The helper changes alone. */
    put_plug("a", "helper.c", "#include <stdint.h>\nint32_t helper(void) { return 50; }\n");
    uint64_t deadline = now_ns() + 60ull * 1000000000u;
    while ((hb_callf(sb, "a", "more", ")i", &v) != 0 || v != 52) && now_ns() < deadline)
        step(100);
    HB_CHECK_EQ(v, 52);
    stop();
}

/* A plugin directory created empty while watching and filled later; one
 * with a subdirectory created first. */
static void case_dir_created_later(void)
{
    const char *names[] = {"a"};
    start(names, 1);
    char dir[4400];
    path_of(dir, sizeof(dir), "late", NULL);
    HB_CHECK_EQ(mkdir(dir, 0755), 0);
    while (step(150))
        ;
    put_plug("late", "README.md", "not a source\n");
    while (step(150))
        ;
    HB_CHECK_EQ(value_of("late"), INT32_MIN);
    put_plug("late", "main.c", src("late", 3, NULL));
    want w1[] = {{"a", 1}, {"late", 3}};
    settle(w1, 2);
    stop();
}

/* git checkout: every plugin's file replaced at once (and a header). Each
 * plugin is built once. Then back to the first branch: no compile. */
static void case_checkout(void)
{
    const char *names[] = {"a", "b", "c", "d", "e", "f"};
    start(names, 6);
    long runs = compiler_runs();
    for (int i = 0; i < 6; i++) {
        char tmp[4400], file[4400];
        path_of(tmp, sizeof(tmp), names[i], ".git-tmp");
        path_of(file, sizeof(file), names[i], "main.c");
        put(tmp, src(names[i], 10 + i, NULL));
        HB_CHECK_EQ(rename(tmp, file), 0);
    }
    want w1[] = {{"a", 10}, {"b", 11}, {"c", 12}, {"d", 13}, {"e", 14}, {"f", 15}};
    settle(w1, 6);
    HB_CHECK_EQ(compiler_runs() - runs, 6);
    runs = compiler_runs();
    for (int i = 0; i < 6; i++)
        put_plug(names[i], "main.c", src(names[i], 1, NULL));
    want w2[] = {{"a", 1}, {"b", 1}, {"c", 1}, {"d", 1}, {"e", 1}, {"f", 1}};
    settle(w2, 6);
    HB_CHECK_EQ(compiler_runs() - runs, 0);
    stop();
}

/* A, B, A: the third save reuses the first build. A formatter re-save of
 * identical bytes builds nothing. */
static void case_revert_no_rebuild(void)
{
    const char *names[] = {"a"};
    start(names, 1);
    long runs = compiler_runs();
    put_plug("a", "main.c", src("a", 2, NULL));
    want w2[] = {{"a", 2}};
    settle(w2, 1);
    put_plug("a", "main.c", src("a", 1, NULL));
    want w1[] = {{"a", 1}};
    settle(w1, 1);
    put_plug("a", "main.c", src("a", 1, NULL)); /* the formatter: same bytes */
    while (step(150))
        ;
    HB_CHECK_EQ(compiler_runs() - runs, 1);
    stop();
}

/* Many plugins: watch starts in bounded time, and a change to one builds
 * that one only. */
static void case_many(void)
{
    int n = getenv("HB_STORM_PLUGINS") ? atoi(getenv("HB_STORM_PLUGINS")) : 60;
    if (n < 2 || n > MAXP - 8)
        n = 60;
    static char namebuf[MAXP][16];
    const char *names[MAXP];
    for (int i = 0; i < n; i++) {
        snprintf(namebuf[i], sizeof(namebuf[i]), "m%03d", i);
        names[i] = namebuf[i];
    }
    uint64_t t0 = now_ns();
    max_plugins = MAXP;
    start(names, (size_t)n);
    double start_s = (double)(now_ns() - t0) / 1e9;
    long runs = compiler_runs();
    put_plug("m007", "main.c", src("m007", 77, NULL));
    want w1[] = {{"m007", 77}};
    uint64_t t1 = now_ns();
    settle(w1, 1);
    double swap_ms = (double)(now_ns() - t1) / 1e6;
    HB_CHECK_EQ(compiler_runs() - runs, 1);
    for (int i = 0; i < n; i++)
        HB_CHECK_EQ(plug[slot(names[i])].loads, 1);
    printf("many: %d plugins watched in %.1f s; one edit -> %ld compile, %.0f ms to serve\n", n,
           start_s, compiler_runs() - runs, swap_ms);
    stop();
}

/* A header outside the plugin that never compiled yet: a plugin whose
 * first build failed in a shared header, or on a missing one, builds once
 * the header is fixed or created. */
static void case_header_fixed_first(void)
{
    snprintf(root, sizeof(root), "%s/plugins", e2e_root);
    mkdir(root, 0755);
    char inc[4400], bad[4500], missing[4500];
    snprintf(inc, sizeof(inc), "%s/include", e2e_root);
    mkdir(inc, 0755);
    snprintf(bad, sizeof(bad), "%s/bad.h", inc);
    snprintf(missing, sizeof(missing), "%s/missing.h", inc);
    put(bad, "#define BAD (\n");
    put_plug("x", "main.c", src("x", 0, "#include \"../../include/bad.h\"\nint32_t more(void) { return BAD; }"));
    put_plug("y", "main.c", src("y", 0, "#include \"../../include/missing.h\"\nint32_t more(void) { return MISSING; }"));
    hb_manager_options o = e2e_options(on_event, NULL);
    o.cflags = "-O0";
    m = e2e_manager_with(&o);
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    /* The include directory is watched too (a second root). */
    const char *roots[] = {root, inc, NULL};
    HB_CHECK_OK(hb_watch_new(sb, roots, NULL, &w));
    HB_CHECK_EQ(value_of("x"), INT32_MIN);
    HB_CHECK_EQ(value_of("y"), INT32_MIN);
    HB_CHECK(plug[slot("x")].failed > 0);
    HB_CHECK(plug[slot("y")].failed > 0);
    put(bad, "#define BAD 5\n");
    put(missing, "#define MISSING 6\n");
    want w1[] = {{"x", 0}, {"y", 0}};
    settle(w1, 2);
    stop();
}

/* The watched root is itself the plugin: removed while watching (its
 * plugin is unloaded, said) and re-created with other content. */
static void case_root_plugin_recreated(void)
{
    char dir[4400], file[4500], cmd[9000];
    snprintf(root, sizeof(root), "%s", e2e_root);
    snprintf(dir, sizeof(dir), "%s/solo", e2e_root);
    mkdir(dir, 0755);
    snprintf(file, sizeof(file), "%s/main.c", dir);
    put(file, src("solo", 1, NULL));
    hb_manager_options o = e2e_options(on_event, NULL);
    o.cflags = "-O0";
    m = e2e_manager_with(&o);
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    const char *roots[] = {dir, NULL};
    HB_CHECK_OK(hb_watch_new(sb, roots, NULL, &w));
    HB_CHECK_EQ(value_of("solo"), 1);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    HB_CHECK_EQ(system(cmd), 0);
    want w1[] = {{"solo", INT32_MIN}};
    settle(w1, 1);
    mkdir(dir, 0755);
    put(file, src("solo", 2, NULL));
    want w2[] = {{"solo", 2}};
    settle(w2, 1);
    put(file, src("solo", 3, NULL));
    want w3[] = {{"solo", 3}};
    settle(w3, 1);
    stop();
}

/* A plugin directory renamed: the old name is unloaded, the new loaded. */
static void case_dir_renamed(void)
{
    const char *names[] = {"a"};
    start(names, 1);
    char from[4400], to[4400];
    path_of(from, sizeof(from), "a", NULL);
    path_of(to, sizeof(to), "z", NULL);
    HB_CHECK_EQ(rename(from, to), 0);
    put_plug("z", "main.c", src("z", 4, NULL));
    want w1[] = {{"a", INT32_MIN}, {"z", 4}};
    settle(w1, 2);
    stop();
}

/* More plugins than the sandbox may hold: each one refused is said (a
 * swap-failed event naming max_plugins), not left silently unloaded. */
static void case_over_limit(void)
{
    max_plugins = 2;
    snprintf(root, sizeof(root), "%s/plugins", e2e_root);
    mkdir(root, 0755);
    const char *names[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++)
        put_plug(names[i], "main.c", src(names[i], 1, NULL));
    hb_manager_options o = e2e_options(on_event, NULL);
    o.cflags = "-O0";
    m = e2e_manager_with(&o);
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.max_plugins = max_plugins;
    HB_CHECK_OK(hb_sandbox_new(m, &so, &sb));
    const char *roots[] = {root, NULL};
    HB_CHECK_OK(hb_watch_new(sb, roots, NULL, &w));
    HB_CHECK_EQ(value_of("a"), 1);
    HB_CHECK_EQ(value_of("b"), 1);
    HB_CHECK_EQ(value_of("c"), INT32_MIN);
    HB_CHECK_EQ(plug[slot("c")].failed, 1);
    HB_CHECK_EQ(plug[slot("c")].last, HB_EVENT_SWAP_FAILED);
    stop();
}

/* Delete then restore, each step settled: the only source deleted (said,
 * the last good version serves), restored with the same bytes (fine again:
 * up-to-date, no compile); the whole directory deleted (unloaded) and
 * restored with the same bytes (loaded, no compile). */
static void case_delete_restore(void)
{
    const char *names[] = {"a"};
    start(names, 1);
    long runs;
    char file[4400], dir[4400], cmd[9000];
    path_of(file, sizeof(file), "a", "main.c");
    path_of(dir, sizeof(dir), "a", NULL);
    HB_CHECK_EQ(unlink(file), 0);
    uint64_t deadline = now_ns() + 60ull * 1000000000u;
    while (plug[slot("a")].failed == 0 && now_ns() < deadline)
        step(100);
    HB_CHECK_EQ(plug[slot("a")].failed, 1);
    HB_CHECK_EQ(value_of("a"), 1);
    runs = compiler_runs(); /* that attempt ran the compiler front end */
    put(file, src("a", 1, NULL));
    want w1[] = {{"a", 1}};
    settle(w1, 1);
    HB_CHECK_EQ(plug[slot("a")].last, HB_EVENT_UP_TO_DATE);
    HB_CHECK_EQ(compiler_runs() - runs, 0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    HB_CHECK_EQ(system(cmd), 0);
    want w2[] = {{"a", INT32_MIN}};
    settle(w2, 1);
    HB_CHECK_EQ(plug[slot("a")].last, HB_EVENT_UNLOADED);
    put_plug("a", "main.c", src("a", 1, NULL));
    settle(w1, 1);
    HB_CHECK_EQ(plug[slot("a")].last, HB_EVENT_LOADED);
    HB_CHECK_EQ(compiler_runs() - runs, 0);
    stop();
}

/* The provider's directory removed while its dependent is loaded, then
 * restored with new content: the dependent ends bound to it. */
static void case_provider_removed(void)
{
    snprintf(root, sizeof(root), "%s/plugins", e2e_root);
    mkdir(root, 0755);
    put_plug("scale", "main.c", provider(2));
    put_plug("pricing", "main.c", dependent(1));
    hb_manager_options o = e2e_options(on_event, NULL);
    o.cflags = "-O0";
    m = e2e_manager_with(&o);
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    const char *roots[] = {root, NULL};
    HB_CHECK_OK(hb_watch_new(sb, roots, NULL, &w));
    want w0[] = {{"scale", 2}, {"pricing", 21}};
    settle(w0, 2);
    char dir[4400], cmd[9000];
    path_of(dir, sizeof(dir), "scale", NULL);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    HB_CHECK_EQ(system(cmd), 0);
    while (step(300))
        ;
    /* scale stays (pricing runs its code), said as a warning, no failure. */
    HB_CHECK_EQ(value_of("scale"), 2);
    HB_CHECK_EQ(value_of("pricing"), 21);
    HB_CHECK_EQ(plug[slot("scale")].failed, 0);
    HB_CHECK_EQ(plug[slot("scale")].unloads, 0);
    HB_CHECK_CONTAINS(last_warning, "linked against");
    put_plug("scale", "main.c", provider(4));
    want w1[] = {{"scale", 4}, {"pricing", 41}};
    settle(w1, 2);
    stop();
}

/* The manager under load: another thread keeps a second sandbox of the same
 * manager busy (calls that spin, and reloads) while a storm of saves hits
 * the watched plugin. The watched plugin converges on its final content and
 * every call of the other sandbox succeeds. */
static atomic_int load_stop, load_calls, load_errors;

static void *load_thread(void *arg)
{
    const char *dir = arg;
    hb_sandbox *other = NULL;
    if (hb_sandbox_new(m, NULL, &other) != 0 || hb_load(other, dir) != 0) {
        atomic_fetch_add(&load_errors, 1);
        hb_sandbox_free(other);
        return NULL;
    }
    for (int k = 0; !atomic_load(&load_stop); k++) {
        int32_t v = -1;
        if (hb_callf(other, "busy", "spin", "i)i", 200000, &v) != 0 || v != 200000)
            atomic_fetch_add(&load_errors, 1);
        atomic_fetch_add(&load_calls, 1);
        if (k % 25 == 24 && hb_reload(other, "busy") != 0)
            atomic_fetch_add(&load_errors, 1);
    }
    hb_sandbox_free(other);
    return NULL;
}

static void case_under_load(void)
{
    const char *names[] = {"a"};
    start(names, 1);
    char busy[4400];
    snprintf(busy, sizeof(busy), "%s/busy", e2e_root);
    mkdir(busy, 0755);
    char bfile[4500];
    snprintf(bfile, sizeof(bfile), "%s/busy.c", busy);
    put(bfile, "#include <hotbox/plugin.h>\n#include <stdint.h>\n"
               "int32_t spin(int32_t n) { volatile int32_t i = 0; while (i < n) i++; return i; }\n"
               "HB_PLUGIN(\"busy\", 1, 0, 0, 0, 0);\n");
    pthread_t t;
    HB_CHECK_EQ(pthread_create(&t, NULL, load_thread, busy), 0);
    uint64_t deadline = now_ns() + 60ull * 1000000000u;
    while (atomic_load(&load_calls) < 3 && !atomic_load(&load_errors) && now_ns() < deadline)
        step(20);
    HB_CHECK(atomic_load(&load_calls) >= 3);
    for (int v = 2; v <= 40; v++) {
        put_plug("a", "main.c", src("a", v, NULL));
        uint64_t until = now_ns() + (uint64_t)(v % 5 == 0 ? 45 : 7) * 1000000u;
        while (now_ns() < until)
            step(3);
    }
    want w1[] = {{"a", 40}};
    settle(w1, 1);
    atomic_store(&load_stop, 1);
    HB_CHECK_EQ(pthread_join(t, NULL), 0);
    HB_CHECK_EQ(atomic_load(&load_errors), 0);
    printf("under load: %d calls of the other sandbox during the storm\n", atomic_load(&load_calls));
    stop();
}

/* A plugin directory swapped whole (deploy tools, worktree switches): the
 * old one renamed away and a prepared one renamed in, in one window and
 * across windows. */
static void case_dir_swap(void)
{
    const char *names[] = {"a", "b"};
    start(names, 2);
    char dir[4400], old[4400], next[4400], file[4500];
    path_of(dir, sizeof(dir), "a", NULL);
    for (int v = 2; v <= 4; v++) {
        snprintf(old, sizeof(old), "%s/a.old%d", e2e_root, v);
        snprintf(next, sizeof(next), "%s/a.next%d", e2e_root, v);
        HB_CHECK_EQ(mkdir(next, 0755), 0);
        snprintf(file, sizeof(file), "%s/main.c", next);
        put(file, src("a", v, NULL));
        snprintf(file, sizeof(file), "%s/extra.h", next);
        put(file, "#define EXTRA 1\n");
        HB_CHECK_EQ(rename(dir, old), 0);
        if (v == 3) /* across windows: the plugin is gone for a while */
            for (uint64_t until = now_ns() + 200ull * 1000000u; now_ns() < until;)
                step(20);
        HB_CHECK_EQ(rename(next, dir), 0);
        want ws[] = {{"a", v}, {"b", 1}};
        settle(ws, 2);
    }
    stop();
}

/* A storm whose final save does not compile: once settled, the failure of
 * the final content is the last word on the plugin, the last good version
 * of the storm serves, and the watch says it has settled. */
static void case_storm_ends_broken(void)
{
    const char *names[] = {"a"};
    start(names, 1);
    for (int v = 2; v <= 30; v++) {
        put_plug("a", "main.c", src("a", v, v == 30 ? "int32_t broken(void) { return }" : NULL));
        uint64_t until = now_ns() + (uint64_t)(v % 4 == 0 ? 40 : 6) * 1000000u;
        while (now_ns() < until)
            step(3);
    }
    uint64_t deadline = now_ns() + 60ull * 1000000000u;
    while ((hb_watch_pending(w) != 0 || plug[slot("a")].last != HB_EVENT_COMPILE_FAILED) &&
           now_ns() < deadline)
        step(100);
    while (step(150))
        ;
    HB_CHECK_EQ(hb_watch_pending(w), 0);
    HB_CHECK_EQ(plug[slot("a")].last, HB_EVENT_COMPILE_FAILED);
    int32_t v = value_of("a");
    HB_CHECK(v >= 2 && v <= 29);
    /* Fixed: fine again. */
    put_plug("a", "main.c", src("a", 31, NULL));
    want w1[] = {{"a", 31}};
    settle(w1, 1);
    stop();
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"vim", case_vim},
        {"emacs", case_emacs},
        {"atomic_tools", case_atomic_tools},
        {"pause_mid_save", case_pause_mid_save},
        {"shared_header", case_shared_header},
        {"dependency_storm", case_dependency_storm},
        {"dir_recreated", case_dir_recreated},
        {"move_out_in", case_move_out_in},
        {"new_file", case_new_file},
        {"dir_created_later", case_dir_created_later},
        {"checkout", case_checkout},
        {"revert_no_rebuild", case_revert_no_rebuild},
        {"many", case_many},
        {"header_fixed_first", case_header_fixed_first},
        {"root_plugin_recreated", case_root_plugin_recreated},
        {"dir_renamed", case_dir_renamed},
        {"over_limit", case_over_limit},
        {"delete_restore", case_delete_restore},
        {"provider_removed", case_provider_removed},
        {"under_load", case_under_load},
        {"dir_swap", case_dir_swap},
        {"storm_ends_broken", case_storm_ends_broken},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
