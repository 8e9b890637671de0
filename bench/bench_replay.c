/* bench_replay: what differential replay costs (docs/replay.md).
 *
 *   1. The recording overhead per call: hb_call round trips of
 *      int add(int,int) on a sandbox that records, against one that does
 *      not, in the same run, in alternating blocks (median, p95); and the
 *      recorder's append alone (hb__rec_put_call into a buffer) in-process.
 *   2. Replay speed: hb_replay of a recording of N calls (one segment; no
 *      change, so every call is compared), in calls per second over the
 *      whole replay (two workers started, the version loaded in each) and
 *      per call (from the difference between N calls and 1 call). Baseline:
 *      the plain hb_call rate of part 1 (a replay makes each call twice,
 *      once per worker, so about half of it is the ceiling).
 *
 *   bench_replay [runs] [calls]   (default 7 runs, 2000 calls)
 */
#include "bench_common.h"
#include "recording.h"
#include "wire.h"

#include <hotbox/hotbox.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


static hb_sandbox *sandbox(hb_manager *m, const char *dir, const char *record_dir)
{
    hb_sandbox_options o;
    hb_sandbox_options_init(&o, HB_SANDBOX_OPTIONS_VERSION);
    o.record_dir = record_dir;
    hb_sandbox *sb = NULL;
    if (hb_sandbox_new(m, &o, &sb) < 0 || hb_load(sb, dir) < 0) {
        fprintf(stderr, "sandbox: %s\n", sb ? hb_sandbox_last_error(sb) : hb_manager_last_error(m));
        exit(1);
    }
    return sb;
}

static void calls(hb_sandbox *sb, double *us, size_t n, size_t base)
{
    for (size_t i = 0; i < n; i++) {
        int32_t r = 0;
        double t0 = hb_bench_now_us();
        if (hb_callf(sb, "bench", "add", "ii)i", (int)(base + i), 1, &r) < 0 ||
            r != (int32_t)(base + i) + 1) {
            fprintf(stderr, "call: %s\n", hb_sandbox_last_error(sb));
            exit(1);
        }
        if (us)
            us[i] = hb_bench_now_us() - t0;
    }
}

