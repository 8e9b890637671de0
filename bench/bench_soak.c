/* bench_soak: thousands of swaps and calls in one sandbox, watching for
 * leaks. A stateful plugin (a counter carried by save/migrate) is built in
 * two versions; the sandbox swaps between them with hb_rollback (a real
 * swap: the worker opens the other object, the state is saved and
 * migrated) and makes a few calls after each swap. Every 1000 swaps it
 * samples, in the worker and in the manager (this process): resident
 * memory (VmRSS), the number of mappings (/proc/PID/maps lines) and open
 * fds (/proc/PID/fd). Reported: per-op time (median, p95) of swaps and
 * calls, beside a direct in-process call as baseline, and the growth of
 * each figure per 1000 swaps after a warm-up of 500 swaps (target: none
 * beyond noise; a few pages of allocator noise in RSS, no fds and no
 * mappings). The counter must equal the number of calls at the end: the
 * state survived every swap.
 *
 *   bench_soak [swaps] [calls-per-swap]   (default 3000 and 5)
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hotbox/hotbox.h>

#include "bench_common.h"

#define WARMUP 500
#define EVERY 1000

#define SRC_FMT \
    "#include <hotbox/plugin.h>\n#include <stdint.h>\n#include <stdlib.h>\n#include <string.h>\n" \
    "static int64_t count;\n" \
    "HB_EXPORT_FN int64_t bump(void) { return ++count; }\n" \
    "HB_EXPORT_FN int32_t which(void) { return %d; }\n" \
    "static int save(void **d, size_t *n) { int64_t *p = malloc(8); if (!p) return -1;\n" \
    "  *p = count; *d = p; *n = 8; return 0; }\n" \
    "static int migrate(const void *d, size_t n, uint32_t s) { if (s != 1 || n != 8) return -1;\n" \
    "  memcpy(&count, d, 8); return 0; }\n" \
    "HB_PLUGIN(\"soak\", 1, 0, 0, save, migrate);\n"

typedef struct sample {
    double rss_kb, maps, fds;
} sample;

static void write_src(const char *path, int which)
{
    FILE *f = fopen(path, "we");
    if (!f)
        hb_bench_die("writing the plugin", -errno, path);
    fprintf(f, SRC_FMT, which);
    if (fclose(f) != 0)
        hb_bench_die("writing the plugin", -EIO, path);
}

static sample sample_of(int pid)
{
    sample s = {0};
    char p[64], line[512];
    snprintf(p, sizeof(p), "/proc/%d/status", pid);
    FILE *f = fopen(p, "re");
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmRSS:", 6))
            s.rss_kb = strtod(line + 6, NULL);
    if (f)
        fclose(f);
    snprintf(p, sizeof(p), "/proc/%d/maps", pid);
    f = fopen(p, "re");
    while (f && fgets(line, sizeof(line), f))
        s.maps += strchr(line, '\n') != NULL;
    if (f)
        fclose(f);
    snprintf(p, sizeof(p), "/proc/%d/fd", pid);
    DIR *d = opendir(p);
    for (struct dirent *e; d && (e = readdir(d));)
        s.fds += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return s;
}

static __attribute__((noinline)) int64_t direct_bump(volatile int64_t *c) { return ++*c; }

static void growth(const char *who, const sample *v, size_t n)
{
    /* Per 1000 swaps: the slope from the first sample (after warm-up) to
     * the last, and the largest step between two samples. */
    double per = n > 1 ? 1.0 / (double)(n - 1) : 0;
    printf("%-8s rss %8.0f -> %8.0f KiB (%+7.1f KiB/1000 swaps)  maps %5.0f -> %5.0f (%+5.2f/1000)"
           "  fds %3.0f -> %3.0f (%+5.2f/1000)\n",
           who, v[0].rss_kb, v[n - 1].rss_kb, (v[n - 1].rss_kb - v[0].rss_kb) * per, v[0].maps,
           v[n - 1].maps, (v[n - 1].maps - v[0].maps) * per, v[0].fds, v[n - 1].fds,
           (v[n - 1].fds - v[0].fds) * per);
}

