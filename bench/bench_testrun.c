/* bench/bench_testrun.c - `hotbox test` on 1,000 trivial tests at -j 1, in
 * two shapes, against calling the same 1,000 functions directly in one
 * process (each plugin compiled with cc and dlopen()ed here), measured in
 * the same run:
 *   (a) one plugin with 1,000 tests (the figure: one run over
 *       1,000 trivial tests);
 *   (b) 20 plugins with 50 tests each.
 * Each shape is reported as total wall time / 1,000 and as a fixed cost
 * plus a per-test slope, from a second suite of the same plugins with one
 * test each: slope = (wall of 1,000 - wall of the 1-test suite) / (1,000 -
 * its tests), fixed = wall of the 1,000 - 1,000 x slope. Warm build cache
 * (every plugin already built and stored) and cold (a fresh state
 * directory each run: compiles included) are reported apart. For warm runs
 * the per-stage breakdown of one `hotbox test` run (HOTBOX_TEST_STAGES,
 * cli/test/stages.c) is printed as medians; "outside" is process start,
 * dynamic loading and exit (the wall time the command does not see).
 *
 * The hotbox command is $HOTBOX_CLI, else <build>/bin/hotbox derived from
 * the worker's path in the build tree. BENCH_TESTRUN_RUNS sets the warm
 * runs (default 7; cold runs are 3). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"

#define TOTAL 1000
#define MAX_RUNS 64
#define COLD_RUNS 3
#define NSTAGES 11

extern char **environ;

static const char *const stage_names[NSTAGES] = {
    "options", "manager", "build",   "plan",     "worker",  "load",
    "tests",   "sandbox_end", "reports", "teardown", "total"};

static char root[64];
static char cli[4096];

/* Runs argv with stdout to /dev/null and stderr to errpath (or /dev/null). */
static int run_cmd(char *const argv[], const char *errpath)
{
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, errpath ? errpath : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (r != 0)
        return -r;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -errno;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* nplugins plugin directories under dir, <c>NN/<c>NN.c, with ntests
 * trivial tests each. */
static int write_suite(const char *dir, char c, int nplugins, int ntests)
{
    char path[8192];
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return -1;
    for (int p = 0; p < nplugins; p++) {
        snprintf(path, sizeof(path), "%s/%c%02d", dir, c, p);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/%c%02d/%c%02d.c", dir, c, p, c, p);
        FILE *f = fopen(path, "w");
        if (!f)
            return -1;
        fprintf(f, "#include <hotbox/plugin.h>\nstatic volatile int sink;\n");
        for (int t = 0; t < ntests; t++)
            fprintf(f, "HB_EXPORT_FN int hb_test_t%04d(void) { sink++; return 0; }\n", t);
        fprintf(f, "HB_PLUGIN(\"%c%02d\", 1, 0, 0, 0, 0);\n", c, p);
        fclose(f);
    }
    return 0;
}

typedef struct sample {
    double wall;
    double stage[NSTAGES];
    bool have_stages;
} sample;

/* One `hotbox test -q -j 1 DIR` with its stages. */
static int one_run(const char *state, const char *dir, sample *s)
{
    char errpath[128];
    snprintf(errpath, sizeof(errpath), "%s/stderr", root);
    char *a[] = {cli, "--state-dir", (char *)state, "-q", "test", "-j", "1", (char *)dir, NULL};
    double t0 = hb_bench_now_ms();
    int r = run_cmd(a, errpath);
    s->wall = hb_bench_now_ms() - t0;
    if (r != 0) {
        fprintf(stderr, "hotbox test %s failed (%d); its stderr is in %s\n", dir, r, errpath);
        return -1;
    }
    s->have_stages = false;
    FILE *f = fopen(errpath, "r");
    char line[2048];
    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "hotbox test stages (ms):", 24))
            continue;
        s->have_stages = true;
        for (int k = 0; k < NSTAGES; k++) {
            char key[64];
            snprintf(key, sizeof(key), " %s=", stage_names[k]);
            char *p = strstr(line, key);
            s->stage[k] = p ? strtod(p + strlen(key), NULL) : 0;
        }
    }
    if (f)
        fclose(f);
    return 0;
}

