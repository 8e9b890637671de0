/*
 * bench/bench_common.h - what every hotbox benchmark shares: a monotonic
 * clock in milliseconds and median/p95 over a set of samples, printed the
 * same way everywhere. Header-only (static inline) so a benchmark needs no
 * extra library.
 *
 *   double ms[RUNS]; ... ms[i] = hb_bench_now_ms() - t0; ...
 *   hb_bench_report("crash -> serving", ms, RUNS);
 *   // "crash -> serving          n=50  median    7.812 ms  p95    9.301 ms  min ... max ..."
 *
 * And the set-up every end-to-end benchmark repeats: a temporary tree with
 * one plugin directory and a state directory (hb_bench_tree_new), a source
 * written whole (hb_bench_write), a manager on that state
 * (hb_bench_manager). Set-up failures end the benchmark with a message
 * naming what failed and where (hb_bench_die).
 */
#ifndef HB_BENCH_COMMON_H
#define HB_BENCH_COMMON_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hotbox/hotbox.h>

static inline double hb_bench_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static inline int hb_bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct hb_bench_stats {
    size_t n;
    double median, p95, min, max, mean;
} hb_bench_stats;

/* Sorts v in place. Median: mean of the middle two for even n. p95: the
 * nearest-rank sample (the smallest value with at least 95% of samples at
 * or below it), so it is always a measured value. */
static inline hb_bench_stats hb_bench_stats_of(double *v, size_t n)
{
    hb_bench_stats s = {0};
    if (!n)
        return s;
    qsort(v, n, sizeof(*v), hb_bench_cmp_double);
    s.n = n;
    s.min = v[0];
    s.max = v[n - 1];
    s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
    size_t rank = (size_t)((double)n * 0.95 + 0.999999); /* ceil(0.95 n), 1-based */
    if (rank < 1)
        rank = 1;
    s.p95 = v[rank - 1];
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    s.mean = sum / (double)n;
    return s;
}

static inline hb_bench_stats hb_bench_report(const char *what, double *ms, size_t n)
{
    hb_bench_stats s = hb_bench_stats_of(ms, n);
    printf("%-34s n=%-4zu median %9.3f ms  p95 %9.3f ms  min %9.3f  max %9.3f\n", what, s.n,
           s.median, s.p95, s.min, s.max);
    return s;
}

static inline double hb_bench_now_us(void)
{
    return hb_bench_now_ms() * 1e3;
}

/* One indented line: "  WHAT  median X UNIT   p95 Y UNIT   (n=N)", for
 * samples in any unit (us, ms, ns/call). Sorts v in place. */
static inline hb_bench_stats hb_bench_line(const char *what, double *v, size_t n, const char *unit)
{
    hb_bench_stats st = hb_bench_stats_of(v, n);
    printf("  %-46s median %9.3f %s   p95 %9.3f %s   (n=%zu)\n", what, st.median, unit, st.p95,
           unit, n);
    return st;
}

/* Runs argv (PATH lookup) to its end: the milliseconds from fork to reap,
 * or -1 when it could not run or did not exit 0. For same-run baselines
 * such as bare `cc`. */
static inline double hb_bench_run(char *const argv[])
{
    double t0 = hb_bench_now_ms();
    pid_t pid = fork();
    if (pid == 0) {
        execvp(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    double ms = hb_bench_now_ms() - t0;
    return pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? ms : -1;
}

/* Removes a benchmark's temporary tree (rm -rf), saying so when it cannot. */
static inline void hb_bench_rm_rf(const char *dir)
{
    char cmd[4400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* Ends a benchmark whose set-up failed: "WHAT: TEXT OF CODE[: DETAIL]". code
 * is a hotbox code or a negative errno value. */
static inline void hb_bench_die(const char *what, int code, const char *detail)
{
    fprintf(stderr, "bench: %s: %s%s%s\n", what, hb_strerror(code), detail && *detail ? ": " : "",
            detail ? detail : "");
    exit(1);
}

/* Writes text to path whole: into DIR/.NAME.tmp, then renamed over path, so
 * a watcher sees one complete save (and no source file by another name).
 * Dies on failure. */
static inline void hb_bench_write(const char *path, const char *text)
{
    char tmp[4400];
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(tmp, sizeof(tmp), "%.*s.%s.tmp", (int)(base - path), path, base);
    FILE *f = fopen(tmp, "we");
    if (!f)
        hb_bench_die("writing", -errno, tmp);
    int ok = fputs(text, f) >= 0;
    if (fclose(f) != 0 || !ok)
        hb_bench_die("writing", -EIO, tmp);
    if (rename(tmp, path) < 0)
        hb_bench_die("renaming", -errno, path);
}

/* A benchmark's temporary tree: root is a new /tmp/hb-bench-NAME-XXXXXX,
 * dir its plugin directory root/PLUGIN (created), src dir/PLUGIN.c (not
 * written), state root/.hotbox. Remove it with hb_bench_rm_rf(t.root). */
typedef struct hb_bench_tree {
    char root[256];
    char dir[512];
    char src[640];
    char state[512];
} hb_bench_tree;

static inline void hb_bench_tree_new(hb_bench_tree *t, const char *name, const char *plugin)
{
    snprintf(t->root, sizeof(t->root), "/tmp/hb-bench-%s-XXXXXX", name);
    if (!mkdtemp(t->root))
        hb_bench_die("mkdtemp", -errno, t->root);
    snprintf(t->dir, sizeof(t->dir), "%s/%s", t->root, plugin);
    snprintf(t->src, sizeof(t->src), "%s/%s.c", t->dir, plugin);
    snprintf(t->state, sizeof(t->state), "%s/.hotbox", t->root);
    if (mkdir(t->dir, 0755) < 0)
        hb_bench_die("mkdir", -errno, t->dir);
}

/* A manager on state with the given isolation and event callback (NULL for
 * none). Dies on failure. */
static inline hb_manager *hb_bench_manager(const char *state, hb_isolation iso, hb_event_fn on_event)
{
    hb_manager_options mo;
    hb_manager_options_init(&mo, HB_MANAGER_OPTIONS_VERSION);
    mo.state_dir = state;
    mo.isolation = iso;
    mo.on_event = on_event;
    hb_manager *m = NULL;
    int r = hb_manager_new(&mo, &m);
    if (r < 0)
        hb_bench_die("hb_manager_new", r, state);
    return m;
}

#endif /* HB_BENCH_COMMON_H */
