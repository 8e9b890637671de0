/* bench/bench_testrun.c - `hotbox test` on 1,000 trivial tests across 20
 * plugins: total wall time with -j 1 and -j 2 (warm build cache), against
 * the baseline of calling the same 1,000 functions directly in one process
 * (each plugin compiled with cc and dlopen()ed here), measured in the same
 * run. Per-test overhead = (hotbox -j 1 wall - direct) / 1000. Beside it,
 * in the same run: -j 1 -x (fail-fast runs one test per round trip, as
 * every run did before batching), and the same 20 plugins with one test
 * each, so the per-plugin cost (a worker, a load) and the per-test cost
 * separate: per test = (wall of 1,000 - wall of 20) / 980.
 *
 * The hotbox command is $HOTBOX_CLI, else <build>/bin/hotbox derived from
 * the worker's path in the build tree. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"

#define PLUGINS 20
#define TESTS 50
#define RUNS 5

extern char **environ;

static int run_cmd(char *const argv[])
{
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
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

/* PLUGINS plugin directories under dir, <c>NN/<c>NN.c, with ntests trivial
 * tests each. */
static int write_suite(const char *dir, char c, int ntests)
{
    char path[8192];
    for (int p = 0; p < PLUGINS; p++) {
        snprintf(path, sizeof(path), "%s/%c%02d", dir, c, p);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/%c%02d/%c%02d.c", dir, c, p, c, p);
        FILE *f = fopen(path, "w");
        if (!f)
            return -1;
        fprintf(f, "#include <hotbox/plugin.h>\nstatic volatile int sink;\n");
        for (int t = 0; t < ntests; t++)
            fprintf(f, "HB_EXPORT_FN int hb_test_t%02d(void) { sink++; return 0; }\n", t);
        fprintf(f, "HB_PLUGIN(\"%c%02d\", 1, 0, 0, 0, 0);\n", c, p);
        fclose(f);
    }
    return 0;
}

int main(void)
{
    char cli[4096];
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
    char tmpl[64] = "/tmp/hb-bench-testrun-XXXXXX";
    char *root = mkdtemp(tmpl);
    if (!root)
        return 1;
    char plugins[2048], state[2048];
    char plugins1[2048];
    snprintf(plugins, sizeof(plugins), "%s/plugins", root);
    snprintf(plugins1, sizeof(plugins1), "%s/plugins1", root);
    snprintf(state, sizeof(state), "%s/state", root);
    mkdir(plugins, 0755);
    mkdir(plugins1, 0755);
    /* The suite, and the same plugins with one test each. */
    if (write_suite(plugins, 'p', TESTS) < 0 || write_suite(plugins1, 'q', 1) < 0)
        return 1;

    /* Baseline: the same functions, dlopen()ed and called in this process. */
    int (*fn[PLUGINS * TESTS])(void);
    for (int p = 0; p < PLUGINS; p++) {
        char so[4096], src[8192], inc[4096];
        snprintf(so, sizeof(so), "%s/p%02d.so", root, p);
        snprintf(src, sizeof(src), "%s/p%02d/p%02d.c", plugins, p, p);
        snprintf(inc, sizeof(inc), "-I%s/include", HB_SOURCE_DIR);
        char *cc[] = {"/usr/bin/cc", "-O2", "-shared", "-fPIC", inc, "-o", so, src, NULL};
        if (run_cmd(cc) != 0) {
            fprintf(stderr, "cc failed\n");
            return 1;
        }
        void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            fprintf(stderr, "dlopen: %s\n", dlerror());
            return 1;
        }
        for (int t = 0; t < TESTS; t++) {
            char sym[32];
            snprintf(sym, sizeof(sym), "hb_test_t%02d", t);
            *(void **)&fn[p * TESTS + t] = dlsym(h, sym);
        }
    }
    double direct[RUNS];
    for (int r = 0; r < RUNS; r++) {
        double t0 = hb_bench_now_ms();
        for (int i = 0; i < PLUGINS * TESTS; i++)
            if (fn[i]() != 0)
                return 1;
        direct[r] = hb_bench_now_ms() - t0;
    }

    char *warm[] = {cli, "--state-dir", state, "-q", "test", "-j", "2", plugins, NULL};
    char *warm1[] = {cli, "--state-dir", state, "-q", "test", "-j", "2", plugins1, NULL};
    if (run_cmd(warm) != 0 || run_cmd(warm1) != 0) { /* builds and caches the plugins */
        fprintf(stderr, "hotbox test failed (warm-up)\n");
        return 1;
    }
    double j1[RUNS], j2[RUNS], x1[RUNS], one[RUNS];
    for (int r = 0; r < RUNS; r++) {
        char *a1[] = {cli, "--state-dir", state, "-q", "test", "-j", "1", plugins, NULL};
        char *a2[] = {cli, "--state-dir", state, "-q", "test", "-j", "2", plugins, NULL};
        char *ax[] = {cli, "--state-dir", state, "-q", "test", "-x", "-j", "1", plugins, NULL};
        char *a20[] = {cli, "--state-dir", state, "-q", "test", "-j", "1", plugins1, NULL};
        char *const *cmds[] = {a1, a2, ax, a20};
        double *into[] = {j1, j2, x1, one};
        for (int c = 0; c < 4; c++) {
            double t0 = hb_bench_now_ms();
            if (run_cmd((char **)cmds[c]) != 0)
                return 1;
            into[c][r] = hb_bench_now_ms() - t0;
        }
    }
    printf("%d tests across %d plugins, warm build cache\n", PLUGINS * TESTS, PLUGINS);
    hb_bench_stats d = hb_bench_report("direct calls in one process", direct, RUNS);
    hb_bench_stats s1 = hb_bench_report("hotbox test -j 1 (wall)", j1, RUNS);
    hb_bench_stats s2 = hb_bench_report("hotbox test -j 2 (wall)", j2, RUNS);
    hb_bench_stats sx = hb_bench_report("hotbox test -j 1 -x, unbatched (wall)", x1, RUNS);
    hb_bench_stats s0 = hb_bench_report("hotbox test -j 1, 1 test/plugin (wall)", one, RUNS);
    printf("per-test overhead (-j 1): %.3f ms; speed-up of -j 2: %.2fx\n",
           (s1.median - d.median) / (PLUGINS * TESTS), s1.median / s2.median);
    int extra = PLUGINS * TESTS - PLUGINS;
    printf("per test beyond the per-plugin cost, median: batched %.4f ms, unbatched (-x) %.4f ms;"
           " direct call %.5f ms\n",
           (s1.median - s0.median) / extra, (sx.median - s0.median) / extra,
           d.median / (PLUGINS * TESTS));
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    if (system(cmd) != 0)
        return 1;
    return 0;
}
