/* bench/bench_profiles.c - what each security profile costs, measured in
 * the same run against the unprotected baseline (permissive: no seccomp,
 * no namespaces):
 *   1. worker start: hb_sandbox_new (fork, exec, bwrap namespaces when the
 *      profile has them, seccomp install, HELLO handshake) and
 *      hb_sandbox_free, each alone and both, with the steps of
 *      hb_sandbox_new for the standard profile;
 *   2. call round trip: hb_callf of mathx add(int, int).
 * "standard, seccomp only" re-runs this program with HOTBOX_BWRAP="" so
 * the share of bwrap and of seccomp can be told apart.
 * Prints median and p95 of each. Not a test: no pass/fail thresholds. */
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
