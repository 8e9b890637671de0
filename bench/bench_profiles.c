/* bench/bench_profiles.c - what each security profile costs, measured in
 * the same run against the unprotected baseline (permissive: no seccomp,
 * no namespaces):
 *   1. worker start: hb_sandbox_new (fork, exec, bwrap namespaces when the
 *      profile has them, seccomp install, HELLO handshake) and
 *      hb_sandbox_free, each alone and both, with the steps of
 *      hb_sandbox_new for the standard profile;
 *   2. call round trip: hb_callf of mathx add(int, int).
 * "standard, seccomp only" re-runs this program with HOTBOX_BWRAP="" so
 * the share of bwrap and of seccomp can be told apart. These start every
 * worker (worker_pool 0); "standard, pooled" takes hb_sandbox_new's worker
 * from the manager's pool (harness/pool.c): "hit" with the pool's refill
 * done before the next sandbox (a caller doing anything for longer than a
 * worker start between sandboxes), "back to back" without waiting (the
 * refill still under way is waited for), and the private memory of one
 * idle pooled worker (bwrap and the worker).
 * Prints median and p95 of each. Not a test: no pass/fail thresholds. */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"
#include "hotbox/hotbox.h"
#include "harness.h"

#define STARTS 40
#define CALLS 3000

static void stats(const char *profile, const char *what, double *v, size_t n, const char *unit)
{
    hb_bench_stats st = hb_bench_stats_of(v, n);
    printf("  %-28s %-14s median %9.3f %s   p95 %9.3f %s   (n=%zu)\n", profile, what, st.median,
           unit, st.p95, unit, n);
}

static void bench(hb_manager *m, hb_profile p, const char *label, bool breakdown)
{
    hb_sandbox_options so;
    hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION);
    so.profile = p;
    static double starts[STARTS], news[STARTS], frees[STARTS], calls[CALLS];
    static double ns[HB_NS_COUNT][STARTS], ws[HB_WS_COUNT][STARTS];
    for (int i = 0; i < STARTS; i++) {
        hb_sandbox *sb = NULL;
        double t0 = hb_bench_now_us();
        if (hb_sandbox_new(m, &so, &sb) != 0) {
            fprintf(stderr, "%s: %s\n", label, hb_manager_last_error(m));
            exit(1);
        }
        double t1 = hb_bench_now_us();
        uint64_t a[HB_NS_COUNT], b[HB_WS_COUNT];
        hb__sandbox_new_stages(sb, a, b);
        for (int k = 0; k < HB_NS_COUNT; k++)
            ns[k][i] = (double)a[k] / 1e6;
        for (int k = 0; k < HB_WS_COUNT; k++)
            ws[k][i] = (double)b[k] / 1e6;
        hb_sandbox_free(sb);
        starts[i] = (hb_bench_now_us() - t0) / 1000.0;
        news[i] = (t1 - t0) / 1000.0;
        frees[i] = starts[i] - news[i];
    }
    hb_sandbox *sb = NULL;
    if (hb_sandbox_new(m, &so, &sb) != 0)
        exit(1);
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/examples/plugins/mathx", HB_SOURCE_DIR);
    if (hb_load(sb, dir) != 0) {
        fprintf(stderr, "%s: %s\n", label, hb_sandbox_last_error(sb));
        exit(1);
    }
    int32_t r;
    for (int i = 0; i < 200; i++) /* warm-up */
        hb_callf(sb, "mathx", "add", "ii)i", i, 1, &r);
    for (int i = 0; i < CALLS; i++) {
        double t0 = hb_bench_now_us();
        hb_callf(sb, "mathx", "add", "ii)i", i, 1, &r);
        calls[i] = hb_bench_now_us() - t0;
    }
    hb_sandbox_free(sb);
    stats(label, "new + free", starts, STARTS, "ms");
    stats(label, "hb_sandbox_new", news, STARTS, "ms");
    stats(label, "hb_sandbox_free", frees, STARTS, "ms");
    if (breakdown) {
        static const char *const nn[HB_NS_COUNT] = {"  cgroup", "  params/view", "  spawn",
                                                    "  pid record"};
        static const char *const wn[HB_WS_COUNT] = {"    argv/ring", "    fork+exec",
                                                    "    ns+seccomp", "    HELLO",
                                                    "    pid/watch"};
        for (int k = 0; k < HB_NS_COUNT; k++) {
            stats(label, nn[k], ns[k], STARTS, "ms");
            if (k == HB_NS_SPAWN)
                for (int j = 0; j < HB_WS_COUNT; j++)
                    stats(label, wn[j], ws[j], STARTS, "ms");
        }
    }
    stats(label, "call", calls, CALLS, "us");
}

static long private_kib(int pid);

/* Private memory (KiB) of the children of pid's every thread. */
static long children_kib(int pid)
{
    char path[64];
    long kib = 0;
    snprintf(path, sizeof(path), "/proc/%d/task", pid);
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char cpath[300];
        snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children", pid, e->d_name);
        FILE *f = fopen(cpath, "r");
        int c;
        while (f && fscanf(f, "%d", &c) == 1)
            kib += private_kib(c);
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    return kib;
}

