/* tests/versions/test_store_threads.c - one store handle shared by many
 * threads with no lock of their own (the store locks itself): concurrent
 * adds, reads, status changes and checkpoints all land, numbering stays
 * dense per plugin, and the store verifies afterwards. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "store.h"
#include "vtest.h"

#define THREADS 8
#define ADDS 15

static char *g_dir;
static hb_store *g_store;

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    char plugin[32], obj[64], body[128];
    snprintf(plugin, sizeof(plugin), "p%d", id % 4); /* two threads per plugin */
    for (int i = 0; i < ADDS; i++) {
        snprintf(obj, sizeof(obj), "obj-%d-%d", id, i);
        char *path = vt_path(g_dir, obj);
        snprintf(body, sizeof(body), "object %d of thread %d", i, id);
        vt_write_str(path, body);
        char *deps[] = {"q", obj, NULL};
        hb_version_rec meta = {.depends = deps}, rec;
        bool created = false;
        char *err = NULL;
        int r = hb_store_add(g_store, plugin, path, &meta, &rec, &created, &err);
        if (r != 0)
            HB_FAIL_("thread %d add %d: %d %s", id, i, r, err ? err : "");
        HB_CHECK(created);
        HB_CHECK_EQ(hb__strv_len(rec.depends), 2);
        HB_CHECK_STR(rec.depends[1], obj);
        HB_CHECK_OK(hb_store_set_status(g_store, plugin, rec.version, HB_VERSION_ACTIVE));
        hb_version_rec again;
        HB_CHECK_OK(hb_store_get(g_store, plugin, rec.version, &again));
        HB_CHECK_STR(again.object_sha256, rec.object_sha256);
        HB_CHECK_OK(hb_store_object_verify(g_store, &again, NULL));
        hb_version_rec_release(&again);
        HB_CHECK_OK(hb_store_checkpoint_put(g_store, plugin, obj, rec.version, 1, body,
                                            strlen(body)));
        hb_version_rec *all = NULL;
        size_t n = 0;
        HB_CHECK_OK(hb_store_list(g_store, plugin, &all, &n));
        HB_CHECK(n >= (size_t)i + 1);
        hb_store_list_free(all, n);
        hb_version_rec_release(&rec);
        free(path);
    }
    return NULL;
}

static void case_shared_handle(void)
{
    char *err = NULL;
    char *state = vt_path(g_dir, "state");
    if (hb_store_open(state, &g_store, &err) != 0)
        HB_FAIL_("open: %s", err ? err : "");
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        HB_CHECK_EQ(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i), 0);
    for (int i = 0; i < THREADS; i++)
        HB_CHECK_EQ(pthread_join(t[i], NULL), 0);
    /* Every plugin got 2 * ADDS versions, numbered 1..2*ADDS. */
    for (int p = 0; p < 4; p++) {
        char plugin[32];
        snprintf(plugin, sizeof(plugin), "p%d", p);
        hb_version_rec *all = NULL;
        size_t n = 0;
        HB_CHECK_OK(hb_store_list(g_store, plugin, &all, &n));
        HB_CHECK_EQ(n, 2 * ADDS);
        for (size_t i = 0; i < n; i++)
            HB_CHECK_EQ(all[i].version, i + 1);
        hb_store_list_free(all, n);
    }
    hb_sb rep = HB_SB_INIT;
    if (hb_store_verify_all(g_store, &rep) != 0)
        HB_FAIL_("verify: %s", rep.buf ? rep.buf : "");
    hb__sb_release(&rep);
    hb_store_close(g_store);
    free(state);
}

static void run(void)
{
    g_dir = vt_tmpdir("hb-threads-");
    case_shared_handle();
    hb__rm_rf(g_dir);
    free(g_dir);
}

int main(int argc, char **argv)
{
    static const hb_test_case cases[] = {{"shared_handle", run}};
    return hb_test_main(argc, argv, cases, 1);
}