static double median_of(const sample *s, int n, int stage)
{
    double v[MAX_RUNS];
    for (int i = 0; i < n; i++)
        v[i] = stage < 0 ? s[i].wall : s[i].stage[stage];
    return hb_bench_stats_of(v, (size_t)n).median;
}

static hb_bench_stats report(const char *what, const sample *s, int n)
{
    double v[MAX_RUNS];
    for (int i = 0; i < n; i++)
        v[i] = s[i].wall;
    return hb_bench_report(what, v, (size_t)n);
}

/* Per test, and fixed + slope, from the medians of the full suite and of
 * the suite with one test per plugin. */
static void shape_line(const char *shape, double full, double ones, int nones, double direct)
{
    double slope = (full - ones) / (TOTAL - nones);
    printf("%s: %.4f ms per test (wall / %d); fixed %.1f ms + %.4f ms per test;"
           " direct call %.5f ms per test\n",
           shape, full / TOTAL, TOTAL, full - TOTAL * slope, slope, direct / TOTAL);
}

static void stages_line(const char *shape, const sample *s, int n)
{
    for (int i = 0; i < n; i++)
        if (!s[i].have_stages) {
            printf("%s stages: not reported by this hotbox (no HOTBOX_TEST_STAGES)\n", shape);
            return;
        }
    printf("%s stages, median ms:", shape);
    for (int k = 0; k < NSTAGES - 1; k++)
        printf(" %s %.1f", stage_names[k], median_of(s, n, k));
    double outside[MAX_RUNS];
    for (int i = 0; i < n; i++)
        outside[i] = s[i].wall - s[i].stage[NSTAGES - 1];
    printf(" | outside %.1f\n", hb_bench_stats_of(outside, (size_t)n).median);
}

