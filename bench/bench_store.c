/* bench/bench_store.c - the version store and the dependency order:
 *   insert latency (object copy + fsync + rename + SQLite commit) beside a
 *   bare atomic file write of the same bytes (the durability floor);
 *   lookup latency (by plugin and version, and the newest version);
 *   the load order of a generated graph of 1,000 plugins.
 * Prints medians and p95. Not a test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"
#include "harness.h"

typedef struct rec {
    char *name;
} rec;

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 200;
    char root[] = "/tmp/hb-bench-store-XXXXXX";
    if (!mkdtemp(root))
        return 1;
    char state[4200], obj[4200], plain[4200];
    snprintf(state, sizeof(state), "%s/state", root);
    snprintf(obj, sizeof(obj), "%s/obj.bin", root);
    snprintf(plain, sizeof(plain), "%s/plain.bin", root);
    hb_manager *m = hb_bench_manager(state, HB_ISOLATION_LOCAL, NULL);
    printf("hotbox %s store benchmarks\n\n1. insert and lookup (%d versions of a 16 KiB object)\n",
           hb_version(), n);
    static char blob[16384];
    double *ins = calloc((size_t)n, sizeof(double));
    double *base = calloc((size_t)n, sizeof(double));
    double *get = calloc((size_t)n, sizeof(double));
    double *latest = calloc((size_t)n, sizeof(double));
    for (int i = 0; i < n; i++) {
        snprintf(blob, sizeof(blob), "object %d", i); /* a new checksum each time */
        FILE *f = fopen(obj, "wb");
        fwrite(blob, 1, sizeof(blob), f);
        fclose(f);
        hb_version_rec meta = {0}, out = {0};
        bool created = false;
        char *err = NULL;
        double t0 = hb_bench_now_us();
        if (hb_store_add(m->store, "bench", obj, &meta, &out, &created, &err) < 0) {
            fprintf(stderr, "insert: %s\n", err ? err : "?");
            return 1;
        }
        ins[i] = (hb_bench_now_us() - t0) / 1e3;
        hb_version_rec_release(&out);
        t0 = hb_bench_now_us();
        hb__write_file_atomic(plain, blob, sizeof(blob), 0644);
        base[i] = (hb_bench_now_us() - t0) / 1e3;
    }
    for (int i = 0; i < n; i++) {
        hb_version_rec r = {0};
        double t0 = hb_bench_now_us();
        hb_store_get(m->store, "bench", (uint64_t)(i + 1), &r);
        get[i] = hb_bench_now_us() - t0;
        hb_version_rec_release(&r);
        t0 = hb_bench_now_us();
        hb_store_latest(m->store, "bench", &r);
        latest[i] = hb_bench_now_us() - t0;
        hb_version_rec_release(&r);
    }
    hb_bench_line("insert (copy, fsync, rename, dir fsync, commit)", ins, (size_t)n, "ms");
    hb_bench_line("baseline: atomic write of the same bytes", base, (size_t)n, "ms");
    hb_bench_line("lookup by plugin and version", get, (size_t)n, "us");
    hb_bench_line("lookup of the newest version", latest, (size_t)n, "us");

    /* 2. Load order of 1,000 plugins, each depending on up to 3 earlier
     * ones, given in a shuffled order. */
    const int np = 1000;
    printf("\n2. load order of a generated graph of %d plugins (up to 3 dependencies each)\n", np);
    srand(42);
    rec *recs = calloc((size_t)np, sizeof(rec));
    double t_ins0 = hb_bench_now_us();
    for (int i = 0; i < np; i++) {
        recs[i].name = hb__asprintf("p%04d", i);
        char **deps = NULL;
        for (int k = 0; k < 3 && i > 0; k++) {
            char dep[16];
            snprintf(dep, sizeof(dep), "p%04d", rand() % i);
            hb__strv_push(&deps, dep);
        }
        snprintf(blob, sizeof(blob), "plugin %d", i);
        FILE *f = fopen(obj, "wb");
        fwrite(blob, 1, 64, f);
        fclose(f);
        hb_version_rec meta = {0}, out = {0};
        meta.depends = deps;
        bool created;
        char *err = NULL;
        if (hb_store_add(m->store, recs[i].name, obj, &meta, &out, &created, &err) < 0) {
            fprintf(stderr, "insert: %s\n", err ? err : "?");
            return 1;
        }
        hb_version_rec_release(&out);
        hb__strv_free(deps);
    }
    printf("  (set-up: %d inserts in %.1f s)\n", np, (hb_bench_now_us() - t_ins0) / 1e6);
    double order_ms[5];
    size_t *idx = calloc((size_t)np, sizeof(size_t));
    for (int rep = 0; rep < 5; rep++) {
        for (int i = 0; i < np; i++)
            idx[i] = (size_t)i;
        for (int i = np - 1; i > 0; i--) {
            int j = rand() % (i + 1);
            size_t t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
        }
        double t0 = hb_bench_now_us();
        hb__dependency_order(m, idx, (size_t)np, recs, sizeof(rec), offsetof(rec, name));
        order_ms[rep] = (hb_bench_now_us() - t0) / 1e3;
    }
    /* Check the order once: every dependency comes first. */
    int *pos = calloc((size_t)np, sizeof(int));
    for (int i = 0; i < np; i++)
        pos[idx[i]] = i;
    int bad = 0;
    for (int i = 0; i < np; i++) {
        hb_version_rec r = {0};
        hb_store_latest(m->store, recs[i].name, &r);
        for (size_t k = 0; r.depends && r.depends[k]; k++)
            bad += pos[atoi(r.depends[k] + 1)] > pos[i];
        hb_version_rec_release(&r);
    }
    hb_bench_line("topological order of 1,000 plugins", order_ms, 5, "ms");
    printf("  order checked: %s\n", bad ? "WRONG" : "every dependency before its dependent");
    hb_manager_free(m);
    char cmd[4300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    return bad ? 1 : 0;
}
