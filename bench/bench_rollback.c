/* bench_rollback: crash-to-serving latency, the way the harness recovers.
 *
 * A plugin with state (a counter, save/migrate hooks) is loaded into a
 * sandbox and checkpointed. Each run calls a function that dereferences
 * NULL (SIGSEGV in the worker); hb_call returns HB_ECRASHED after the
 * sandbox restarted its worker with the last good version and the last
 * checkpoint; the next call must succeed and see the checkpointed state.
 * Timed: from issuing the crashing call until that next call returns.
 *
 * Baselines measured in the same run:
 *   - a plain successful call (steady state);
 *   - a fresh sandbox (worker spawn + handshake) + hb_load of the same,
 *     already-built plugin (compile cache hit) + one call: what a restart
 *     would cost if done from scratch through the public API;
 *   - fork+exec of /bin/true and waiting for it (the floor of any restart).
 *
 *   bench_rollback [runs]     (default 50; needs HOTBOX_WORKER or an
 *                              installed worker beside the library)
 * Target (issue 6): median crash -> serving under 20 ms.
 */
#include <errno.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hotbox/hotbox.h>

#include "bench_common.h"

extern char **environ;

static const char plugin_src[] =
    "#include <hotbox/plugin.h>\n"
    "#include <stdint.h>\n#include <stdlib.h>\n#include <string.h>\n"
    "static int64_t count;\n"
    "HB_EXPORT_FN int64_t bump(void) { return ++count; }\n"
    "HB_EXPORT_FN int64_t get(void) { return count; }\n"
    "HB_EXPORT_FN void crash(void) { volatile int *p = 0; *p = 1; }\n"
    "static int save(void **d, size_t *n) { int64_t *p = malloc(8); if (!p) return -1;\n"
    "  *p = count; *d = p; *n = 8; return 0; }\n"
    "static int migrate(const void *d, size_t n, uint32_t s) { if (s != 1 || n != 8) return -1;\n"
    "  memcpy(&count, d, 8); return 0; }\n"
    "HB_PLUGIN(\"rbplug\", 1, 0, 0, save, migrate);\n";

