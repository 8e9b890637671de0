/* bench/bench_core.c - the core loop's costs, each beside a baseline
 * measured in the same run, so the ratios survive a noisy machine:
 *   1. swap latency (save + dlopen + migrate + switch, 4 KiB of state)
 *      vs a plain dlopen+dlclose of the same object in this process;
 *   2. hb_call round trip of int add(int,int), permissive and standard
 *      profiles, against the hardware's floor measured the same way in the
 *      same run: two processes ping-ponging one cache line each way over
 *      shared memory with the ring's own spin-then-futex primitives
 *      (pingpong.h says exactly what that figure is). Per placement (2
 *      CPUs: caller on CPU 0, the echo child and the workers on CPU 1; 1
 *      CPU: all on CPU 0), 11 interleaved blocks (ping-pong, permissive,
 *      standard; reversed every other block), each after 100 untimed round
 *      trips, with the ping-pong spinning exactly when the ring does (2
 *      CPUs: spin then futex; 1 CPU: futex only, as the ring never spins
 *      on the CPU its peer needs). Each row prints the median and p95 of
 *      all samples and the median [min..max] of the block medians; the
 *      ratio is taken per block (call / ping-pong of that block) and its
 *      median printed. Interleaving is what makes the ratio mean
 *      something on a VM: the ping-pong's level moves with where the host
 *      runs the two vCPUs (0.10 to 0.58 us seen between runs, steps within
 *      one), and a baseline measured seconds apart from the call compares
 *      two different machines. Then unpinned calls, the other baselines
 *      (1-CPU spinning ping-pong, socketpairs) and a direct call via dlsym;
 *   3. edit-to-swap with the local backend vs the bare `cc` command;
 *   4. crash -> next call served (standard profile, checkpointed state),
 *      with 300 ms between crashes (the spare refilled: the mechanism),
 *      back to back, and in a crash loop under the backoff policy, each
 *      with its stages (detect, backoff, spare/spawn, verify, LOAD, ...),
 *      vs fork+exec of /bin/true + wait.
 * Prints median and p95 of each. Not a test: no pass/fail thresholds.
 *   bench_core [runs] [calls|crash]   "calls" runs part 2 only, "crash"
 *   part 4 only. */
#include <poll.h>
#include <dlfcn.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"
#include "pingpong.h"
#include "ring.h"
#include "harness.h"
#include "hotbox/hotbox.h"

static double median(double *v, size_t n)
{
    return hb_bench_stats_of(v, n).median;
}

static const char *root; /* the benchmark's temporary tree (main) */

/* A plugin with 4 KiB of state; `salt` makes each version a new object. */
static void write_state_plugin(const char *dir, int salt)
{
    char src[2048], path[4200];
    snprintf(src, sizeof(src),
             "#include <hotbox/plugin.h>\n#include <stdlib.h>\n#include <string.h>\n"
             "static unsigned char st[4096];\n"
             "int add(int a, int b) { return a + b; }\n"
             "int salt(void) { return %d; }\n"
             "static int save(void **d, size_t *l) { void *p = malloc(sizeof st); if (!p) return -1; memcpy(p, st, sizeof st); *d = p; *l = sizeof st; return 0; }\n"
             "static int migrate(const void *d, size_t l, uint32_t s) { if (l != sizeof st) return -1; memcpy(st, d, l); return 0; }\n"
             "HB_PLUGIN(\"bench\", 1, 0, 0, save, migrate);\n",
             salt);
    snprintf(path, sizeof(path), "%s/bench.c", dir);
    hb_bench_write(path, src);
}

static double last_swap_ms;
static void on_event(const hb_event *ev, void *ud)
{
    (void)ud;
    if (ev->type == HB_EVENT_SWAPPED || ev->type == HB_EVENT_ROLLED_BACK)
        last_swap_ms = ev->swap_ms;
}

