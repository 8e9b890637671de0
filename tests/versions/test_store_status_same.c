/* tests/versions/test_store_status_same.c - hb_store_set_status to the
 * status a version already has writes nothing, so the next hb_store_flush
 * has nothing to sync: with fsync and fdatasync refused by a seccomp filter
 * (EPERM), that flush still succeeds, while the flush after a real status
 * change tries to sync (and fails here), and the change lands. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "refuse_sync.h"
#include "store.h"
#include "vtest.h"

static hb_version_status status_of(hb_store *s, uint64_t v)
{
    hb_version_rec rec;
    HB_CHECK_OK(hb_store_get(s, "p", v, &rec));
    hb_version_status st = rec.status;
    hb_version_rec_release(&rec);
    return st;
}

int main(void)
{
    char *dir = vt_tmpdir("hb-status-");
    hb_store *s = NULL;
    char *err = NULL;
    if (hb_store_open(dir, &s, &err) != 0)
        HB_FAIL_("hb_store_open %s: %s", dir, err ? err : "?");
    char *obj = vt_path(dir, "obj");
    vt_write_str(obj, "object p 1");
    hb_version_rec meta, rec;
    memset(&meta, 0, sizeof(meta));
    bool created = false;
    if (hb_store_add(s, "p", obj, &meta, &rec, &created, &err) != 0)
        HB_FAIL_("hb_store_add: %s", err ? err : "?");
    uint64_t v = rec.version;
    hb_version_rec_release(&rec);

    HB_CHECK_OK(hb_store_set_status(s, "p", v, HB_VERSION_ACTIVE));
    HB_CHECK_OK(hb_store_flush(s, &err));
    if (hbt_refuse_sync() < 0) {
        printf("SKIP: cannot install a seccomp filter here\n");
        hb_store_close(s);
        hb__rm_rf(dir);
        return 77;
    }
    HB_CHECK_EQ(fsync(1), -1); /* the filter works: syncs fail */
    HB_CHECK_EQ(errno, EPERM);
    for (int i = 0; i < 3; i++)
        HB_CHECK_OK(hb_store_set_status(s, "p", v, HB_VERSION_ACTIVE));
    HB_CHECK_EQ(status_of(s, v), HB_VERSION_ACTIVE);
    HB_CHECK_OK(hb_store_flush(s, &err)); /* nothing written: no sync */

    /* A change is written, and its flush syncs the WAL (refused here). */
    HB_CHECK_OK(hb_store_set_status(s, "p", v, HB_VERSION_GOOD));
    HB_CHECK_EQ(status_of(s, v), HB_VERSION_GOOD);
    HB_CHECK(hb_store_flush(s, &err) < 0);
    HB_CHECK_CONTAINS(err, "hotbox.db-wal");
    free(err);
    err = NULL;
    /* And a refused change is still refused. */
    HB_CHECK(hb_store_set_status(s, "p", v, HB_VERSION_CANDIDATE) < 0);

    hb_store_close(s);
    HB_CHECK_OK(hb__rm_rf(dir));
    free(obj);
    free(dir);
    puts("PASS test_store_status_same");
    return 0;
}
