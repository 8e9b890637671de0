/* tests/harness/test_watch.c - watch mode through the public API: real
 * files, real inotify, real compiles. Waits are polls on the watch fd with
 * a timeout as the failure path. Each case runs as: test_watch CASE. */
#include <poll.h>
#include <utime.h>

#include "e2e.h"

static e2e_events ev;

/* Runs hb_watch_process until it has handled a change set (returns the
 * count) or timeout_ms passes (returns -1). */
static int wait_cycle(hb_watch *w, int timeout_ms)
{
    for (;;) {
        struct pollfd p = {.fd = hb_watch_fd(w), .events = POLLIN};
        int n = poll(&p, 1, timeout_ms);
        if (n <= 0)
            return -1;
        int r = hb_watch_process(w);
        HB_CHECK(r >= 0);
        if (r > 0)
            return r;
    }
}

static hb_sandbox *sb;
static hb_manager *m;

static hb_watch *start(const char *root)
{
    m = e2e_manager(&ev);
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    const char *roots[] = {root, NULL};
    hb_watch *w = NULL;
    HB_CHECK_OK(hb_watch_new(sb, roots, NULL, &w));
    HB_CHECK_EQ(ev.count[HB_EVENT_WATCHING], 1);
    return w;
}

static void stop(hb_watch *w)
{
    hb_watch_free(w);
    e2e_free(sb, m);
}

static int64_t get(void)
{
    int64_t v = -1;
    HB_CHECK_OK(hb_callf(sb, "counter", "get", ")l", &v));
    return v;
}

static void case_edit_reload(void)
{
    e2e_write("plugins/counter", "counter.c", e2e_counter_src(1, 1, NULL));
    char root[4200];
    snprintf(root, sizeof(root), "%s/plugins", e2e_root);
    hb_watch *w = start(root);
    int64_t v;
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    e2e_write("plugins/counter", "counter.c", e2e_counter_src(2, 100, NULL));
    HB_CHECK(wait_cycle(w, 10000) == 1);
    HB_CHECK_EQ(ev.count[HB_EVENT_SWAPPED], 1);
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 102);
    /* touch and an identical re-save change nothing: no cycle within 3x
     * the quiet window (plus slack), and the version stays. */
    char file[4300];
    snprintf(file, sizeof(file), "%s/counter/counter.c", root);
    HB_CHECK_EQ(utime(file, NULL), 0);
    e2e_write("plugins/counter", "counter.c", e2e_counter_src(2, 100, NULL));
    HB_CHECK_EQ(wait_cycle(w, 300), -1);
    HB_CHECK_EQ(ev.count[HB_EVENT_SWAPPED], 1);
    stop(w);
}

static void case_compile_error_then_fix(void)
{
    e2e_write("plugins/counter", "counter.c", e2e_counter_src(1, 1, NULL));
    char root[4200];
    snprintf(root, sizeof(root), "%s/plugins", e2e_root);
    hb_watch *w = start(root);
    int64_t v;
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    e2e_write("plugins/counter", "counter.c", "#include <hotbox/plugin.h>\nint oops( { \n");
    HB_CHECK(wait_cycle(w, 10000) == 1);
    HB_CHECK_EQ(ev.count[HB_EVENT_COMPILE_FAILED], 1);
    HB_CHECK_EQ(get(), 1); /* the old version serves */
    e2e_write("plugins/counter", "counter.c", e2e_counter_src(2, 5, NULL));
    HB_CHECK(wait_cycle(w, 10000) == 1);
    HB_CHECK_EQ(ev.count[HB_EVENT_SWAPPED], 1);
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 6);
    stop(w);
}

static void case_shared_header(void)
{
    const char *uses = "#include <hotbox/plugin.h>\n#include \"../include/shared.h\"\nint value(void) { return SHARED; }\nHB_PLUGIN(\"x\", 1, 0, 0, 0, 0);\n";
    e2e_write("plugins/include", "shared.h", "#define SHARED 1\n");
    e2e_write("plugins/alpha", "a.c", uses);
    e2e_write("plugins/beta", "b.c", uses);
    e2e_write("plugins/gamma", "g.c", "#include <hotbox/plugin.h>\nint value(void) { return 7; }\nHB_PLUGIN(\"gamma\", 1, 0, 0, 0, 0);\n");
    char root[4200];
    snprintf(root, sizeof(root), "%s/plugins", e2e_root);
    hb_watch *w = start(root);
    HB_CHECK_EQ(ev.count[HB_EVENT_LOADED], 3);
    e2e_write("plugins/include", "shared.h", "#define SHARED 2\n");
    HB_CHECK_EQ(wait_cycle(w, 10000), 2); /* alpha and beta, not gamma */
    HB_CHECK_EQ(ev.count[HB_EVENT_SWAPPED], 2);
    int32_t v = 0;
    HB_CHECK_OK(hb_callf(sb, "alpha", "value", ")i", &v));
    HB_CHECK_EQ(v, 2);
    HB_CHECK_OK(hb_callf(sb, "beta", "value", ")i", &v));
    HB_CHECK_EQ(v, 2);
    uint64_t ver = 0;
    HB_CHECK_OK(hb_active_version(sb, "gamma", &ver));
    HB_CHECK_EQ(ver, 1);
    stop(w);
}

