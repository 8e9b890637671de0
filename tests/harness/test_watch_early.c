/* tests/harness/test_watch_early.c - watch mode starts a build at the first
 * complete write of a source (close after writing, or rename into place),
 * not after the quiet window; a save during that build supersedes it; a
 * write whose file is still open starts nothing. hb_watch_new compiles each
 * plugin once.
 *
 * The quiet window is set to 10 s, so a build that starts within one
 * hb_watch_process call right after the save can only have started early.
 * No sleeps: each step is one call, or a poll on the watch fd with a
 * deadline as the failure path. Each case runs as: test_watch_early CASE. */
#include <fcntl.h>
#include <poll.h>
#include <time.h>

#include "e2e.h"

#define LONG_QUIET_MS 10000

static e2e_events ev;
static hb_sandbox *sb;
static hb_manager *m;

static long compiles(void)
{
    char *metrics = NULL;
    HB_CHECK_OK(hb_manager_metrics(m, 1, &metrics));
    const char *c = strstr(metrics, "\"compiles\":");
    HB_CHECK(c != NULL);
    long n = strtol(c + strlen("\"compiles\":"), NULL, 10);
    hb_free(metrics);
    return n;
}

static int32_t version_of(const char *plugin)
{
    int32_t v = -1;
    HB_CHECK_OK(hb_callf(sb, plugin, "version", ")i", &v));
    return v;
}

/* A manager (optionally with a compiler wrapper) and a watch on root. */
static hb_watch *start(const char *root, const char *cc, unsigned quiet_ms)
{
    hb_manager_options o = e2e_options(e2e_on_event, &ev);
    o.cc = cc;
    m = e2e_manager_with(&o);
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    const char *roots[] = {root, NULL};
    hb_watch_options wo = HB_WATCH_OPTIONS_INIT;
    wo.quiet_ms = quiet_ms;
    wo.run_selftests = -1;
    hb_watch *w = NULL;
    HB_CHECK_OK(hb_watch_new(sb, roots, &wo, &w));
    HB_CHECK_EQ(ev.count[HB_EVENT_WATCHING], 1);
    return w;
}

static void stop(hb_watch *w)
{
    hb_watch_free(w);
    e2e_free(sb, m);
}

/* Runs hb_watch_process (polling its fd) until the counter's version() is
 * want; fails after timeout_ms. */
static void wait_version(hb_watch *w, int32_t want, int timeout_ms)
{
    uint64_t end = 0;
    {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        end = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u + (uint64_t)timeout_ms;
    }
    for (;;) {
        HB_CHECK(hb_watch_process(w) >= 0);
        if (version_of("counter") == want)
            return;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
        if (now >= end)
            HB_FAIL_("counter is at version %d, not %d, after %d ms", version_of("counter"), want,
                     timeout_ms);
        struct pollfd p = {.fd = hb_watch_fd(w), .events = POLLIN};
        poll(&p, 1, (int)(end - now));
    }
}

static const char *plugins_root(void)
{
    static char root[4200];
    snprintf(root, sizeof(root), "%s/plugins", e2e_root);
    return root;
}

/* Saved with a rename (e2e_write, as vim and VS Code do): the build runs
 * in the very next hb_watch_process, not 10 s later. */