static double spawn_true_ms(void)
{
    char *argv[] = {"/bin/true", NULL};
    double t0 = hb_bench_now_ms();
    pid_t pid;
    if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0)
        return -1;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return hb_bench_now_ms() - t0;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 50;
    if (runs < 1)
        runs = 50;
    hb_bench_tree t;
    hb_bench_tree_new(&t, "rollback", "rbplug");
    const char *root = t.root, *plugdir = t.dir, *src = t.src;
    hb_bench_write(src, plugin_src);
    hb_manager *m = hb_bench_manager(t.state, HB_ISOLATION_AUTO, NULL);
    int r;
    hb_sandbox *sb = NULL;
    /* The benchmark crashes on purpose, many times a second: keep the
     * crash-loop policy (and its restart backoff) out of the measurement. */
    hb_sandbox_options so;
    hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION);
    so.crash_loop_max = 1000000;
    so.crash_loop_window_ms = 1;
    if ((r = hb_sandbox_new(m, &so, &sb)) < 0)
        hb_bench_die("hb_sandbox_new", r, hb_manager_last_error(m));
    if ((r = hb_load(sb, plugdir)) < 0)
        hb_bench_die("hb_load", r, hb_sandbox_last_error(sb));
    int64_t v = 0;
    for (int i = 0; i < 5; i++)
        if ((r = hb_callf(sb, "rbplug", "bump", ")l", &v)) < 0)
            hb_bench_die("bump", r, hb_sandbox_last_error(sb));
    if ((r = hb_checkpoint(sb, NULL)) < 0)
        hb_bench_die("hb_checkpoint", r, hb_sandbox_last_error(sb));
    const int64_t expect = v;

    double *crash_ms = calloc((size_t)runs, sizeof(double));
    double *ret_ms = calloc((size_t)runs, sizeof(double));
    double *call_ms = calloc((size_t)runs, sizeof(double));
    double *fresh_ms = calloc((size_t)runs, sizeof(double));
    double *true_ms = calloc((size_t)runs, sizeof(double));
    double *spawn_ms = calloc((size_t)runs, sizeof(double));
    if (!crash_ms || !ret_ms || !call_ms || !fresh_ms || !true_ms || !spawn_ms)
        hb_bench_die("calloc", -ENOMEM, NULL);

    /* Warm-up: one crash cycle (first restart pays page-cache misses). */
    hb_callf(sb, "rbplug", "crash", ")v");
    hb_callf(sb, "rbplug", "get", ")l", &v);

    for (int i = 0; i < runs; i++) {
        int old_pid = hb_sandbox_worker_pid(sb);
        double t0 = hb_bench_now_ms();
        r = hb_callf(sb, "rbplug", "crash", ")v");
        double t1 = hb_bench_now_ms();
        if (r != HB_ECRASHED)
            hb_bench_die("the crashing call did not report HB_ECRASHED", r, hb_sandbox_last_error(sb));
        v = -1;
        r = hb_callf(sb, "rbplug", "get", ")l", &v);
        double t2 = hb_bench_now_ms();
        if (r < 0)
            hb_bench_die("the call after the crash", r, hb_sandbox_last_error(sb));
        if (v != expect) {
            fprintf(stderr, "bench_rollback: state after restart is %lld, checkpoint held %lld\n",
                    (long long)v, (long long)expect);
            return 1;
        }
        if (hb_sandbox_worker_pid(sb) == old_pid) {
            fprintf(stderr, "bench_rollback: the worker was not replaced\n");
            return 1;
        }
        crash_ms[i] = t2 - t0;
        ret_ms[i] = t1 - t0;
    }
    for (int i = 0; i < runs; i++) {
        double t0 = hb_bench_now_ms();
        r = hb_callf(sb, "rbplug", "get", ")l", &v);
        call_ms[i] = hb_bench_now_ms() - t0;
        if (r < 0)
            hb_bench_die("get", r, hb_sandbox_last_error(sb));
    }
    for (int i = 0; i < runs; i++) {
        hb_sandbox *fresh = NULL;
        double t0 = hb_bench_now_ms();
        if ((r = hb_sandbox_new(m, NULL, &fresh)) < 0)
            hb_bench_die("hb_sandbox_new (baseline)", r, hb_manager_last_error(m));
        if ((r = hb_load(fresh, plugdir)) < 0)
            hb_bench_die("hb_load (baseline)", r, hb_sandbox_last_error(fresh));
        if ((r = hb_callf(fresh, "rbplug", "get", ")l", &v)) < 0)
            hb_bench_die("get (baseline)", r, hb_sandbox_last_error(fresh));
        fresh_ms[i] = hb_bench_now_ms() - t0;
        hb_sandbox_free(fresh);
    }
    for (int i = 0; i < runs; i++) {
        hb_sandbox *fresh = NULL;
        double t0 = hb_bench_now_ms();
        if ((r = hb_sandbox_new(m, NULL, &fresh)) < 0)
            hb_bench_die("hb_sandbox_new (baseline)", r, hb_manager_last_error(m));
        spawn_ms[i] = hb_bench_now_ms() - t0;
        hb_sandbox_free(fresh);
    }
    for (int i = 0; i < runs; i++)
        if ((true_ms[i] = spawn_true_ms()) < 0)
            hb_bench_die("posix_spawn /bin/true", -errno, NULL);

    printf("bench_rollback: %d runs; plugin with a checkpointed counter (%lld)\n", runs,
           (long long)expect);
    hb_bench_stats s = hb_bench_report("crash -> next call served", crash_ms, (size_t)runs);
    hb_bench_report("  of which the crashing call", ret_ms, (size_t)runs);
    printf("baselines (same run):\n");
    hb_bench_report("plain call (steady state)", call_ms, (size_t)runs);
    hb_bench_report("fresh sandbox + load + call", fresh_ms, (size_t)runs);
    hb_bench_report("  of which sandbox_new (spawn+hello)", spawn_ms, (size_t)runs);
    hb_bench_report("fork+exec /bin/true + wait", true_ms, (size_t)runs);
    printf("target: median crash -> serving < 20 ms: %s (%.3f ms)\n",
           s.median < 20.0 ? "met" : "NOT met", s.median);

    hb_sandbox_free(sb);
    hb_manager_free(m);
    hb_bench_rm_rf(root);
    free(crash_ms);
    free(ret_ms);
    free(call_ms);
    free(fresh_ms);
    free(true_ms);
    free(spawn_ms);
    return 0;
}