static void case_new_and_deleted_plugin(void)
{
    e2e_write("plugins/counter", "counter.c", e2e_counter_src(1, 1, NULL));
    char root[4200];
    snprintf(root, sizeof(root), "%s/plugins", e2e_root);
    hb_watch *w = start(root);
    e2e_write("plugins/fresh", "f.c", "#include <hotbox/plugin.h>\nint seven(void) { return 7; }\nHB_PLUGIN(\"fresh\", 1, 0, 0, 0, 0);\n");
    HB_CHECK(wait_cycle(w, 10000) >= 1);
    int32_t v = 0;
    HB_CHECK_OK(hb_callf(sb, "fresh", "seven", ")i", &v));
    HB_CHECK_EQ(v, 7);
    char cmd[4400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s/fresh'", root);
    HB_CHECK_EQ(system(cmd), 0);
    /* The unload happens in the cycle the deletion triggers, and counts. */
    HB_CHECK_EQ(wait_cycle(w, 10000), 1);
    HB_CHECK_EQ(ev.count[HB_EVENT_UNLOADED], 1);
    HB_CHECK_EQ(hb_callf(sb, "fresh", "seven", ")i", &v), HB_ENOPLUGIN);
    HB_CHECK_EQ(get(), 0); /* counter untouched */
    stop(w);
}

static void case_burst(void)
{
    e2e_write("plugins/counter", "counter.c", e2e_counter_src(1, 1, NULL));
    char root[4200];
    snprintf(root, sizeof(root), "%s/plugins", e2e_root);
    hb_watch *w = start(root);
    /* 1,000 saves in a burst; the last one steps by 1000. */
    for (int i = 0; i < 1000; i++)
        e2e_write("plugins/counter", "counter.c", e2e_counter_src(2, i == 999 ? 1000 : i + 2, NULL));
    int cycles = 0;
    while (wait_cycle(w, 1000) > 0)
        cycles++;
    HB_CHECK(cycles >= 1);
    int64_t v;
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 1000); /* the final state reflects the last save */
    printf("1000 saves -> %d reload cycle(s)\n", cycles);
    stop(w);
}

/* A sandbox that already holds the plugin: watching adopts it, and a
 * change reloads it with its state (it used to say "already loaded; use
 * reload" on every change). */
static void case_adopt_loaded(void)
{
    const char *dir = e2e_write("plugins/counter", "counter.c", e2e_counter_src(1, 1, NULL));
    m = e2e_manager(&ev);
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    HB_CHECK_OK(hb_load(sb, dir));
    int64_t v;
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    char root[4200];
    snprintf(root, sizeof(root), "%s/plugins", e2e_root);
    const char *roots[] = {root, NULL};
    hb_watch *w = NULL;
    HB_CHECK_OK(hb_watch_new(sb, roots, NULL, &w));
    HB_CHECK_EQ(ev.count[HB_EVENT_LOADED], 1); /* not loaded a second time */
    HB_CHECK_EQ(get(), 1);
    e2e_write("plugins/counter", "counter.c", e2e_counter_src(2, 10, NULL));
    HB_CHECK_EQ(wait_cycle(w, 10000), 1);
    HB_CHECK_EQ(ev.count[HB_EVENT_SWAPPED], 1);
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 11);
    stop(w);
}

/* Going back to the live version's source after a failed build: no swap
 * is needed, and watch mode says the plugin is fine again. */
static void case_revert_after_failure(void)
{
    e2e_write("plugins/counter", "counter.c", e2e_counter_src(1, 1, NULL));
    char root[4200];
    snprintf(root, sizeof(root), "%s/plugins", e2e_root);
    hb_watch *w = start(root);
    e2e_write("plugins/counter", "counter.c", "#include <hotbox/plugin.h>\nint oops( { \n");
    HB_CHECK_EQ(wait_cycle(w, 10000), 1);
    HB_CHECK_EQ(ev.count[HB_EVENT_COMPILE_FAILED], 1);
    HB_CHECK_EQ(ev.count[HB_EVENT_UP_TO_DATE], 0);
    e2e_write("plugins/counter", "counter.c", e2e_counter_src(1, 1, NULL));
    HB_CHECK_EQ(wait_cycle(w, 10000), 1);
    HB_CHECK_EQ(ev.count[HB_EVENT_UP_TO_DATE], 1);
    HB_CHECK_CONTAINS(ev.last[HB_EVENT_UP_TO_DATE], "v1");
    HB_CHECK_EQ(ev.count[HB_EVENT_SWAPPED], 0);
    HB_CHECK_EQ(ev.count[HB_EVENT_COMPILE_FAILED], 1);
    uint64_t ver = 0;
    HB_CHECK_OK(hb_active_version(sb, "counter", &ver));
    HB_CHECK_EQ(ver, 1);
    /* A plain identical save after that is not news. */
    e2e_write("plugins/counter", "counter.c", e2e_counter_src(3, 1, NULL));
    HB_CHECK_EQ(wait_cycle(w, 10000), 1);
    HB_CHECK_EQ(ev.count[HB_EVENT_SWAPPED], 1);
    HB_CHECK_EQ(ev.count[HB_EVENT_UP_TO_DATE], 1);
    stop(w);
}