static void case_build_on_rename(void)
{
    e2e_write("plugins/counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_watch *w = start(plugins_root(), NULL, LONG_QUIET_MS);
    HB_CHECK_EQ(version_of("counter"), 1);
    int swapped = ev.count[HB_EVENT_SWAPPED];
    e2e_write("plugins/counter", "counter.c", e2e_counter_src(2, 1, NULL));
    HB_CHECK_EQ(hb_watch_process(w), 1);
    HB_CHECK_EQ(ev.count[HB_EVENT_SWAPPED], swapped + 1);
    HB_CHECK_EQ(version_of("counter"), 2);
    HB_CHECK_EQ(hb_watch_pending(w), 0);
    stop(w);
}

/* Written in place and closed (IN_CLOSE_WRITE): the same. */
static void case_build_on_close_write(void)
{
    e2e_write("plugins/counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_watch *w = start(plugins_root(), NULL, LONG_QUIET_MS);
    char path[4300];
    snprintf(path, sizeof(path), "%s/counter/counter.c", plugins_root());
    FILE *f = fopen(path, "w");
    HB_CHECK(f != NULL);
    fputs(e2e_counter_src(2, 1, NULL), f);
    HB_CHECK_EQ(fclose(f), 0);
    HB_CHECK_EQ(hb_watch_process(w), 1);
    HB_CHECK_EQ(version_of("counter"), 2);
    stop(w);
}

/* A file being written (open, not closed yet) starts no build: nothing is
 * compiled until it is closed, and then at once. */
static void case_open_write_waits(void)
{
    e2e_write("plugins/counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_watch *w = start(plugins_root(), NULL, LONG_QUIET_MS);
    long before = compiles();
    char path[4300];
    snprintf(path, sizeof(path), "%s/counter/counter.c", plugins_root());
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    HB_CHECK(fd >= 0);
    const char *text = e2e_counter_src(2, 1, NULL);
    size_t half = strlen(text) / 2;
    HB_CHECK_EQ(write(fd, text, half), (ssize_t)half);
    HB_CHECK_EQ(hb_watch_process(w), 0);
    HB_CHECK_EQ(hb_watch_pending(w), 1); /* waiting for its quiet window */
    HB_CHECK_EQ(compiles(), before);
    HB_CHECK_EQ(write(fd, text + half, strlen(text) - half), (ssize_t)(strlen(text) - half));
    HB_CHECK_EQ(hb_watch_process(w), 0);
    HB_CHECK_EQ(compiles(), before);
    HB_CHECK_EQ(close(fd), 0);
    HB_CHECK_EQ(hb_watch_process(w), 1);
    HB_CHECK_EQ(compiles(), before + 1);
    HB_CHECK_EQ(version_of("counter"), 2);
    HB_CHECK_EQ(ev.count[HB_EVENT_COMPILE_FAILED], 0);
    stop(w);
}

/* A compiler wrapper that, once armed, saves NEXT over the plugin's source
 * after the real compiler ran: a second save landing during the build. */
static const char *saving_cc(char *arm, size_t armsz, char *next, size_t nextsz)
{
    static char wrapper[4300];
    snprintf(arm, armsz, "%s/arm", e2e_root);
    snprintf(next, nextsz, "%s/next.c", e2e_root);
    snprintf(wrapper, sizeof(wrapper), "%s/cc-wrapper", e2e_root);
    FILE *f = fopen(wrapper, "w");
    HB_CHECK(f != NULL);
    fprintf(f, "#!/bin/sh\n%s \"$@\"\nrc=$?\n"
               "if [ -e '%s' ]; then rm -f '%s'; cat '%s' > '%s/counter/counter.c'; fi\n"
               "exit $rc\n",
            getenv("CC") && *getenv("CC") ? getenv("CC") : "cc", arm, arm, next, plugins_root());
    HB_CHECK_EQ(fclose(f), 0);
    HB_CHECK_EQ(chmod(wrapper, 0755), 0);
    return wrapper;
}

/* The build started by the first save is superseded by a second save made
 * while it runs; the plugin ends on the second save. */
static void case_second_save_supersedes(void)
{
    e2e_write("plugins/counter", "counter.c", e2e_counter_src(1, 1, NULL));
    char arm[4300], next[4300];
    const char *cc = saving_cc(arm, sizeof(arm), next, sizeof(next));
    hb_watch *w = start(plugins_root(), cc, LONG_QUIET_MS);
    FILE *f = fopen(next, "w");
    HB_CHECK(f != NULL);
    fputs(e2e_counter_src(3, 1, NULL), f);
    HB_CHECK_EQ(fclose(f), 0);
    f = fopen(arm, "w");
    HB_CHECK(f != NULL);
    HB_CHECK_EQ(fclose(f), 0);
    e2e_write("plugins/counter", "counter.c", e2e_counter_src(2, 1, NULL));
    /* One call: the build of the first save ran (the wrapper fired), and it
     * knows it is superseded (the watch has not settled). */
    HB_CHECK_EQ(hb_watch_process(w), 1);
    HB_CHECK(access(arm, F_OK) < 0);
    HB_CHECK_EQ(hb_watch_pending(w), 1);
    /* The second save's close starts the next build at once as well. */
    wait_version(w, 3, 5000);
    HB_CHECK_EQ(hb_watch_pending(w), 0);
    HB_CHECK_EQ(ev.count[HB_EVENT_COMPILE_FAILED], 0);
    HB_CHECK_EQ(ev.count[HB_EVENT_SWAP_FAILED], 0);
    stop(w);
}

static const char *plain_src(const char *name, const char *body)
{
    static char buf[8][1024];
    static unsigned next;
    char *s = buf[next++ % 8];
    snprintf(s, sizeof(buf[0]),
             "#include <hotbox/plugin.h>\n#include <stdint.h>\n%s\n"
             "HB_PLUGIN(\"%s\", 1, 0, 0, 0, 0);\n", body, name);
    return s;
}

/* hb_watch_new compiles each plugin once: one that builds, and one that
 * does not (its failure reported once). */
static void case_new_builds_once(void)
{
    e2e_write("plugins/a", "a.c", plain_src("a", "int32_t version(void) { return 1; }"));
    e2e_write("plugins/b", "b.c", plain_src("b", "int32_t version(void) { return 2; }"));
    e2e_write("plugins/c", "c.c", plain_src("c", "int32_t version(void) { return 3 }"));
    hb_watch *w = start(plugins_root(), NULL, 20);
    /* a and b once each; c in the parallel pass and once more when its
     * load reports the failure. */
    HB_CHECK_EQ(compiles(), 4);
    HB_CHECK_EQ(ev.count[HB_EVENT_LOADED], 2);
    HB_CHECK_EQ(ev.count[HB_EVENT_COMPILE_FAILED], 1);
    stop(w);
}

/* A dependent built beside its provider is linked again once, and works. */
static void case_new_links_dependent(void)
{
    e2e_write("plugins/dep", "dep.c",
              plain_src("dep", "int32_t pval(void);\nint32_t version(void) { return pval() + 1; }"));
    e2e_write("plugins/prov", "prov.c",
              plain_src("prov", "int32_t pval(void) { return 41; }\n"
                                "int32_t version(void) { return 1; }"));
    hb_watch *w = start(plugins_root(), NULL, 20);
    HB_CHECK_EQ(ev.count[HB_EVENT_LOADED], 2);
    int32_t v = -1;
    HB_CHECK_OK(hb_callf(sb, "dep", "version", ")i", &v));
    HB_CHECK_EQ(v, 42);
    HB_CHECK_INT(compiles(), <=, 3); /* dep again only when it was linked before prov was stored */
    stop(w);
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"build_on_rename", case_build_on_rename},
        {"build_on_close_write", case_build_on_close_write},
        {"open_write_waits", case_open_write_waits},
        {"second_save_supersedes", case_second_save_supersedes},
        {"new_builds_once", case_new_builds_once},
        {"new_links_dependent", case_new_links_dependent},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
