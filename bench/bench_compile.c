/*
 * bench/bench_compile.c - what one compile of examples/plugins/counter costs
 * on each isolation backend, beside bare `cc` on the host in the same run:
 *   - bare cc (fork+exec of the same command line, no hotbox): the baseline
 *   - local, namespace: hb_compiler_run_ctx, warm, N=20
 *   - microvm through hb_compiler (the harness's path): pool start, first
 *     job, then N=8 warm jobs; QEMU RSS per warm VM
 *   - microvm figures of issue 16, each beside its target, through the pool
 *     API with the bare cc command line (host paths in the guest): warm job
 *     (median, p95, x bare cc) and the in-guest compile alone; QEMU CPU time
 *     per job; RSS per VM; then HB_BENCH_RESTORES (4) fresh pools restoring
 *     the snapshot: restore-to-ready (spawn -> MOUNTED), ready incl. the
 *     warm-up compile, and the first job after the restore against steady
 *   - cache-hit latency: hb_compiler_input_hash over the inputs of the last
 *     compile on an unchanged tree (the harness's cache check), target < 5 ms
 * Environment: HB_BENCH_N (local/namespace runs), HB_BENCH_VM_N (microvm
 * runs), HB_BENCH_NO_MICROVM=1 to leave the microVM out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "bench_common.h"
#include "bench_vm.h"
#include "compiler.h"

#ifndef HB_SOURCE_DIR
#define HB_SOURCE_DIR "."
#endif

static char *g_root, *g_plugin, *g_inc;

static unsigned env_n(const char *name, unsigned dflt)
{
    const char *e = getenv(name);
    return e && atoi(e) > 0 ? (unsigned)atoi(e) : dflt;
}

static double bare_cc_once(void)
{
    char *out = hb__path_join(g_root, "bare.so");
    char *src = hb__path_join(g_plugin, "counter.c");
    char *inc = hb__asprintf("-I%s", g_inc);
    char *argv[] = {"cc", "-shared", "-fPIC", inc, "-o", out, src, NULL};
    double ms = hb_bench_run(argv);
    if (ms < 0) {
        fprintf(stderr, "bare cc failed\n");
        exit(1);
    }
    free(out);
    free(src);
    free(inc);
    return ms;
}

/* One compile into a fresh job dir; keeps the last result's inputs. */
static double ctx_once(hb_compiler *c, hb_isolation iso, char ***inputs)
{
    char *job = NULL;
    if (hb__mkdtemp_in(g_root, "job-", &job) < 0)
        exit(1);
    hb_compile_request req = {.plugin_dir = g_plugin, .job_dir = job, .cc = "cc",
                              .include_dir = g_inc, .isolation = iso, .timeout_ms = 120000};
    hb_compile_result res;
    char *err = NULL;
    double t0 = hb_bench_now_ms();
    int r = hb_compiler_run_ctx(c, &req, &res, &err);
    double ms = hb_bench_now_ms() - t0;
    if (r) {
        fprintf(stderr, "%s compile failed: %s\n", hb_compiler_backend_name(iso),
                err ? err : hb_strerror(r));
        exit(1);
    }
    if (inputs) {
        hb__strv_free(*inputs);
        *inputs = res.inputs;
        res.inputs = NULL;
    }
    hb_compile_result_release(&res);
    hb__rm_rf(job);
    free(job);
    free(err);
    return ms;
}

static hb_compiler *ctx_new(hb_isolation iso)
{
    hb_compiler_options o = HB_COMPILER_OPTIONS_INIT;
    o.isolation = iso;
    o.pool_size = 1;
    hb_compiler *c = NULL;
    char *err = NULL;
    if (hb_compiler_new(&o, &c, &err) < 0) {
        fprintf(stderr, "hb_compiler_new: %s\n", err ? err : "?");
        exit(1);
    }
    free(err);
    return c;
}

static const char *target(bool met)
{
    return met ? "met" : "MISSED";
}