/* A compiler wrapper that, once armed, replaces the plugin's source with
 * NEXT after the real compiler ran: a save landing mid-compile, on cue. */
static hb_watch *start_with_saving_cc(const char *root, char *arm, size_t armsz, char *next,
                                      size_t nextsz)
{
    char wrapper[4300];
    snprintf(arm, armsz, "%s/arm", e2e_root);
    snprintf(next, nextsz, "%s/next.c", e2e_root);
    snprintf(wrapper, sizeof(wrapper), "%s/cc-wrapper", e2e_root);
    FILE *f = fopen(wrapper, "w");
    HB_CHECK(f != NULL);
    fprintf(f, "#!/bin/sh\n%s \"$@\"\nrc=$?\n"
               "if [ -e '%s' ]; then rm -f '%s'; cat '%s' > '%s/counter/counter.c'; fi\n"
               "exit $rc\n",
            getenv("CC") && *getenv("CC") ? getenv("CC") : "cc", arm, arm, next, root);
    HB_CHECK_EQ(fclose(f), 0);
    HB_CHECK_EQ(chmod(wrapper, 0755), 0);
    hb_manager_options o = e2e_options(e2e_on_event, &ev);
    o.cc = wrapper;
    m = e2e_manager_with(&o);
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    const char *roots[] = {root, NULL};
    hb_watch *w = NULL;
    HB_CHECK_OK(hb_watch_new(sb, roots, NULL, &w));
    return w;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    HB_CHECK(f != NULL);
    fputs(text, f);
    HB_CHECK_EQ(fclose(f), 0);
}

/* Runs cycles until the counter's version() is want (or times out). */
static void wait_version(hb_watch *w, int32_t want)
{
    int32_t got = -1;
    for (int i = 0; i < 50; i++) {
        HB_CHECK_OK(hb_callf(sb, "counter", "version", ")i", &got));
        if (got == want)
            return;
        if (wait_cycle(w, 10000) < 0)
            break;
    }
    HB_CHECK_EQ(got, want);
}

/* A save lands while the compiler runs on the previous one (a formatter
 * re-saving): the build of the old content is superseded and the plugin
 * ends up on the new content. */
static void case_save_during_compile(void)
{
    e2e_write("plugins/counter", "counter.c", e2e_counter_src(1, 1, NULL));
    char root[4200], arm[4300], next[4300];
    snprintf(root, sizeof(root), "%s/plugins", e2e_root);
    hb_watch *w = start_with_saving_cc(root, arm, sizeof(arm), next, sizeof(next));
    write_file(next, e2e_counter_src(3, 1, NULL));
    write_file(arm, "");
    e2e_write("plugins/counter", "counter.c", e2e_counter_src(2, 1, NULL));
    wait_version(w, 3);
    stop(w);
}

/* A half-written file is compiled (it has no descriptor yet) and the rest
 * lands during the compile: that failure is not reported. */
static void case_half_written(void)
{
    e2e_write("plugins/counter", "counter.c", e2e_counter_src(1, 1, NULL));
    char root[4200], arm[4300], next[4300];
    snprintf(root, sizeof(root), "%s/plugins", e2e_root);
    hb_watch *w = start_with_saving_cc(root, arm, sizeof(arm), next, sizeof(next));
    const char *full = e2e_counter_src(2, 1, NULL);
    write_file(next, full);
    write_file(arm, "");
    char half[16384];
    snprintf(half, sizeof(half), "%.*s", (int)(strstr(full, "HB_PLUGIN") - full), full);
    e2e_write("plugins/counter", "counter.c", half);
    wait_version(w, 2);
    HB_CHECK_EQ(ev.count[HB_EVENT_COMPILE_FAILED], 0);
    HB_CHECK_EQ(ev.count[HB_EVENT_SWAP_FAILED], 0);
    stop(w);
}

static void case_bad_root(void)
{
    m = e2e_manager(&ev);
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    char root[4200];
    snprintf(root, sizeof(root), "%s/nope", e2e_root);
    const char *roots[] = {root, NULL};
    hb_watch *w = NULL;
    HB_CHECK(hb_watch_new(sb, roots, NULL, &w) < 0);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "nope");
    HB_CHECK(w == NULL);
    e2e_free(sb, m);
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"edit_reload", case_edit_reload},
        {"compile_error_then_fix", case_compile_error_then_fix},
        {"shared_header", case_shared_header},
        {"new_and_deleted_plugin", case_new_and_deleted_plugin},
        {"burst", case_burst},
        {"bad_root", case_bad_root},
        {"adopt_loaded", case_adopt_loaded},
        {"revert_after_failure", case_revert_after_failure},
        {"save_during_compile", case_save_during_compile},
        {"half_written", case_half_written},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