int main(void)
{
    const char *env = getenv("HOTBOX_CLI");
    if (env) {
        snprintf(cli, sizeof(cli), "%s", env);
    } else {
        snprintf(cli, sizeof(cli), "%s", HB_WORKER_PATH);
        char *p = strstr(cli, "/libexec/hotbox/hotbox-worker");
        if (!p) {
            fprintf(stderr, "set HOTBOX_CLI\n");
            return 1;
        }
        strcpy(p, "/bin/hotbox");
    }
    if (!getenv("HOTBOX_WORKER"))
        setenv("HOTBOX_WORKER", HB_WORKER_PATH, 1);
    setenv("HOTBOX_TEST_STAGES", "1", 1);
    int runs = 7;
    if (getenv("BENCH_TESTRUN_RUNS"))
        runs = atoi(getenv("BENCH_TESTRUN_RUNS"));
    if (runs < 1 || runs > MAX_RUNS)
        runs = 7;
    snprintf(root, sizeof(root), "/tmp/hb-bench-testrun-XXXXXX");
    if (!mkdtemp(root))
        return 1;
    char a1000[256], a1[256], b1000[256], b20[256], state[256];
    snprintf(a1000, sizeof(a1000), "%s/a1000", root); /* (a): 1 plugin x 1,000 */
    snprintf(a1, sizeof(a1), "%s/a1", root);          /*      1 plugin x 1 */
    snprintf(b1000, sizeof(b1000), "%s/b1000", root); /* (b): 20 plugins x 50 */
    snprintf(b20, sizeof(b20), "%s/b20", root);       /*      20 plugins x 1 */
    snprintf(state, sizeof(state), "%s/state", root);
    if (write_suite(a1000, 'a', 1, TOTAL) < 0 || write_suite(a1, 'o', 1, 1) < 0 ||
        write_suite(b1000, 'p', 20, TOTAL / 20) < 0 || write_suite(b20, 'q', 20, 1) < 0)
        return 1;

    /* Baseline: the 1,000 tests of (b), dlopen()ed and called here. */
    int (*fn[TOTAL])(void);
    for (int p = 0; p < 20; p++) {
        char so[512], src[512], inc[4096];
        snprintf(so, sizeof(so), "%s/p%02d.so", root, p);
        snprintf(src, sizeof(src), "%s/p%02d/p%02d.c", b1000, p, p);
        snprintf(inc, sizeof(inc), "-I%s/include", HB_SOURCE_DIR);
        char *cc[] = {"/usr/bin/cc", "-O2", "-shared", "-fPIC", inc, "-o", so, src, NULL};
        if (run_cmd(cc, NULL) != 0) {
            fprintf(stderr, "cc failed\n");
            return 1;
        }
        void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            fprintf(stderr, "dlopen: %s\n", dlerror());
            return 1;
        }
        for (int t = 0; t < TOTAL / 20; t++) {
            char sym[32];
            snprintf(sym, sizeof(sym), "hb_test_t%04d", t);
            *(void **)&fn[p * (TOTAL / 20) + t] = dlsym(h, sym);
        }
    }
    double direct[MAX_RUNS];
    for (int r = 0; r < runs; r++) {
        double t0 = hb_bench_now_ms();
        for (int i = 0; i < TOTAL; i++)
            if (fn[i]() != 0)
                return 1;
        direct[r] = hb_bench_now_ms() - t0;
    }

    /* Cold: a fresh state directory per run (compiles, the catalogue created). */
    static sample ca[MAX_RUNS], cb[MAX_RUNS];
    for (int r = 0; r < COLD_RUNS; r++) {
        char cold[300], cmd[400];
        snprintf(cold, sizeof(cold), "%s/cold%d", root, r);
        if (one_run(cold, a1000, &ca[r]) < 0)
            return 1;
        snprintf(cold, sizeof(cold), "%s/coldb%d", root, r);
        if (one_run(cold, b1000, &cb[r]) < 0)
            return 1;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s/cold%d' '%s/coldb%d'", root, r, root, r);
        if (system(cmd) != 0)
            return 1;
    }

    /* Warm: every suite built once into one state directory first. */
    sample s;
    const char *suites[] = {a1000, a1, b1000, b20};
    for (int i = 0; i < 4; i++)
        if (one_run(state, suites[i], &s) < 0)
            return 1;
    static sample wa[MAX_RUNS], wa1[MAX_RUNS], wb[MAX_RUNS], wb1[MAX_RUNS];
    sample *into[] = {wa, wa1, wb, wb1};
    for (int r = 0; r < runs; r++)
        for (int i = 0; i < 4; i++)
            if (one_run(state, suites[i], &into[i][r]) < 0)
                return 1;

    printf("hotbox test -j 1 on %d trivial tests; %d warm runs (build cache warm: every plugin"
           " already stored), %d cold runs (fresh state directory: compiles included)\n",
           TOTAL, runs, COLD_RUNS);
    hb_bench_stats d = hb_bench_report("direct calls, 1,000 tests", direct, (size_t)runs);
    hb_bench_stats sa = report("(a) 1 plugin x 1000, warm", wa, runs);
    hb_bench_stats sa1 = report("(a') 1 plugin x 1, warm", wa1, runs);
    hb_bench_stats sb = report("(b) 20 plugins x 50, warm", wb, runs);
    hb_bench_stats sb1 = report("(b') 20 plugins x 1, warm", wb1, runs);
    hb_bench_stats sca = report("(a) 1 plugin x 1000, cold", ca, COLD_RUNS);
    hb_bench_stats scb = report("(b) 20 plugins x 50, cold", cb, COLD_RUNS);
    shape_line("(a) warm", sa.median, sa1.median, 1, d.median);
    shape_line("(b) warm", sb.median, sb1.median, 20, d.median);
    printf("(a) cold: %.4f ms per test; (b) cold: %.4f ms per test\n", sca.median / TOTAL,
           scb.median / TOTAL);
    printf("target: <= 0.05 ms per test for (a) warm\n");
    stages_line("(a) warm", wa, runs);
    stages_line("(b) warm", wb, runs);
    stages_line("(a) cold", ca, COLD_RUNS);
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    if (system(cmd) != 0)
        return 1;
    return 0;
}