/* Issue 16's "done when" figures (docs/microvm.md), same run as bare. */
static void microvm_figures(const hb_bench_stats *bare, unsigned n, unsigned nr)
{
    char *out = hb__path_join(g_root, "vm-out"), *so = hb__path_join(out, HB_VM_OBJECT_NAME);
    char *src = hb__path_join(g_plugin, "counter.c"), *inc = hb__asprintf("-I%s", g_inc);
    hb__mkdir_p(out, 0755);
    hb_bench_vm.plugin = g_plugin;
    hb_bench_vm.inc = g_inc;
    hb_bench_vm.out = out;
    const char *argv[] = {"cc", "-shared", "-fPIC", inc, "-o", so, src, NULL};
    double *wall = calloc(n, sizeof(double)), *guest = calloc(n, sizeof(double)),
           *cpu = calloc(n, sizeof(double)), *rs = calloc(nr, sizeof(double)),
           *ready = calloc(nr, sizeof(double)), *first = calloc(nr, sizeof(double)),
           *fcpu = calloc(nr, sizeof(double));
    hb_vm_pool_stats st;
    double ready_ms;
    printf("\nmicrovm, issue 16's figures (pool API, the bare cc command line; load average "
           "%.1f on %ld CPUs):\n", hb_bench_vm_load(), sysconf(_SC_NPROCESSORS_ONLN));
    hb_vm_pool *pool = hb_bench_vm_pool(true, true, &st, &ready_ms);
    printf("pool start: %s (%s)\n", st.snapshot_note, hb_vm_accel_name(st.accel));
    hb_bench_vm_job(pool, argv, NULL); /* the pool's first job: counted below */
    for (unsigned i = 0; i < n; i++) {
        wall[i] = hb_bench_vm_job(pool, argv, &guest[i]);
        cpu[i] = hb_bench_vm.last_cpu_ms;
    }
    hb_bench_stats w = hb_bench_report("microvm warm job (host wall)", wall, n);
    hb_bench_stats g = hb_bench_report("  in-guest compile alone", guest, n);
    hb_bench_stats c = hb_bench_report("  QEMU CPU time per job", cpu, n);
    printf("%-34s %.1fx bare cc (target <= 25x: %s); in-guest alone %.1fx\n", "",
           w.median / bare->median, target(w.median / bare->median <= 25.0),
           g.median / bare->median);
    hb_vm_pool_stats_get(pool, &st);
    double rss = (double)st.qemu_rss_kib / 1024.0;
    printf("%-34s %.0f MiB (target <= 150 MiB: %s)\n", "RSS per warm VM", rss,
           target(rss <= 150.0));
    hb_bench_vm_rss_breakdown(256);
    hb_vm_pool_free(pool);

    /* fresh pools restoring the snapshot, warm-up on (as the harness runs) */
    for (unsigned i = 0; i < nr; i++) {
        hb_vm_pool *p = hb_bench_vm_pool(true, true, &st, &ready[i]);
        rs[i] = st.last_restore_ms;
        first[i] = hb_bench_vm_job(p, argv, NULL);
        fcpu[i] = hb_bench_vm.last_cpu_ms;
        hb_vm_pool_free(p);
    }
    hb_bench_stats r = hb_bench_report("restore to ready (spawn->MOUNTED)", rs, nr);
    printf("%-34s target <= 500 ms: %s\n", "", target(r.median <= 500.0));
    hb_bench_report("  + warm-up compile (pool ready)", ready, nr);
    hb_bench_stats f = hb_bench_report("first job after restore", first, nr);
    hb_bench_stats fc = hb_bench_report("  its QEMU CPU time", fcpu, nr);
    printf("%-34s %.2fx steady by wall, %.2fx by QEMU CPU (target <= 1.1x: %s)\n", "",
           f.median / w.median, fc.median / c.median, target(f.median / w.median <= 1.1));
    printf("%-34s load average now %.1f (wall times scale with it; CPU times much less)\n", "",
           hb_bench_vm_load());
    free(wall);
    free(guest);
    free(cpu);
    free(rs);
    free(ready);
    free(first);
    free(fcpu);
    free(out);
    free(so);
    free(src);
    free(inc);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    unsigned n = env_n("HB_BENCH_N", 20), nvm = env_n("HB_BENCH_VM_N", 8);
    if (hb__mkdtemp_in("/tmp", "hb-bench-compile-", &g_root) < 0)
        return 1;
    g_plugin = hb__path_join(HB_SOURCE_DIR, "examples/plugins/counter");
    g_inc = hb__path_join(HB_SOURCE_DIR, "include");
    double *ms = calloc(n > nvm ? n : nvm, sizeof(double));
    char **inputs = NULL;
    printf("bench_compile: one compile of examples/plugins/counter (cc -shared -fPIC -O0)\n");

    bare_cc_once();
    for (unsigned i = 0; i < n; i++)
        ms[i] = bare_cc_once();
    hb_bench_stats bare = hb_bench_report("bare cc on the host", ms, n);

    static const hb_isolation isos[] = {HB_ISOLATION_LOCAL, HB_ISOLATION_NAMESPACE};
    for (size_t k = 0; k < 2; k++) {
        char *why = NULL;
        if (k == 1 && hb__namespace_backend()->probe(&why) != 0) {
            printf("namespace: unavailable: %s\n", why ? why : "?");
            free(why);
            continue;
        }
        hb_compiler *c = ctx_new(isos[k]);
        ctx_once(c, isos[k], &inputs); /* warm-up: cc identity probe, page cache */
        for (unsigned i = 0; i < n; i++)
            ms[i] = ctx_once(c, isos[k], &inputs);
        char label[64];
        snprintf(label, sizeof(label), "%s (warm)", hb_compiler_backend_name(isos[k]));
        hb_bench_stats s = hb_bench_report(label, ms, n);
        printf("%-34s %.2fx bare cc, +%.1f ms median\n", "", s.median / bare.median,
               s.median - bare.median);
        hb_compiler_free(c);
    }

    const hb__backend *mv = hb__microvm_backend();
    char *why = NULL;
    if (getenv("HB_BENCH_NO_MICROVM")) {
        printf("microvm: skipped (HB_BENCH_NO_MICROVM)\n");
    } else if (!mv || mv->probe(&why) != 0) {
        printf("microvm: unavailable: %s\n", why ? why : "not built in");
    } else {
        hb_compiler *c = ctx_new(HB_ISOLATION_MICROVM);
        printf("microvm: %s\n", hb_compiler_selection(c));
        char *err = NULL;
        double t0 = hb_bench_now_ms();
        if (hb_compiler_warm(c, &err) < 0 || hb_compiler_wait_warm(c, 300000, &err) < 0) {
            printf("microvm: pool failed: %s\n", err ? err : "?");
        } else {
            double warm_ms = hb_bench_now_ms() - t0;
            hb_compiler_stats st;
            hb_compiler_stats_get(c, &st);
            printf("%-34s %.0f ms to a warm VM (snapshot restore or boot, + warm-up; %s)\n",
                   "microvm pool start", warm_ms, st.accel);
            double first = ctx_once(c, HB_ISOLATION_MICROVM, NULL);
            printf("%-34s %.0f ms\n", "microvm first job after start", first);
            for (unsigned i = 0; i < nvm; i++)
                ms[i] = ctx_once(c, HB_ISOLATION_MICROVM, NULL);
            hb_bench_stats s = hb_bench_report("microvm (warm)", ms, nvm);
            printf("%-34s %.1fx bare cc; first job / steady median = %.2f\n", "",
                   s.median / bare.median, first / s.median);
            hb_compiler_stats_get(c, &st);
            printf("%-34s %.0f MiB RSS per warm VM (%.0f MiB total)\n", "microvm pool memory",
                   (double)st.rss_kib_per_vm / 1024.0, (double)st.rss_kib_total / 1024.0);
        }
        free(err);
        hb_compiler_free(c);
        microvm_figures(&bare, nvm, env_n("HB_BENCH_RESTORES", 4));
    }
    free(why);

    /* The harness's cache check: hash the remembered inputs again. */
    hb_compile_request req = {.plugin_dir = g_plugin, .job_dir = g_root, .cc = "cc",
                              .include_dir = g_inc};
    char hash[HB_SHA256_HEX];
    unsigned nh = 200;
    double *hm = calloc(nh, sizeof(double));
    for (unsigned i = 0; i < nh; i++) {
        double t0 = hb_bench_now_ms();
        if (hb_compiler_input_hash(&req, inputs, hash) != 0) {
            fprintf(stderr, "input hash failed\n");
            return 1;
        }
        hm[i] = hb_bench_now_ms() - t0;
    }
    hb_bench_stats hs = hb_bench_report("cache hit (input hash)", hm, nh);
    printf("%-34s %zu inputs; target < 5 ms: %s\n", "", (size_t)hb__strv_len(inputs),
           hs.p95 < 5.0 ? "met" : "MISSED");

    printf("\nnote: with hardware KVM (a laptop, most CI runners) expect the microVM to boot in\n"
           "  ~0.1-0.3 s, restore in ~10-50 ms, and a warm job to cost roughly bare cc plus a\n"
           "  few ms (virtio-serial round trip ~2-4 ms, 9p reads of /usr cached after the\n"
           "  warm-up), i.e. within 1.1-1.5x of bare cc: under KVM the guest runs gcc natively,\n"
           "  while TCG translates every instruction of cc1. RSS per VM drops too (no\n"
           "  translation cache). The KVM probe decides this at run time (docs/microvm.md).\n");
    hb__strv_free(inputs);
    free(hm);
    free(ms);
    hb__rm_rf(g_root);
    free(g_root);
    free(g_plugin);
    free(g_inc);
    return 0;
}
