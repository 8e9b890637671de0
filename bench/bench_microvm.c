/*
 * bench/bench_microvm.c - where a microVM compile's time goes, beside bare
 * `cc` on the host in the same run. Compiles examples/plugins/counter with
 * the same command line everywhere (host paths in the guest, so the argv is
 * identical). Prints:
 *   - bare cc on the host (fork+exec): the baseline
 *   - pool start: saved or restored snapshot, boot/save/restore times
 *   - warm microVM job (host wall) and the in-guest compile alone
 *   - a per-job breakdown inside the guest: agent round trip (`true`), the
 *     gcc driver (`cc --version`), the front end (-fsyntax-only), cc1 (-S),
 *     + as (-c), + ld and the 9p write of the .so (the full job)
 *   - restore-to-ready (spawn -> MOUNTED) over fresh pools, the first job
 *     after a restore with no warm-up (cold translation cache) and the one
 *     after it, and boot-to-ready without a snapshot for comparison
 *   - QEMU RSS per warm VM
 * Environment: HB_BENCH_N (samples per row, default 8), HB_BENCH_RESTORES
 * (fresh pools for restore-to-ready, default 4), HB_BENCH_VM_MB (guest RAM,
 * default 256), HB_BENCH_QUICK=1 (no breakdown, no boots: for A/B runs),
 * HOTBOX_VM_SNAPSHOT_DIR, HOTBOX_VM_TB_MB and HOTBOX_VM_APPEND (launch.c).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"
#include "microvm.h"
#include "util.h"
#include "bench_vm.h"

#ifndef HB_SOURCE_DIR
#define HB_SOURCE_DIR "."
#endif

static char *g_tmp, *g_plugin, *g_inc, *g_src, *g_incflag, *g_out, *g_so;

static unsigned env_n(const char *name, unsigned dflt)
{
    const char *e = getenv(name);
    return e && atoi(e) > 0 ? (unsigned)atoi(e) : dflt;
}

static double bare_cc_once(void)
{
    char *argv[] = {"cc", "-shared", "-fPIC", g_incflag, "-o", g_so, g_src, NULL};
    double ms = hb_bench_run(argv);
    if (ms < 0) {
        fprintf(stderr, "bare cc failed\n");
        exit(1);
    }
    return ms;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    unsigned n = env_n("HB_BENCH_N", 8), nr = env_n("HB_BENCH_RESTORES", 4);
    if (hb__mkdtemp_in("/tmp", "hb-bench-vm-", &g_tmp) != 0)
        return 1;
    g_plugin = hb__path_join(HB_SOURCE_DIR, "examples/plugins/counter");
    g_inc = hb__path_join(HB_SOURCE_DIR, "include");
    g_src = hb__path_join(g_plugin, "counter.c");
    g_incflag = hb__asprintf("-I%s", g_inc);
    g_out = hb__path_join(g_tmp, "out");
    g_so = hb__path_join(g_out, "plugin.so");
    hb__mkdir_p(g_out, 0755);
    hb_bench_vm.plugin = g_plugin;
    hb_bench_vm.inc = g_inc;
    hb_bench_vm.out = g_out;
    hb_bench_vm.memory_mb = env_n("HB_BENCH_VM_MB", 256);
    double *ms = calloc(n, sizeof(double)), *gms = calloc(n, sizeof(double)),
           *cpu = calloc(n, sizeof(double));
    double *rs = calloc(nr, sizeof(double)), *f1 = calloc(nr, sizeof(double)),
           *f2 = calloc(nr, sizeof(double)), *c1 = calloc(nr, sizeof(double)),
           *c2 = calloc(nr, sizeof(double));

    bare_cc_once();
    for (unsigned i = 0; i < n; i++)
        ms[i] = bare_cc_once();
    hb_bench_stats bare = hb_bench_report("bare cc on the host", ms, n);

    /* the pool as a harness starts it: snapshot on, warm-up on */
    hb_vm_pool_stats st;
    double ready;
    hb_vm_pool *pool = hb_bench_vm_pool(true, true, &st, &ready);
    printf("pool start: %s (%s)\n", st.snapshot_note, hb_vm_accel_name(st.accel));
    printf("%-34s %.0f ms (boot %.0f, restore %.0f, save %.0f)\n", "pool ready incl. warm-up",
           ready, st.last_boot_ms, st.last_restore_ms, st.snapshot_save_ms);
    const char *full[] = {"cc", "-shared", "-fPIC", g_incflag, "-o", g_so, g_src, NULL};
    double first_warm = hb_bench_vm_job(pool, full, NULL);
    printf("%-34s %.0f ms\n", "first job (pool warmed up)", first_warm);
    for (unsigned i = 0; i < n; i++) {
        ms[i] = hb_bench_vm_job(pool, full, &gms[i]);
        cpu[i] = hb_bench_vm.last_cpu_ms;
    }
    hb_bench_stats warm = hb_bench_report("microvm warm job (host wall)", ms, n);
    hb_bench_stats guest = hb_bench_report("  in-guest compile alone", gms, n);
    hb_bench_report("  QEMU CPU time per job", cpu, n);
    printf("%-34s %.1fx bare cc (in-guest alone %.1fx); first / steady = %.2f\n", "", warm.median / bare.median,
           guest.median / bare.median, first_warm / warm.median);

    /* breakdown inside the guest (medians of the in-guest time) */
    const char *r_true[] = {"true", NULL};
    const char *r_ver[] = {"cc", "--version", NULL};
    const char *r_empty[] = {"cc", "-fsyntax-only", "-x", "c", "/dev/null", NULL};
    const char *r_sys[] = {"sh", "-c", "printf '#include <stdint.h>\\n#include <stdlib.h>\\n"
                           "#include <string.h>\\n#include <stddef.h>\\n' | cc -fsyntax-only -x c -",
                           NULL};
    char *tmpcmd = hb__asprintf("mkdir -p /tmp/x && cp -r '%s' /tmp/x/inc && cp '%s' /tmp/x/c.c && "
                                "cc -fsyntax-only -fPIC -I/tmp/x/inc /tmp/x/c.c", g_inc, g_src);
    const char *r_tmp[] = {"sh", "-c", tmpcmd, NULL};
    const char *r_syn[] = {"cc", "-fsyntax-only", "-fPIC", g_incflag, g_src, NULL};
    const char *r_s[] = {"cc", "-S", "-fPIC", g_incflag, "-o", "/tmp/x.s", g_src, NULL};
    const char *r_c[] = {"cc", "-c", "-fPIC", g_incflag, "-o", "/tmp/x.o", g_src, NULL};
    struct { const char *what; const char *const *argv; } rows[] = {
        {"  agent round trip (true)", r_true}, {"  gcc driver (cc --version)", r_ver},
        {"  cc1 on an empty file", r_empty}, {"  system headers only", r_sys},
        {"  front end, inputs copied to tmpfs", r_tmp},
        {"  front end (-fsyntax-only)", r_syn}, {"  cc1 (-S)", r_s},
        {"  cc1 + as (-c to /tmp)", r_c}, {"  + ld, .so over 9p (full job)", full}};
    bool quick = getenv("HB_BENCH_QUICK") != NULL; /* A/B runs: no breakdown, no boots */
    if (!quick)
        printf("breakdown (in-guest ms; host wall in brackets):\n");
    for (size_t k = 0; !quick && k < sizeof(rows) / sizeof(rows[0]); k++) {
        double wall[64];
        unsigned m = n < 64 ? n : 64;
        for (unsigned i = 0; i < m; i++)
            wall[i] = hb_bench_vm_job(pool, rows[k].argv, &gms[i]);
        hb_bench_stats g = hb_bench_stats_of(gms, m), w = hb_bench_stats_of(wall, m);
        printf("%-34s median %8.1f ms  p95 %8.1f ms  [%8.1f ms]\n", rows[k].what, g.median, g.p95,
               w.median);
    }
    hb_vm_pool_stats_get(pool, &st);
    printf("%-34s %.0f MiB RSS per warm VM\n", "microvm memory",
           (double)st.qemu_rss_kib / 1024.0);
    hb_bench_vm_rss_breakdown(env_n("HB_BENCH_VM_MB", 256));
    hb_vm_pool_free(pool);

    /* restore-to-ready over fresh pools, no warm-up: the first job pays the
     * cold translation cache and 9p page cache */
    for (unsigned i = 0; i < nr; i++) {
        hb_vm_pool *p = hb_bench_vm_pool(true, false, &st, &ready);
        rs[i] = st.last_restore_ms;
        f1[i] = hb_bench_vm_job(p, full, NULL);
        c1[i] = hb_bench_vm.last_cpu_ms;
        f2[i] = hb_bench_vm_job(p, full, NULL);
        c2[i] = hb_bench_vm.last_cpu_ms;
        hb_vm_pool_free(p);
    }
    hb_bench_stats rst = hb_bench_report("restore to ready (spawn->MOUNTED)", rs, nr);
    hb_bench_stats a = hb_bench_report("first job after restore, no warm-up", f1, nr);
    hb_bench_report("  its QEMU CPU time", c1, nr);
    hb_bench_report("second job after restore", f2, nr);
    hb_bench_report("  its QEMU CPU time", c2, nr);
    printf("%-34s first job after restore / steady = %.2f\n", "", a.median / warm.median);

    if (quick) {
        hb__rm_rf(g_tmp);
        return 0;
    }
    double bt[2];
    for (unsigned i = 0; i < 2; i++) {
        hb_vm_pool *p = hb_bench_vm_pool(false, false, &st, &ready);
        bt[i] = st.last_boot_ms;
        hb_vm_pool_free(p);
    }
    hb_bench_stats boot = hb_bench_report("boot to READY (no snapshot)", bt, 2);
    printf("%-34s restore is %.1fx faster than a boot\n", "", boot.median / rst.median);

    hb__rm_rf(g_tmp);
    return 0;
}