/* The recorder's own work per call: one CALL record appended. */
static void append_cost(void)
{
    hb_wbuf q = {0}, a = {0};
    hb_wvalue args[2] = {{.type = HB_TYPE_I32, .n.i = 2}, {.type = HB_TYPE_I32, .n.i = 3}};
    hb_proto_call c = {.plugin = "bench", .symbol = "add", .signature = "ii)i", .nargs = 2,
                       .args = args};
    hb_proto_call_ok ok = {.ret = {.type = HB_TYPE_I32, .n.i = 5}};
    hb__proto_call_encode(&q, 1, &c);
    hb__proto_call_ok_encode(&a, 1, &ok);
    double v[7];
    for (int run = 0; run < 7; run++) {
        hb_wbuf buf = {0};
        const int n = 200000;
        double t0 = hb_bench_now_us();
        for (int i = 0; i < n; i++) {
            if (buf.len > (256u << 10))
                buf.len = 0; /* the recorder writes out at 256 KiB */
            hb__rec_put_call(&buf, 42, q.data + HB_WIRE_HEADER, q.len - HB_WIRE_HEADER, 0,
                             a.data + HB_WIRE_HEADER, a.len - HB_WIRE_HEADER, NULL);
        }
        v[run] = (hb_bench_now_us() - t0) * 1000.0 / n; /* ns per call */
        hb__wire_release(&buf);
    }
    hb_bench_stats s = hb_bench_stats_of(v, 7);
    printf("recorder append alone (in-process)  median %6.1f ns/call  p95 %6.1f ns/call\n",
           s.median, s.p95);
    hb__wire_release(&q);
    hb__wire_release(&a);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 7;
    size_t n = argc > 2 ? (size_t)atol(argv[2]) : 2000;
    if (runs < 1 || n < 2)
        return 2;
    if (!getenv("HOTBOX_WORKER"))
        setenv("HOTBOX_WORKER", HB_WORKER_PATH, 0);
    hb_bench_tree t;
    hb_bench_tree_new(&t, "replay", "bench");
    const char *root = t.root, *dir = t.dir;
    char rec[600];
    snprintf(rec, sizeof(rec), "%s/recordings", t.state);
    hb_bench_write(t.src, "#include <hotbox/plugin.h>\n#include <stdint.h>\n"
                          "int32_t add(int32_t a, int32_t b) { return a + b; }\n"
                          "HB_PLUGIN(\"bench\", 1, 0, 0, 0, 0);\n");
    hb_manager *m = hb_bench_manager(t.state, HB_ISOLATION_LOCAL, NULL);

    /* 1. recording overhead, alternating blocks of 500 calls */
    hb_sandbox *plain = sandbox(m, dir, NULL), *recd = sandbox(m, dir, rec);
    calls(plain, NULL, 200, 0); /* warm-up (and the recording's segment) */
    calls(recd, NULL, 200, 0);
    size_t total = (size_t)runs * 1000;
    double *a = malloc(total * sizeof(double)), *b = malloc(total * sizeof(double));
    for (size_t done = 0; done < total; done += 500) { /* either goes first in turn */
        bool plain_first = (done / 500) % 2 == 0;
        calls(plain_first ? plain : recd, (plain_first ? a : b) + done, 500, done);
        calls(plain_first ? recd : plain, (plain_first ? b : a) + done, 500, done);
    }
    hb_bench_stats sp = hb_bench_stats_of(a, total), sr = hb_bench_stats_of(b, total);
    printf("hb_call add(int,int), not recording  median %6.2f us  p95 %6.2f us  (%zu calls)\n",
           sp.median, sp.p95, total);
    printf("hb_call add(int,int), recording      median %6.2f us  p95 %6.2f us  (%zu calls)\n",
           sr.median, sr.p95, total);
    printf("recording overhead per call          median %+6.2f us  p95 %+6.2f us\n",
           sr.median - sp.median, sr.p95 - sp.p95);
    append_cost();
    hb_sandbox_free(plain);
    hb_sandbox_free(recd);

    /* 2. replay speed: a recording of n calls, and one of a single call */
    char one[300];
    snprintf(one, sizeof(one), "%s/one.hbrec", root);
    char many[640];
    snprintf(many, sizeof(many), "%s/bench.hbrec", rec);
    unlink(many);
    recd = sandbox(m, dir, rec);
    calls(recd, NULL, 1, 0);
    hb_sandbox_free(recd);
    if (rename(many, one) < 0)
        return 1;
    recd = sandbox(m, dir, rec);
    calls(recd, NULL, n, 0);
    hb_sandbox_free(recd);
    double *tn = malloc((size_t)runs * sizeof(double)), *t1 = malloc((size_t)runs * sizeof(double));
    double *rate = malloc((size_t)runs * sizeof(double)), *per = malloc((size_t)runs * sizeof(double));
    for (int r = 0; r < runs; r++) {
        hb_replay_options ro = HB_REPLAY_OPTIONS_INIT;
        hb_replay_report *rep = NULL;
        ro.recording = one;
        if (hb_replay(m, dir, &ro, &rep) < 0 || rep->ndiffs) {
            fprintf(stderr, "replay: %s\n", hb_manager_last_error(m));
            return 1;
        }
        t1[r] = rep->seconds;
        hb_replay_report_free(rep);
        ro.recording = many;
        if (hb_replay(m, dir, &ro, &rep) < 0 || rep->ndiffs || rep->calls != n) {
            fprintf(stderr, "replay: %s\n", hb_manager_last_error(m));
            return 1;
        }
        tn[r] = rep->seconds;
        hb_replay_report_free(rep);
        rate[r] = (double)n / tn[r];
        per[r] = (double)(n - 1) / (tn[r] - t1[r]);
    }
    hb_bench_stats s1 = hb_bench_stats_of(t1, (size_t)runs), sn = hb_bench_stats_of(tn, (size_t)runs);
    hb_bench_stats sa = hb_bench_stats_of(rate, (size_t)runs), sb = hb_bench_stats_of(per, (size_t)runs);
    printf("replay of 1 call (fixed cost)        median %8.1f ms  p95 %8.1f ms\n",
           s1.median * 1e3, s1.p95 * 1e3);
    printf("replay of %zu calls                 median %8.1f ms  p95 %8.1f ms\n", n,
           sn.median * 1e3, sn.p95 * 1e3);
    /* For a rate the slow tail is the low end: the slowest run is shown. */
    printf("replay rate, whole replay            median %8.0f calls/s  (slowest run %8.0f)\n",
           sa.median, sa.min);
    /* Per run the difference of two noisy times can be anything; from the
     * medians it is steady. */
    printf("replay rate, per call (medians)      %8.0f calls/s  (per-run median %8.0f)\n",
           (double)(n - 1) / (sn.median - s1.median), sb.median);
    printf("baseline: plain hb_call rate          median %8.0f calls/s  (p95 latency: %8.0f)\n",
           1e6 / sp.median, 1e6 / sp.p95);
    hb_manager_free(m);
    free(a);
    free(b);
    free(tn);
    free(t1);
    free(rate);
    free(per);
    hb_bench_rm_rf(root);
    return 0;
}