/* Private memory (KiB) of pid and its descendants, from smaps_rollup. */
static long private_kib(int pid)
{
    char path[64], line[256];
    long kib = 0, v;
    snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
    FILE *f = fopen(path, "r");
    if (f) {
        while (fgets(line, sizeof(line), f))
            if ((sscanf(line, "Private_Clean: %ld", &v) == 1 ||
                 sscanf(line, "Private_Dirty: %ld", &v) == 1))
                kib += v;
        fclose(f);
    }
    return kib + children_kib(pid);
}

static void wait_pool(hb_manager *m)
{
    hb_pool_stats ps;
    for (int i = 0; i < 20000; i++) {
        if (hb_manager_pool_stats(m, &ps) == 0 && ps.ready > 0 && ps.starting == 0)
            return;
        usleep(1000);
    }
    fprintf(stderr, "no pooled worker within 20 s\n");
    exit(1);
}

static void bench_pooled(const char *state)
{
    hb_manager_options o;
    hb_manager_options_init(&o, HB_MANAGER_OPTIONS_VERSION);
    o.state_dir = state;
    o.isolation = HB_ISOLATION_LOCAL;
    o.worker_pool = 2;
    hb_manager *m = NULL;
    if (hb_manager_new(&o, &m) != 0)
        exit(1);
    hb_sandbox_options so;
    hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION);
    so.profile = HB_PROFILE_STANDARD;
    static double hit[STARTS], b2b[STARTS];
    hb_pool_stats before, after;
    hb_sandbox *sb = NULL;
    if (hb_sandbox_new(m, &so, &sb) != 0) /* the first one warms the pool */
        exit(1);
    hb_sandbox_free(sb);
    wait_pool(m);
    /* One idle pooled worker: the only child left. */
    long kib = children_kib((int)getpid());
    hb_manager_pool_stats(m, &before);
    for (int i = 0; i < STARTS; i++) {
        wait_pool(m);
        double t0 = hb_bench_now_us();
        if (hb_sandbox_new(m, &so, &sb) != 0)
            exit(1);
        hit[i] = (hb_bench_now_us() - t0) / 1000.0;
        hb_sandbox_free(sb);
    }
    hb_manager_pool_stats(m, &after);
    unsigned long long hits = (unsigned long long)(after.hits - before.hits);
    for (int i = 0; i < STARTS; i++) {
        double t0 = hb_bench_now_us();
        if (hb_sandbox_new(m, &so, &sb) != 0)
            exit(1);
        b2b[i] = (hb_bench_now_us() - t0) / 1000.0;
        hb_sandbox_free(sb);
    }
    stats("standard, pooled", "new, hit", hit, STARTS, "ms");
    stats("standard, pooled", "new, b2b", b2b, STARTS, "ms");
    printf("  %-28s hits %llu of %d; idle pooled worker: %ld KiB private (bwrap + worker)\n",
           "standard, pooled", hits, STARTS, kib);
    hb_manager_free(m);
}

int main(int argc, char **argv)
{
    bool child = argc > 1 && strcmp(argv[1], "--seccomp-only") == 0;
    if (!getenv("HOTBOX_WORKER"))
        setenv("HOTBOX_WORKER", HB_WORKER_PATH, 1);
    char state[] = "/tmp/hb-bench-profiles-XXXXXX";
    if (!mkdtemp(state))
        return 1;
    hb_manager_options o;
    hb_manager_options_init(&o, HB_MANAGER_OPTIONS_VERSION);
    o.state_dir = state;
    o.isolation = HB_ISOLATION_LOCAL;
    o.worker_pool = 0; /* every start measured; the pool has its own run */
    hb_manager *m = NULL;
    if (hb_manager_new(&o, &m) != 0)
        return 1;
    if (child) {
        bench(m, HB_PROFILE_STANDARD, "standard, seccomp only", true);
    } else {
        printf("bench_profiles: worker start and call round trip per profile\n");
        bench(m, HB_PROFILE_PERMISSIVE, "permissive (no protection)", false);
        bench(m, HB_PROFILE_STANDARD, "standard (bwrap + seccomp)", true);
        bench(m, HB_PROFILE_STRICT, "strict (bwrap + seccomp)", false);
        bench_pooled(state);
        fflush(stdout);
        char cmd[4300];
        snprintf(cmd, sizeof(cmd), "HOTBOX_BWRAP= '/proc/%d/exe' --seccomp-only", (int)getpid());
        if (system(cmd) != 0)
            fprintf(stderr, "the seccomp-only run failed\n");
    }
    hb_manager_free(m);
    char rm[200];
    snprintf(rm, sizeof(rm), "rm -rf '%s'", state);
    if (system(rm) != 0)
        return 1;
    return 0;
}