static double run_cc(const char *cc, const char *src, const char *out, const char *inc)
{
    double t0 = hb_bench_now_us();
    pid_t p = fork();
    if (p == 0) {
        execlp(cc, cc, "-O2", "-g", "-shared", "-fPIC", "-I", inc, "-o", out, src, (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(p, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bare cc failed\n");
        exit(1);
    }
    return hb_bench_now_us() - t0;
}

/* Pins sb's worker to cpu (-1: every CPU this process may use). */
static void pin_worker(hb_sandbox *sb, int cpu, const cpu_set_t *all)
{
    if (cpu < 0)
        sched_setaffinity(hb_sandbox_worker_pid(sb), sizeof(*all), all);
    else if (hb_bench_pin(hb_sandbox_worker_pid(sb), cpu) < 0)
        fprintf(stderr, "  (could not pin the worker to CPU %d)\n", cpu);
}

/* `warmup` untimed, then n timed round trips of add(i, 1) through sb from
 * this thread (already placed). */
static int call_block(hb_sandbox *sb, size_t warmup, double *us, size_t n)
{
    for (size_t i = 0; i < warmup + n; i++) {
        int32_t r = 0;
        double t0 = hb_bench_now_us();
        if (hb_callf(sb, "bench", "add", "ii)i", (int)i, 1, &r) < 0 || r != (int32_t)i + 1) {
            fprintf(stderr, "call: %s\n", hb_sandbox_last_error(sb));
            return -1;
        }
        if (i >= warmup)
            us[i - warmup] = hb_bench_now_us() - t0;
    }
    return 0;
}

/* Blocks per placement and the untimed round trips before each block
 * (the other side may have gone to sleep during the block before). */
#define NBLOCKS 11
#define BLOCK_WARMUP 100

/* One row of the interleaved comparison: every sample, and each block's
 * median. */
typedef struct row {
    const char *what;
    double *all, blk[NBLOCKS];
} row;

/* Median and p95 over every sample, the median of the block medians and
 * their spread. */
static void row_print(row *r, size_t k)
{
    double b[NBLOCKS];
    memcpy(b, r->blk, sizeof(b));
    hb_bench_stats all = hb_bench_stats_of(r->all, k * NBLOCKS);
    hb_bench_stats bs = hb_bench_stats_of(b, NBLOCKS);
    printf("  %-40s median %7.3f us  p95 %7.3f us  blocks %7.3f [%.3f..%.3f]\n", r->what,
           all.median, all.p95, bs.median, bs.min, bs.max);
}

/* The interleaved comparison on one placement: NBLOCKS blocks of k round
 * trips, each block the shared-memory ping-pong and then each sandbox's
 * call (the order reversed every other block), all with the caller on
 * cpu_a and the other side (echo child, workers) on cpu_b, the ping-pong
 * spinning as the ring does there (spin_ns). Ratios are taken per block
 * (call / ping-pong of the same block), then their median. */
static int interleaved(hb_sandbox **sb, const char *const *names, size_t nsb, int cpu_a,
                       int cpu_b, uint64_t spin_ns, const char *place, size_t k)
{
    cpu_set_t all;
    sched_getaffinity(0, sizeof(all), &all);
    row rows[3];
    double ratio[2][NBLOCKS];
    char what[3][96];
    snprintf(what[0], sizeof(what[0]), "shm ping-pong (%s)",
             spin_ns ? "spin then futex" : "futex only");
    rows[0].what = what[0];
    for (size_t p = 0; p < nsb; p++) {
        snprintf(what[p + 1], sizeof(what[p + 1]), "hb_call, %s", names[p]);
        rows[p + 1].what = what[p + 1];
        pin_worker(sb[p], cpu_b, &all);
    }
    for (size_t i = 0; i <= nsb; i++)
        if (!(rows[i].all = calloc(k * NBLOCKS, sizeof(double))))
            return -1;
    hb_bench_pp *pp = hb_bench_pp_start(cpu_b, spin_ns);
    if (!pp)
        return -1;
    hb_bench_pin(0, cpu_a);
    int rc = 0;
    for (size_t b = 0; b < NBLOCKS && rc == 0; b++) {
        for (size_t j = 0; j <= nsb && rc == 0; j++) {
            size_t i = b % 2 ? nsb - j : j; /* A B C, C B A, ... */
            double *v = rows[i].all + b * k;
            rc = i == 0 ? hb_bench_pp_block(pp, BLOCK_WARMUP, v, k)
                        : call_block(sb[i - 1], BLOCK_WARMUP, v, k);
            if (rc == 0) {
                double tmp[k];
                memcpy(tmp, v, sizeof(tmp));
                rows[i].blk[b] = median(tmp, k);
            }
        }
        for (size_t p = 0; rc == 0 && p < nsb; p++)
            ratio[p][b] = rows[p + 1].blk[b] / rows[0].blk[b];
    }
    hb_bench_pp_stop(pp);
    sched_setaffinity(0, sizeof(all), &all);
    if (rc == 0) {
        printf("  %s, %d blocks of %zu, interleaved:\n", place, NBLOCKS, k);
        for (size_t i = 0; i <= nsb; i++)
            row_print(&rows[i], k);
        for (size_t p = 0; p < nsb; p++) {
            hb_bench_stats rs = hb_bench_stats_of(ratio[p], NBLOCKS);
            printf("  ratio %s / shm, per block: median %.2fx [%.2f..%.2f]\n", names[p],
                   rs.median, rs.min, rs.max);
        }
    }
    for (size_t i = 0; i <= nsb; i++)
        free(rows[i].all);
    return rc;
}

static int bench_calls(hb_manager *m, const char *dir, const char *obj, int ncalls)
{
    size_t n = (size_t)ncalls;
    double *v = calloc(n, sizeof(double));
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    int other = ncpu > 1 ? 1 : 0;
    size_t k = n / NBLOCKS < 200 ? 200 : n / NBLOCKS;
    printf("\n2. call of int add(int,int) (%d CPUs online)\n", ncpu);
    static const struct { const char *name; hb_profile p; } prof[] = {
        {"permissive", HB_PROFILE_PERMISSIVE}, {"standard", HB_PROFILE_STANDARD}};
    hb_sandbox *sb[2];
    const char *names[2];
    for (size_t p = 0; p < 2; p++) {
        hb_sandbox_options so = HB_SANDBOX_OPTIONS_INIT;
        so.profile = prof[p].p;
        names[p] = prof[p].name;
        if (hb_sandbox_new(m, &so, &sb[p]) < 0 || hb_load(sb[p], dir) < 0) {
            fprintf(stderr, "%s sandbox: set-up failed\n", prof[p].name);
            return -1;
        }
    }
    /* The ring spins only when the other side was last seen on another
     * CPU: across two CPUs its baseline spins, on one it sleeps at once. */
    if (other && interleaved(sb, names, 2, 0, other, HB_RING_SPIN_MAX_NS,
                             "2 CPUs (caller CPU 0, other side CPU 1)", k) < 0)
        return -1;
    if (interleaved(sb, names, 2, 0, 0, 0, "1 CPU (both on CPU 0)", k) < 0)
        return -1;
    printf("  unpinned (the scheduler places both):\n");
    for (size_t p = 0; p < 2; p++) {
        cpu_set_t all;
        sched_getaffinity(0, sizeof(all), &all);
        pin_worker(sb[p], -1, &all);
        if (call_block(sb[p], BLOCK_WARMUP, v, n) < 0)
            return -1;
        char what[96];
        snprintf(what, sizeof(what), "hb_call, %s profile, unpinned", prof[p].name);
        hb_bench_line(what, v, n, "us");
        hb_sandbox_free(sb[p]);
    }
    printf("  other baselines (one block each):\n");
    static const struct { const char *what; int a, b; uint64_t spin; bool shm; } base[] = {
        {"shm ping-pong, 1 CPU, spin then futex", 0, 0, HB_RING_SPIN_MAX_NS, true},
        {"socketpair ping-pong, 2 CPUs", 0, 1, 0, false},
        {"socketpair ping-pong, 1 CPU", 0, 0, 0, false},
    };
    size_t nb = n < 1000 ? n : 1000;
    for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
        if (base[i].b == 1 && other == 0)
            continue;
        int r = base[i].shm ? hb_bench_shm_pingpong(base[i].a, base[i].b, base[i].spin, v, nb)
                            : hb_bench_sock_pingpong(base[i].a, base[i].b, v, nb);
        if (r == 0)
            hb_bench_line(base[i].what, v, nb, "us");
    }
    void *h = dlopen(obj, RTLD_NOW | RTLD_LOCAL);
    int (*add)(int, int) = (int (*)(int, int))dlsym(h, "add");
    volatile int sink = 0;
    for (size_t i = 0; i < n; i++) {
        double t0 = hb_bench_now_us();
        sink += add((int)i, 1);
        v[i] = hb_bench_now_us() - t0;
    }
    dlclose(h);
    (void)sink;
    hb_bench_line("baseline: direct call through dlsym", v, n, "us");
    free(v);
    return 0;
}

static const char crash_src[] =
    "#include <hotbox/plugin.h>\n#include <stdlib.h>\n#include <string.h>\n"
    "static long n;\n"
    "long bump(void) { return ++n; }\nlong get(void) { return n; }\n"
    "void crash(void) { *(volatile int *)0 = 1; }\n"
    "static int save(void **d, size_t *l) { long *p = malloc(sizeof n); if (!p) return -1;\n"
    "  *p = n; *d = p; *l = sizeof n; return 0; }\n"
    "static int migrate(const void *d, size_t l, uint32_t s) { (void)s;\n"
    "  if (l != sizeof n) return -1; memcpy(&n, d, l); return 0; }\n"
    "HB_PLUGIN(\"crashb\", 1, 0, 0, save, migrate);\n";

/* One crash cycle's parts (ms): see stage_names. */
enum { ST_SEEN, ST_REAP, ST_DETECT, ST_BACKOFF, ST_KILL, ST_WORKER, ST_VERIFY, ST_LOAD,
       ST_FINISH, ST_OTHER, ST_COUNT };
static const char *const stage_names[ST_COUNT] = {
    "call sent -> death seen (bwrap gone)", "reap (wait4 of bwrap)",
    "reaped -> recover (fault report, events)", "crash-loop backoff wait",
    "close dead client", "worker: spare taken / spawn + HELLO",
    "verify stored object again", "LOAD: dlopen + checkpoint restore",
    "announce + spare refill start", "rest: return + the next call",
};

typedef struct crash_run {
    double *total, *st[ST_COUNT];
    int spares; /* cycles served by a spare */
} crash_run;

static int crash_run_new(crash_run *cr, int n)
{
    memset(cr, 0, sizeof(*cr));
    cr->total = calloc((size_t)n, sizeof(double));
    for (int k = 0; k < ST_COUNT; k++)
        cr->st[k] = calloc((size_t)n, sizeof(double));
    return cr->total ? 0 : -1;
}

static void crash_run_free(crash_run *cr)
{
    free(cr->total);
    for (int k = 0; k < ST_COUNT; k++)
        free(cr->st[k]);
}

/* Crash, then the next call, timed together; gap_ms idle before each. The
 * recovery's stages come from the sandbox (hb__restart_stages). */
static int time_crashes(hb_sandbox *sb, int gap_ms, crash_run *cr, int n)
{
    for (int i = 0; i < n; i++) {
        if (gap_ms)
            (void)poll(NULL, 0, gap_ms);
        long v = -1;
        uint64_t t0 = hb__now_ns();
        int r = hb_callf(sb, "crashb", "crash", ")v");
        int r2 = hb_callf(sb, "crashb", "get", ")l", &v);
        uint64_t t2 = hb__now_ns();
        if (r != HB_ECRASHED || r2 < 0 || v != 3) {
            fprintf(stderr, "crash cycle: %d/%d, state %ld: %s\n", r, r2, v,
                    hb_sandbox_last_error(sb));
            return -1;
        }
        uint64_t ns[HB_RS_COUNT];
        bool spare = false;
        uint64_t at = hb__restart_stages(sb, ns, &spare);
        cr->spares += spare;
        cr->total[i] = (double)(t2 - t0) / 1e6;
        uint64_t seen, reaped;
        hb__restart_death(sb, &seen, &reaped);
        if (!seen || seen < t0 || reaped < seen || at < reaped)
            seen = reaped = t0; /* not seen by a call's wait: all in "-> recover" */
        double sum = cr->st[ST_SEEN][i] = (double)(seen - t0) / 1e6;
        sum += cr->st[ST_REAP][i] = (double)(reaped - seen) / 1e6;
        sum += cr->st[ST_DETECT][i] = at > reaped ? (double)(at - reaped) / 1e6 : 0;
        for (int k = 0; k < HB_RS_COUNT; k++)
            sum += cr->st[ST_BACKOFF + k][i] = (double)ns[k] / 1e6;
        cr->st[ST_OTHER][i] = cr->total[i] - sum;
    }
    return 0;
}

static void crash_report(const char *what, crash_run *cr, int n)
{
    char title[160];
    snprintf(title, sizeof(title), "%s (%d/%d by a spare)", what, cr->spares, n);
    hb_bench_line(title, cr->total, (size_t)n, "ms");
    for (int k = 0; k < ST_COUNT; k++) {
        snprintf(title, sizeof(title), "  %s", stage_names[k]);
        hb_bench_line(title, cr->st[k], (size_t)n, "ms");
    }
}

/* A sandbox with crashb loaded, its state 3 and checkpointed. */
static hb_sandbox *crash_sandbox(hb_manager *m, const hb_sandbox_options *so, const char *dir)
{
    hb_sandbox *sb;
    long v;
    if (hb_sandbox_new(m, so, &sb) < 0) {
        fprintf(stderr, "crash sandbox: %s\n", hb_manager_last_error(m));
        return NULL;
    }
    if (hb_load(sb, dir) < 0) {
        fprintf(stderr, "crash sandbox: %s\n", hb_sandbox_last_error(sb));
        hb_sandbox_free(sb);
        return NULL;
    }
    for (int i = 0; i < 3; i++)
        hb_callf(sb, "crashb", "bump", ")l", &v);
    hb_checkpoint(sb, NULL);
    return sb;
}

static int bench_crash(hb_manager *m, int runs)
{
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/crashb", root);
    mkdir(dir, 0755);
    char path[4300];
    snprintf(path, sizeof(path), "%s/crashb.c", dir);
    hb_bench_write(path, crash_src);
    hb_sandbox_options so = HB_SANDBOX_OPTIONS_INIT;
    so.profile = HB_PROFILE_STANDARD;
    so.crash_loop_max = 1000000; /* crashes on purpose: no backoff */
    so.crash_loop_window_ms = 1;
    hb_sandbox *sb = crash_sandbox(m, &so, dir);
    long v;
    if (!sb)
        return -1;
    crash_run first, a, b, loop;
    int nloop = 7;
    double *t = calloc((size_t)runs, sizeof(double)), *get = calloc((size_t)runs, sizeof(double));
    if (crash_run_new(&first, 1) < 0 || crash_run_new(&a, runs) < 0 ||
        crash_run_new(&b, runs) < 0 || crash_run_new(&loop, nloop) < 0 || !t || !get)
        return -1;
    /* The first restart arms the spare; then the mechanism: crashes after
     * a quiet period (spare refilled), and back to back (the refill still
     * running when the next crash comes). */
    if (time_crashes(sb, 0, &first, 1) < 0 || time_crashes(sb, 300, &b, runs) < 0 ||
        time_crashes(sb, 0, &a, runs) < 0)
        return -1;
    for (int i = 0; i < runs; i++) {
        double t0 = hb_bench_now_us();
        hb_callf(sb, "crashb", "get", ")l", &v);
        get[i] = (hb_bench_now_us() - t0) / 1e3;
    }
    hb_sandbox_free(sb);
    /* The crash loop: the default policy's backoff (10, 20, 40 ms, ...)
     * with a limit high enough that the sandbox is not failed. */
    so.crash_loop_max = 1000;
    so.crash_loop_window_ms = 60000;
    if (!(sb = crash_sandbox(m, &so, dir)))
        return -1;
    if (time_crashes(sb, 0, &loop, nloop) < 0)
        return -1;
    hb_sandbox_free(sb);
    for (int i = 0; i < runs; i++)
        t[i] = hb_bench_run((char *const[]){"/bin/true", NULL});
    printf("\n4. crash -> next call served (standard profile, checkpointed state)\n");
    crash_report("first crash (no spare yet)", &first, 1);
    crash_report("300 ms apart (spare refilled), no backoff", &b, runs);
    crash_report("back to back (refill in flight), no backoff", &a, runs);
    hb_bench_line("the next call alone (get)", get, (size_t)runs, "ms");
    hb_bench_line("baseline: fork+exec /bin/true + wait", t, (size_t)runs, "ms");
    printf("  ratio 300 ms apart / baseline: %.1fx (target <= 4x)\n",
           median(b.total, (size_t)runs) / median(t, (size_t)runs));
    printf("  crash loop (default backoff, back to back), per crash:");
    for (int i = 0; i < nloop; i++)
        printf(" %.1f", loop.total[i]);
    printf(" ms\n");
    crash_report("crash loop", &loop, nloop);
    crash_run_free(&first);
    crash_run_free(&a);
    crash_run_free(&b);
    crash_run_free(&loop);
    free(t);
    free(get);
    return 0;
}

/* The stored object of the newest version of "bench". */
static void object_path(hb_manager *m, const char *state, char *obj, size_t len)
{
    hb_version_info *vi;
    size_t nv;
    if (hb_versions(m, "bench", &vi, &nv) < 0 || !nv) {
        fprintf(stderr, "no stored version of bench\n");
        exit(1);
    }
    snprintf(obj, len, "%s/objects/%s.so", state, vi[0].object_sha256);
    hb_free(vi);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 30;
    if (runs < 5)
        runs = 5;
    if (!getenv("HOTBOX_WORKER"))
        setenv("HOTBOX_WORKER", HB_WORKER_PATH, 0);
    hb_bench_tree t;
    hb_bench_tree_new(&t, "core", "bench");
    root = t.root;
    const char *dir = t.dir, *state = t.state;
    write_state_plugin(dir, 0);

    hb_manager *m = hb_bench_manager(state, HB_ISOLATION_LOCAL, on_event);
    hb_sandbox *sb;
    if (hb_sandbox_new(m, NULL, &sb) < 0 || hb_load(sb, dir) < 0) {
        fprintf(stderr, "set-up failed\n");
        return 1;
    }
    printf("hotbox %s core benchmarks (%d runs each)\n", hb_version(), runs);
    char obj[4300];
    if (argc > 2 && strcmp(argv[2], "crash") == 0) {
        int rc = bench_crash(m, runs) < 0;
        hb_sandbox_free(sb);
        hb_manager_free(m);
        hb_bench_rm_rf(root);
        return rc;
    }
    if (argc > 2 && strcmp(argv[2], "calls") == 0) {
        object_path(m, state, obj, sizeof(obj));
        int rc = bench_calls(m, dir, obj, runs * 200) < 0;
        hb_sandbox_free(sb);
        hb_manager_free(m);
        hb_bench_rm_rf(root);
        return rc;
    }

    /* 1. swap latency: alternate between two stored versions. */
    write_state_plugin(dir, 1);
    if (hb_reload(sb, "bench") < 0) {
        fprintf(stderr, "reload: %s\n", hb_sandbox_last_error(sb));
        return 1;
    }
    double *swap = calloc((size_t)runs, sizeof(double));
    double *swap_api = calloc((size_t)runs, sizeof(double));
    double *dl = calloc((size_t)runs, sizeof(double));
    for (int i = 0; i < runs; i++) {
        double t0 = hb_bench_now_us();
        if (hb_rollback(sb, "bench", (uint64_t)(i % 2 ? 2 : 1)) < 0) {
            fprintf(stderr, "rollback: %s\n", hb_sandbox_last_error(sb));
            return 1;
        }
        swap_api[i] = (hb_bench_now_us() - t0) / 1e3;
        swap[i] = last_swap_ms;
    }
    object_path(m, state, obj, sizeof(obj));
    for (int i = 0; i < runs; i++) {
        double t0 = hb_bench_now_us();
        void *h = dlopen(obj, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            fprintf(stderr, "dlopen: %s\n", dlerror());
            return 1;
        }
        dlclose(h);
        dl[i] = (hb_bench_now_us() - t0) / 1e3;
    }
    printf("\n1. swap with 4 KiB of state\n");
    hb_bench_line("worker swap (save+dlopen+migrate+switch)", swap, (size_t)runs, "ms");
    hb_bench_line("hb_rollback call (checksum+ELF check+swap)", swap_api, (size_t)runs, "ms");
    hb_bench_line("baseline: dlopen+dlclose in-process", dl, (size_t)runs, "ms");

    /* 2. call round trip vs a direct call and the ping-pong floor. */
    if (bench_calls(m, dir, obj, runs * 200) < 0)
        return 1;

    /* 3. edit-to-swap (local backend) vs bare cc. */
    const char *cc = getenv("CC") ? getenv("CC") : "cc";
    char inc[4300], src[4300], out[4300];
    snprintf(inc, sizeof(inc), "%s/include", state);
    snprintf(src, sizeof(src), "%s/bench.c", dir);
    snprintf(out, sizeof(out), "%s/bare.so", root);
    int nedit = runs < 20 ? runs : 20;
    double *edit = calloc((size_t)nedit, sizeof(double));
    double *bare = calloc((size_t)nedit, sizeof(double));
    for (int i = 0; i < nedit; i++) {
        write_state_plugin(dir, 100 + i);
        double t0 = hb_bench_now_us();
        if (hb_reload(sb, "bench") < 0) {
            fprintf(stderr, "reload: %s\n", hb_sandbox_last_error(sb));
            return 1;
        }
        edit[i] = (hb_bench_now_us() - t0) / 1e3;
        bare[i] = run_cc(cc, src, out, inc) / 1e3;
    }
    printf("\n3. edit-to-swap, local backend\n");
    double me = median(edit, (size_t)nedit), mb = median(bare, (size_t)nedit);
    hb_bench_line("hb_reload after an edit (compile+store+swap)", edit, (size_t)nedit, "ms");
    hb_bench_line("baseline: bare cc on the same source", bare, (size_t)nedit, "ms");
    printf("  ratio edit-to-swap / bare cc: %.2fx (median %+.1f ms)\n", me / mb, me - mb);

    if (bench_crash(m, runs) < 0)
        return 1;

    hb_sandbox_free(sb);
    hb_manager_free(m);
    hb_bench_rm_rf(root);
    return 0;
}
