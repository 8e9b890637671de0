/*
 * tests/microvm/test_microvm_snapshot.c - the pool's boot snapshot, for real
 * (TCG here; KVM where it works):
 *   1. a first pool boots one VM, saves it, and its VM is a restore; a
 *      plugin compiled in the restored VM loads and runs on the host;
 *   2. a second pool restores the same snapshot without saving;
 *   3. another machine configuration (memory) is another key: a new
 *      snapshot, the old one not used;
 *   4. a snapshot whose bytes changed (digest mismatch) is removed and
 *      replaced, with a message saying it was corrupt;
 *   5. a snapshot QEMU cannot load (digest matching, content garbage) makes
 *      the pool boot instead, says so, and removes it; jobs still run.
 * Prints restore-to-ready, first job after restore and the warm job time.
 * SKIPs when the guest kernel cache is missing.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hbtest.h"
#include "microvm.h"
#include "util.h"

static char *g_tmp, *g_plugin, *g_out, *g_snaps;

static hb_vm_pool *start_pool(unsigned memory_mb, bool warmup, unsigned jobs_per_vm,
                              hb_vm_pool_stats *st)
{
    hb_vm_pool_options o = HB_VM_POOL_OPTIONS_INIT;
    o.size = 1;
    o.accel = HB_VM_ACCEL_TCG; /* KVM's verdict is test_microvm's business */
    o.memory_mb = memory_mb;
    o.snapshot_dir = g_snaps;
    o.no_warmup = !warmup;
    o.jobs_per_vm = jobs_per_vm;
    o.boot_timeout_ms = 120000;
    hb_vm_pool *pool = NULL;
    char *err = NULL;
    int r = hb_vm_pool_new(&o, &pool, &err);
    if (r == -ENOENT && err && strstr(err, "not found")) {
        hb__rm_rf(g_tmp);
        HB_SKIP("%s", err);
    }
    if (r)
        fprintf(stderr, "pool_new: %s\n", err ? err : "");
    HB_CHECK_OK(r);
    r = hb_vm_pool_wait_warm(pool, 300000, &err);
    if (r)
        fprintf(stderr, "wait_warm: %s\n", err ? err : "");
    HB_CHECK_OK(r);
    free(err);
    hb_vm_pool_stats_get(pool, st);
    printf("pool (-m %u): %s\n", memory_mb, st->snapshot_note);
    return pool;
}

