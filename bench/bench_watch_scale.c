/* bench/bench_watch_scale.c - edit-to-swap through watch mode beside many
 * unrelated files: the same small plugin, once alone and once with EXTRA
 * (default 100,000) small non-source files in its directory (half of them
 * in 100 subdirectories of vendor/, like a vendored or generated tree),
 * both in the same run, alternating which goes first each round. Each save
 * is an editor's atomic save (write + rename: the directory's entries
 * change every time). Prints the time until watch mode is ready (the first
 * build swapped in), then median and p95 of save -> swapped for each, and
 * their difference: what a save costs per unrelated file should be 0.
 * `bench_watch_scale [RUNS] [EXTRA]`, local backend. Not a test. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_common.h"
#include "hotbox/hotbox.h"

static int swaps;
static double last_swap_ms;

static void on_event(const hb_event *ev, void *ud)
{
    (void)ud;
    if (ev->type == HB_EVENT_SWAPPED || ev->type == HB_EVENT_LOADED) {
        last_swap_ms = hb_bench_now_ms();
        swaps++;
    }
}

static void write_src(const char *path, int salt)
{
    char src[512];
    snprintf(src, sizeof(src),
             "#include <hotbox/plugin.h>\n#include <stdint.h>\n"
             "int64_t bump(void) { return %d; }\nHB_PLUGIN(\"w\", 1, 0, 0, NULL, NULL);\n",
             salt);
    hb_bench_write(path, src);
}

static void fill(const char *dir, int extra)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/vendor", dir);
    if (extra > 1 && mkdir(path, 0755) < 0)
        hb_bench_die("mkdir", -errno, path);
    for (int i = 0; i < extra; i++) {
        if (i % 2) {
            snprintf(path, sizeof(path), "%s/vendor/d%03d", dir, i % 100);
            if (i < 200 && mkdir(path, 0755) < 0 && errno != EEXIST)
                hb_bench_die("mkdir", -errno, path);
            snprintf(path, sizeof(path), "%s/vendor/d%03d/f%06d.txt", dir, i % 100, i);
        } else {
            snprintf(path, sizeof(path), "%s/f%06d.txt", dir, i);
        }
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, "x\n", 2) != 2 || close(fd) < 0)
            hb_bench_die("creating", -errno, path);
    }
}

typedef struct setup {
    hb_bench_tree t;
    hb_manager *m;
    hb_sandbox *sb;
    hb_watch *w;
    double ready_ms;
} setup;

static void wait_swap(hb_watch *w, int before, const char *what)
{
    while (swaps == before) {
        struct pollfd p = {.fd = hb_watch_fd(w), .events = POLLIN};
        if (poll(&p, 1, 120000) <= 0) {
            fprintf(stderr, "no swap within 120 s (%s)\n", what);
            exit(1);
        }
        hb_watch_process(w);
    }
}

static void start(setup *s, int extra)
{
    hb_bench_tree_new(&s->t, "watchscale", "w");
    write_src(s->t.src, 0);
    fill(s->t.dir, extra);
    s->m = hb_bench_manager(s->t.state, HB_ISOLATION_LOCAL, on_event);
    const char *roots[] = {s->t.dir, NULL};
    hb_watch_options wo = HB_WATCH_OPTIONS_INIT;
    wo.run_selftests = -1;
    int before = swaps;
    double t0 = hb_bench_now_ms();
    if (hb_sandbox_new(s->m, NULL, &s->sb) < 0 || hb_watch_new(s->sb, roots, &wo, &s->w) < 0)
        hb_bench_die("watch set-up", -EIO, s->t.dir);
    if (swaps == before)
        wait_swap(s->w, before, "first load");
    s->ready_ms = last_swap_ms - t0;
}

static double edit(setup *s, int salt)
{
    int before = swaps;
    double t0 = hb_bench_now_ms();
    write_src(s->t.src, salt);
    wait_swap(s->w, before, s->t.dir);
    return last_swap_ms - t0;
}

static void stop(setup *s)
{
    hb_watch_free(s->w);
    hb_sandbox_free(s->sb);
    hb_manager_free(s->m);
    hb_bench_rm_rf(s->t.root);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 20;
    int extra = argc > 2 ? atoi(argv[2]) : 100000;
    if (runs < 3)
        runs = 3;
    if (!getenv("HOTBOX_WORKER"))
        setenv("HOTBOX_WORKER", HB_WORKER_PATH, 0);
    printf("hotbox %s: save -> swapped through watch mode, 0 vs %d unrelated files in the "
           "plugin directory (%d saves each, alternated; local backend)\n",
           hb_version(), extra, runs);
    setup a, b;
    start(&a, 0);
    start(&b, extra);
    printf("  ready (watch started -> first load)   0 files %8.1f ms   %d files %8.1f ms\n",
           a.ready_ms, extra, b.ready_ms);
    double *ea = calloc((size_t)runs, sizeof(double)), *eb = calloc((size_t)runs, sizeof(double));
    if (!ea || !eb)
        hb_bench_die("calloc", -ENOMEM, "samples");
    for (int i = 0; i < runs; i++) {
        if (i % 2) {
            ea[i] = edit(&a, i + 1);
            eb[i] = edit(&b, i + 1);
        } else {
            eb[i] = edit(&b, i + 1);
            ea[i] = edit(&a, i + 1);
        }
    }
    char what[64];
    hb_bench_stats sa = hb_bench_report("  save -> swapped, 0 extra files", ea, (size_t)runs);
    snprintf(what, sizeof(what), "  save -> swapped, %d extra files", extra);
    hb_bench_stats sb = hb_bench_report(what, eb, (size_t)runs);
    printf("  difference: median %+.1f ms (%.2fx), p95 %+.1f ms\n", sb.median - sa.median,
           sb.median / sa.median, sb.p95 - sa.p95);
    stop(&a);
    stop(&b);
    free(ea);
    free(eb);
    return 0;
}