int main(int argc, char **argv)
{
    long swaps = argc > 1 ? atol(argv[1]) : 3000;
    long calls = argc > 2 ? atol(argv[2]) : 5;
    if (swaps < EVERY)
        swaps = EVERY;
    if (calls < 1)
        calls = 1;
    hb_bench_tree t;
    hb_bench_tree_new(&t, "soak", "soak");
    const char *root = t.root, *dir = t.dir, *src = t.src;
    hb_manager *m = hb_bench_manager(t.state, HB_ISOLATION_AUTO, NULL);
    hb_sandbox *sb = NULL;
    int r;
    if ((r = hb_sandbox_new(m, NULL, &sb)) < 0)
        hb_bench_die("hb_sandbox_new", r, hb_manager_last_error(m));
    write_src(src, 1);
    if ((r = hb_load(sb, dir)) < 0)
        hb_bench_die("hb_load", r, hb_sandbox_last_error(sb));
    uint64_t v[2];
    if ((r = hb_active_version(sb, "soak", &v[0])) < 0)
        hb_bench_die("hb_active_version", r, NULL);
    write_src(src, 2);
    if ((r = hb_reload(sb, "soak")) < 0)
        hb_bench_die("hb_reload", r, hb_sandbox_last_error(sb));
    if ((r = hb_active_version(sb, "soak", &v[1])) < 0)
        hb_bench_die("hb_active_version", r, NULL);

    double *swap_ms = calloc((size_t)swaps, sizeof(double));
    double *call_ms = calloc((size_t)(swaps * calls), sizeof(double));
    size_t nsamples = (size_t)(swaps - WARMUP) / EVERY + 2;
    sample *ws = calloc(nsamples, sizeof(sample)), *ms = calloc(nsamples, sizeof(sample));
    if (!swap_ms || !call_ms || !ws || !ms)
        hb_bench_die("calloc", -ENOMEM, NULL);
    size_t ns = 0;
    int64_t expect = 0, got = 0;
    int pid0 = hb_sandbox_worker_pid(sb);
    for (long i = 0; i < swaps; i++) {
        uint64_t to = v[i % 2]; /* v2 is active: the first swap goes to v1 */
        double t0 = hb_bench_now_ms();
        if ((r = hb_rollback(sb, "soak", to)) < 0)
            hb_bench_die("hb_rollback", r, hb_sandbox_last_error(sb));
        swap_ms[i] = hb_bench_now_ms() - t0;
        for (long c = 0; c < calls; c++) {
            t0 = hb_bench_now_ms();
            if ((r = hb_callf(sb, "soak", "bump", ")l", &got)) < 0)
                hb_bench_die("hb_callf", r, hb_sandbox_last_error(sb));
            call_ms[i * calls + c] = hb_bench_now_ms() - t0;
            if (got != ++expect)
                hb_bench_die("state", -EPROTO, "the counter lost its value across a swap");
        }
        if (i + 1 == WARMUP || (i + 1 > WARMUP && (i + 1 - WARMUP) % EVERY == 0)) {
            ws[ns] = sample_of(hb_sandbox_worker_pid(sb));
            ms[ns] = sample_of((int)getpid());
            ns++;
        }
    }
    volatile int64_t c = 0;
    double *direct = calloc(1000, sizeof(double));
    for (int i = 0; direct && i < 1000; i++) {
        double t0 = hb_bench_now_ms();
        direct_bump(&c);
        direct[i] = hb_bench_now_ms() - t0;
    }
    char comm[64] = "?", cp[64];
    snprintf(cp, sizeof(cp), "/proc/%d/comm", hb_sandbox_worker_pid(sb));
    FILE *cf = fopen(cp, "re");
    if (cf && fgets(comm, sizeof(comm), cf))
        comm[strcspn(comm, "\n")] = '\0';
    if (cf)
        fclose(cf);
    hb_sandbox_usage u;
    if (hb_sandbox_usage_get(sb, &u) < 0)
        memset(&u, 0, sizeof(u));
    printf("bench_soak: %ld swaps (v%" PRIu64 " <-> v%" PRIu64 "), %ld calls each; "
           "worker %s (pid %d), restarts %" PRIu64 ", same worker %s\n",
           swaps, v[0], v[1], calls, comm, hb_sandbox_worker_pid(sb), u.restarts, hb_sandbox_worker_pid(sb) == pid0 ? "yes" : "NO");
    hb_bench_report("swap (hb_rollback, state carried)", swap_ms, (size_t)swaps);
    hb_bench_report("call (hb_callf)", call_ms, (size_t)(swaps * calls));
    if (direct)
        hb_bench_report("baseline: direct call", direct, 1000);
    printf("growth per %d swaps, sampled after a warm-up of %d swaps (%zu samples):\n", EVERY,
           WARMUP, ns);
    growth("worker", ws, ns);
    growth("manager", ms, ns);
    printf("counter %" PRId64 " == calls %" PRId64 ": state carried through every swap\n", got,
           expect);
    hb_sandbox_free(sb);
    hb_manager_free(m);
    hb_bench_rm_rf(root);
    free(swap_ms);
    free(call_ms);
    free(ws);
    free(ms);
    free(direct);
    return 0;
}
