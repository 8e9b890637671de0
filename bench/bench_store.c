/* bench/bench_store.c - the version store and the dependency order:
 *   insert latency (object copy + fsync + rename + SQLite commit) beside a
 *   bare atomic file write of the same bytes (the durability floor);
 *   lookup latency (by plugin and version, and the newest version);
 *   the load order of a generated graph of 1,000 plugins;
 *   one reload's store work and a whole cache-hit reload at 10, 1,000 and
 *   10,000 stored versions of one plugin: the compile cache's lookup as it
 *   is (hb_store_input_sets) beside the full scan it replaced (every
 *   version read with hb_store_list, repeated input sets skipped), in the
 *   same run (`bench_store reload` runs only this part); and, at the same
 *   levels, the fallback policy's lookup after a failure (restart after a
 *   crash, rollback without a target, a pin honoured): the scan of the whole
 *   history it was (hb_store_list + hb_policy_fallback) beside the index
 *   search it is (hb_policy_fallback_find).
 * Prints medians and p95. Not a test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"
#include "harness.h"
#include "policy.h"

typedef struct rec {
    char *name;
} rec;

/* ---- 3. one reload's store work, by the length of the history ---------- */

static unsigned g_swaps, g_compiled;

static void on_event(const hb_event *e, void *ud)
{
    (void)ud;
    if (e->type == HB_EVENT_SWAPPED) {
        g_swaps++;
        g_compiled += e->compile_ms > 0;
    }
}

/* The compile cache's lookup before: every stored version with its lists,
 * newest first, repeated (inputs, depends) sets skipped, at most 16 tried;
 * then the hit by input hash. */
static int lookup_scan(hb_store *s, const char *plugin, const char *hash, hb_version_rec *out)
{
    hb_version_rec *all = NULL;
    size_t n = 0, tried = 0;
    int r = hb_store_list(s, plugin, &all, &n);
    if (r < 0)
        return r;
    r = -ENOENT;
    for (size_t i = n; i-- > 0 && r == -ENOENT && tried < 16;) {
        if (!all[i].inputs || !all[i].inputs[0])
            continue;
        bool seen = false;
        for (size_t k = i + 1; k < n && !seen; k++)
            seen = hb__strv_equal(all[k].inputs, all[i].inputs) &&
                   hb__strv_equal(all[k].depends, all[i].depends);
        if (seen)
            continue;
        tried++;
        r = hb_store_find_input(s, plugin, hash, out);
    }
    hb_store_list_free(all, n);
    return r;
}

/* The fallback lookup of a restart whose object no longer verifies, as it
 * was: the whole history read, then the policy's scan (any age, the
 * current version excluded). Returns the version found, 0 when none. */
static uint64_t fallback_scan(hb_store *s, const char *plugin, uint64_t current)
{
    hb_version_rec *all = NULL;
    size_t n = 0;
    if (hb_store_list(s, plugin, &all, &n) < 0)
        return 0;
    size_t i = hb_policy_fallback(all, n, UINT64_MAX, current);
    uint64_t v = i == HB_POLICY_NONE ? 0 : all[i].version;
    hb_store_list_free(all, n);
    return v;
}

/* The same lookup now: an index search on (plugin, status, version). */
static uint64_t fallback_index(hb_store *s, const char *plugin, uint64_t current)
{
    hb_version_rec got = {0};
    if (hb_policy_fallback_find(s, plugin, UINT64_MAX, current, &got) < 0)
        return 0;
    uint64_t v = got.version;
    hb_version_rec_release(&got);
    return v;
}

/* The lookup now: the distinct sets from input_sets, then the hit. */
static int lookup_sets(hb_store *s, const char *plugin, const char *hash, hb_version_rec *out)
{
    hb_version_rec *sets = NULL;
    size_t n = 0;
    int r = hb_store_input_sets(s, plugin, 16, &sets, &n);
    if (r < 0)
        return r;
    r = -ENOENT;
    for (size_t i = 0; i < n && r == -ENOENT; i++)
        r = hb_store_find_input(s, plugin, hash, out);
    hb_store_list_free(sets, n);
    return r;
}

static const char *const SRC_A = "#include <hotbox/plugin.h>\nHB_EXPORT_FN int value(void) { return 1; }\n"
                                 "HB_PLUGIN(\"rs\", 1, 0, 0, 0, 0);\n";
static const char *const SRC_B = "#include <hotbox/plugin.h>\nHB_EXPORT_FN int value(void) { return 2; }\n"
                                 "HB_PLUGIN(\"rs\", 1, 0, 0, 0, 0);\n";

/* Adds fake versions of plugin until it has `upto`, with the input set of
 * `like` (what watch mode piles up: one set, thousands of versions) and
 * input hashes no build has. */
static void seed(hb_store *s, const char *obj, const hb_version_rec *like, unsigned *have,
                 unsigned upto)
{
    static char blob[4096];
    for (; *have < upto; (*have)++) {
        snprintf(blob, sizeof(blob), "seeded object %u", *have);
        FILE *f = fopen(obj, "wb");
        if (!f || fwrite(blob, 1, sizeof(blob), f) != sizeof(blob) || fclose(f) != 0)
            hb_bench_die("writing", -EIO, obj);
        hb_version_rec meta = {0}, out = {0};
        snprintf(meta.input_hash, sizeof(meta.input_hash), "seeded-%u", *have);
        meta.inputs = like->inputs;
        meta.depends = like->depends;
        meta.exports = like->exports;
        bool created = false;
        char *err = NULL;
        int r = hb_store_add(s, like->plugin, obj, &meta, &out, &created, &err);
        if (r < 0)
            hb_bench_die("seeding versions", r, err);
        hb_version_rec_release(&out);
    }
}