static double compile_and_call(hb_vm_pool *pool, int by)
{
    const char *sources[] = {"good.c", NULL};
    const char *argv[] = {"cc", "-shared", "-fPIC", "-O2", "-o",
                          HB_VM_GUEST_OUT "/" HB_VM_OBJECT_NAME, HB_VM_GUEST_SRC "/good.c", NULL};
    hb_vm_job job = {.plugin_dir = g_plugin, .sources = sources, .argv = argv, .out_dir = g_out};
    hb_vm_result res;
    char *err = NULL;
    uint64_t t0 = hb__now_ns();
    int r = hb_vm_pool_compile(pool, &job, &res, &err);
    double ms = hb__ms_since(t0);
    if (r)
        fprintf(stderr, "compile: %s\n", err ? err : "");
    HB_CHECK_OK(r);
    if (res.exit_status != 0)
        fprintf(stderr, "output: %s\n", res.output);
    HB_CHECK_EQ(res.exit_status, 0);
    HB_CHECK(res.object_path);
    HB_CHECK_EQ(res.attempts, 1);
    /* the object built in the guest loads and runs here */
    void *h = dlopen(res.object_path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        fprintf(stderr, "dlopen: %s\n", dlerror());
    HB_CHECK(h);
    int (*bump)(int) = (int (*)(int))dlsym(h, "bump");
    HB_CHECK(bump);
    HB_CHECK_EQ(bump(by), 1000 + by);
    dlclose(h);
    hb_vm_result_release(&res);
    free(err);
    return ms;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static bool exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* The snapshot file a pool's note names (malloc'ed). */
static char *path_in_note(const char *note)
{
    const char *p = strstr(note, g_snaps);
    HB_CHECK(p);
    const char *end = strstr(p, ".vmstate");
    HB_CHECK(end);
    return strndup(p, (size_t)(end - p) + strlen(".vmstate"));
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    HB_CHECK_OK(hb__mkdtemp_in("/tmp", "hb-vmsnap-test-", &g_tmp));
    g_plugin = hb__path_join(g_tmp, "plugin");
    g_out = hb__path_join(g_tmp, "out");
    g_snaps = hb__path_join(g_tmp, "snaps");
    HB_CHECK_OK(hb__mkdir_p(g_plugin, 0755));
    HB_CHECK_OK(hb__mkdir_p(g_out, 0755));
    const char *src = "static int counter = 1000;\n"
                      "int bump(int by) { counter += by; return counter; }\n";
    char *good = hb__path_join(g_plugin, "good.c");
    HB_CHECK_OK(hb__write_file_atomic(good, src, strlen(src), 0644));

    /* 1. save, then restore into the pool's VM */
    hb_vm_pool_stats st;
    hb_vm_pool *pool = start_pool(256, true, 0, &st);
    HB_CHECK_CONTAINS(st.snapshot_note, "saved");
    HB_CHECK_EQ(st.restores, 1);
    HB_CHECK_EQ(st.boots, 1);
    char *snap = path_in_note(st.snapshot_note);
    char *digest = hb__asprintf("%.*s.sha256", (int)(strlen(snap) - strlen(".vmstate")), snap);
    HB_CHECK(exists(snap));
    HB_CHECK(exists(digest));
    double save_ms = st.snapshot_save_ms, boot_ms = st.last_boot_ms;
    double first_ms = compile_and_call(pool, 1);
    double warm[5];
    for (int i = 0; i < 5; i++)
        warm[i] = compile_and_call(pool, 2);
    hb_vm_pool_stats_get(pool, &st);
    HB_CHECK_EQ(st.restores, 1);
    HB_CHECK_EQ(st.failures, 0);
    double rss = (double)st.qemu_rss_kib / 1024.0;
    hb_vm_pool_free(pool);

    /* 2. a later pool restores it, saving nothing; a VM retired after its
     * job is replaced by another restore */
    pool = start_pool(256, true, 1, &st);
    HB_CHECK_CONTAINS(st.snapshot_note, "restoring from");
    HB_CHECK_CONTAINS(st.snapshot_note, snap);
    HB_CHECK_EQ(st.snapshot_save_ms, 0);
    HB_CHECK_EQ(st.restores, 1);
    double restore_ms = st.last_restore_ms;
    double first_after_restore = compile_and_call(pool, 3);
    compile_and_call(pool, 3); /* on the replacement */
    hb_vm_pool_stats_get(pool, &st);
    HB_CHECK_EQ(st.failures, 0);
    HB_CHECK_INT(st.recycled, >=, 1);
    HB_CHECK_EQ(st.restores, st.boots); /* every VM of this pool was a restore */
    HB_CHECK_INT(st.restores, >=, 2);
    hb_vm_pool_free(pool);

    /* 3. another configuration, another key: the old snapshot is not used */
    pool = start_pool(192, false, 0, &st);
    HB_CHECK_CONTAINS(st.snapshot_note, "saved");
    HB_CHECK(!strstr(st.snapshot_note, snap));
    HB_CHECK_EQ(st.restores, 1);
    compile_and_call(pool, 4);
    hb_vm_pool_free(pool);
    HB_CHECK(exists(snap)); /* still there for its own configuration */

    /* 4. changed bytes: the digest catches it; removed and saved anew */
    {
        FILE *f = fopen(snap, "r+e");
        HB_CHECK(f);
        HB_CHECK_OK(fseek(f, 1 << 20, SEEK_SET));
        HB_CHECK(fwrite("hotbox", 1, 6, f) == 6);
        HB_CHECK_OK(fclose(f));
    }
    pool = start_pool(256, false, 0, &st);
    HB_CHECK_CONTAINS(st.snapshot_note, "is corrupt");
    HB_CHECK_CONTAINS(st.snapshot_note, "saved");
    HB_CHECK_EQ(st.restores, 1);
    compile_and_call(pool, 5);
    hb_vm_pool_free(pool);
    HB_CHECK(exists(snap)); /* the replacement, under the same key */

    /* 5. a file QEMU cannot load, with a matching digest: the restore fails,
     * the pool boots instead and says why; the job still runs */
    {
        const char junk[] = "this is not a QEMU migration stream\n";
        HB_CHECK_OK(hb__write_file_atomic(snap, junk, sizeof(junk) - 1, 0600));
        char hex[HB_SHA256_HEX];
        hb__sha256_hex(junk, sizeof(junk) - 1, hex);
        HB_CHECK_OK(hb__write_file_atomic(digest, hex, strlen(hex), 0600));
    }
    pool = start_pool(256, false, 0, &st);
    HB_CHECK_CONTAINS(st.snapshot_note, "failed");
    HB_CHECK_CONTAINS(st.snapshot_note, "VMs boot");
    HB_CHECK_EQ(st.restores, 0);
    HB_CHECK_EQ(st.boots, 1);
    HB_CHECK_EQ(st.failures, 1);
    HB_CHECK(!exists(snap)); /* removed: the next pool saves a good one */
    compile_and_call(pool, 6);
    hb_vm_pool_free(pool);

    qsort(warm, 5, sizeof(double), cmp_dbl);
    printf("boot to READY %.0f ms; boot + save %.0f ms\n", boot_ms, save_ms);
    printf("restore to ready (spawn -> MOUNTED): %.0f ms\n", restore_ms);
    printf("first job after restore + warm-up: %.0f ms; warm job median %.0f ms, max %.0f ms\n",
           first_ms, warm[2], warm[4]);
    printf("first job in a later pool (restored, warmed up): %.0f ms (%.2fx steady)\n",
           first_after_restore, first_after_restore / warm[2]);
    printf("QEMU RSS of the restored VM after jobs: %.0f MiB\n", rss);

    free(snap);
    free(digest);
    free(good);
    hb__rm_rf(g_tmp);
    free(g_tmp);
    free(g_plugin);
    free(g_out);
    free(g_snaps);
    return 0;
}
