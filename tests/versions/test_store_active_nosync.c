/* tests/versions/test_store_active_nosync.c - a good or candidate version
 * becoming active (a load) needs no sync of its own: when it is the only
 * change since the last hb_store_flush, that flush syncs nothing (issue 14:
 * every `hotbox test` load of a cached version waited for an fdatasync of
 * the WAL). With fsync and fdatasync refused by a seccomp filter (EPERM),
 * such a flush still succeeds; a verdict (good, bad) or an active change
 * after another unsynced change still makes the flush sync (and fail here),
 * and every change is in the catalogue. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "refuse_sync.h"
#include "store.h"
#include "vtest.h"

static hb_store *s;
static char *state;

static uint64_t add(const char *text)
{
    static int n;
    char name[16];
    snprintf(name, sizeof(name), "obj%d", n++);
    return vt_store_add(s, state, name, "p", text, NULL);
}

static hb_version_status status_of(uint64_t v)
{
    hb_version_status st;
    HB_CHECK_OK(hb_store_status(s, "p", v, &st));
    return st;
}

static void flush_fails(void)
{
    char *err = NULL;
    HB_CHECK(hb_store_flush(s, &err) < 0);
    HB_CHECK_CONTAINS(err, "hotbox.db-wal");
    free(err);
}

int main(void)
{
    state = vt_tmpdir("hb-active-");
    char *err = NULL;
    s = vt_store_open(state);
    uint64_t v1 = add("object p 1"), v2 = add("object p 2");
    HB_CHECK_OK(hb_store_set_status(s, "p", v1, HB_VERSION_ACTIVE));
    HB_CHECK_OK(hb_store_set_status(s, "p", v1, HB_VERSION_GOOD));
    HB_CHECK_OK(hb_store_flush(s, &err));
    if (hbt_refuse_sync() < 0) {
        printf("SKIP: cannot install a seccomp filter here\n");
        hb_store_close(s);
        hb__rm_rf(state);
        return 77;
    }
    HB_CHECK_EQ(fsync(1), -1); /* the filter works: syncs fail */
    HB_CHECK_EQ(errno, EPERM);

    /* good -> active, candidate -> active: nothing to sync. */
    HB_CHECK_OK(hb_store_set_status(s, "p", v1, HB_VERSION_ACTIVE));
    HB_CHECK_OK(hb_store_set_status(s, "p", v2, HB_VERSION_ACTIVE));
    HB_CHECK_OK(hb_store_flush(s, &err));
    HB_CHECK_EQ(status_of(v1), HB_VERSION_ACTIVE);
    HB_CHECK_EQ(status_of(v2), HB_VERSION_ACTIVE);

    /* A verdict is synced. */
    HB_CHECK_OK(hb_store_set_status(s, "p", v2, HB_VERSION_GOOD));
    flush_fails();
    HB_CHECK_EQ(status_of(v2), HB_VERSION_GOOD);

    /* Active after an unsynced verdict: the flush still syncs that. */
    HB_CHECK_OK(hb_store_set_status(s, "p", v1, HB_VERSION_BAD));
    HB_CHECK_OK(hb_store_set_status(s, "p", v2, HB_VERSION_ACTIVE));
    flush_fails();
    HB_CHECK_EQ(status_of(v1), HB_VERSION_BAD);

    /* bad -> active is a verdict overruled: synced. */
    hb_store_close(s); /* its flush fails too; the commits are in the WAL */
    s = vt_store_open(state);
    HB_CHECK_EQ(status_of(v1), HB_VERSION_BAD);
    HB_CHECK_EQ(status_of(v2), HB_VERSION_ACTIVE);
    HB_CHECK_OK(hb_store_set_status(s, "p", v1, HB_VERSION_ACTIVE));
    flush_fails();
    hb_store_close(s);
    HB_CHECK_OK(hb__rm_rf(state));
    free(state);
    puts("PASS test_store_active_nosync");
    return 0;
}