static void reload_bench(void)
{
    hb_bench_tree t;
    hb_bench_tree_new(&t, "reload-store", "rs");
    char obj[700];
    snprintf(obj, sizeof(obj), "%s/seed.bin", t.root);
    hb_manager *m = hb_bench_manager(t.state, HB_ISOLATION_LOCAL, on_event);
    hb_sandbox *sb = NULL;
    int r = hb_sandbox_new(m, NULL, &sb);
    if (r < 0)
        hb_bench_die("hb_sandbox_new", r, hb_manager_last_error(m));
    /* Two real versions, A and B, toggled by the reloads below: each
     * reload is a compile cache hit and a swap. */
    hb_bench_write(t.src, SRC_A);
    if ((r = hb_load(sb, t.dir)) < 0)
        hb_bench_die("hb_load", r, hb_sandbox_last_error(sb));
    hb_bench_write(t.src, SRC_B);
    if ((r = hb_reload(sb, "rs")) < 0)
        hb_bench_die("hb_reload", r, hb_sandbox_last_error(sb));
    hb_version_rec va = {0}, vb = {0};
    if (hb_store_get(m->store, "rs", 1, &va) < 0 || hb_store_get(m->store, "rs", 2, &vb) < 0)
        hb_bench_die("reading the built versions", -ENOENT, "rs v1, v2");
    printf("\n3. one reload's store work and a cache-hit reload, by stored versions of one "
           "plugin\n   (before: the full scan, as the lookup was; after: "
           "hb_store_input_sets; same run)\n");
    static const unsigned levels[] = {10, 1000, 10000};
    unsigned have = 2;
    enum { REPS = 200, RELOADS = 40 };
    double *scan = calloc(REPS, sizeof(double)), *sets = calloc(REPS, sizeof(double));
    double *rel = calloc(RELOADS, sizeof(double));
    for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
        double t0 = hb_bench_now_us();
        seed(m->store, obj, &va, &have, levels[l]);
        printf("  %u versions (seeded in %.1f s)\n", levels[l], (hb_bench_now_us() - t0) / 1e6);
        /* The full scan reads the whole history, which evicts SQLite's
         * page cache: the two run in loops of their own. */
        int nscan = levels[l] >= 10000 ? REPS / 10 : REPS;
        for (int pass = 0; pass < 2; pass++)
            for (int i = 0; i < (pass ? nscan : REPS); i++) {
                const hb_version_rec *want = i % 2 ? &vb : &va;
                hb_version_rec got = {0};
                double ta = hb_bench_now_us();
                int a = pass ? lookup_scan(m->store, "rs", want->input_hash, &got)
                             : lookup_sets(m->store, "rs", want->input_hash, &got);
                (pass ? scan : sets)[i] = (hb_bench_now_us() - ta) / 1e3;
                if (a != 0 || got.version != want->version)
                    hb_bench_die("cache lookup", a ? a : -EIO, "no hit on a built version");
                hb_version_rec_release(&got);
            }
        hb_bench_line("    lookup, before (full scan)", scan, (size_t)nscan, "ms");
        hb_bench_line("    lookup, after (input sets)", sets, REPS, "ms");
        /* The fallback lookup from the live version: past every seeded
         * (candidate) version down to the other real one. */
        uint64_t live;
        if ((r = hb_active_version(sb, "rs", &live)) < 0)
            hb_bench_die("hb_active_version", r, hb_sandbox_last_error(sb));
        for (int pass = 0; pass < 2; pass++)
            for (int i = 0; i < (pass ? nscan : REPS); i++) {
                double ta = hb_bench_now_us();
                uint64_t got = pass ? fallback_scan(m->store, "rs", live)
                                    : fallback_index(m->store, "rs", live);
                (pass ? scan : sets)[i] = (hb_bench_now_us() - ta) / 1e3;
                if (got != (live == 1 ? 2 : 1))
                    hb_bench_die("fallback lookup", -EIO, "not the other built version");
            }
        hb_bench_line("    fallback lookup, before (full scan)", scan, (size_t)nscan, "ms");
        hb_bench_line("    fallback lookup, after (status index)", sets, REPS, "ms");
        unsigned swaps0 = g_swaps, compiled0 = g_compiled;
        for (int i = 0; i < RELOADS; i++) {
            hb_bench_write(t.src, i % 2 ? SRC_B : SRC_A);
            double ta = hb_bench_now_us();
            if ((r = hb_reload(sb, "rs")) < 0)
                hb_bench_die("hb_reload", r, hb_sandbox_last_error(sb));
            rel[i] = (hb_bench_now_us() - ta) / 1e3;
        }
        hb_bench_line("    cache-hit reload (hb_reload, swap included)", rel, RELOADS, "ms");
        if (g_swaps - swaps0 != RELOADS || g_compiled != compiled0)
            printf("    WARNING: %u swaps, %u compiles in %d reloads\n", g_swaps - swaps0,
                   g_compiled - compiled0, RELOADS);
    }
    hb_version_rec_release(&va);
    hb_version_rec_release(&vb);
    free(scan);
    free(sets);
    free(rel);
    hb_sandbox_free(sb);
    hb_manager_free(m);
    hb_bench_rm_rf(t.root);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "reload")) {
        reload_bench();
        return 0;
    }
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
    reload_bench();
    char cmd[4300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    return bad ? 1 : 0;
}
