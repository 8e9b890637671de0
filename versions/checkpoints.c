/*
 * versions/checkpoints.c - state checkpoints kept in the catalogue, the
 * newest per (plugin, sandbox, state schema).
 */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void hb_checkpoint_rec_release(hb_checkpoint_rec *c)
{
    if (!c)
        return;
    free(c->blob);
    memset(c, 0, sizeof(*c));
}

static int checkpoint_put_locked(hb_store *s, const char *plugin, const char *sandbox,
                                 uint64_t version, uint32_t schema, const void *blob, size_t len)
{
    if (!s || !hb__store_valid_plugin(plugin) || !sandbox || (len && !blob) || version > INT64_MAX)
        return -EINVAL;
    if (len > HB_STORE_MAX_CHECKPOINT)
        return hb__store_seterr(s, HB_ELIMIT,
                                "checkpoint of %s is %zu bytes, the store's limit is %u",
                                plugin, len, HB_STORE_MAX_CHECKPOINT);
    sqlite3_stmt *st = NULL;
    /* seq orders checkpoints taken within the same second. */
    int r = hb__store_prepare(s,
                              "INSERT OR REPLACE INTO checkpoints "
                              "(plugin, sandbox, schema, version, blob, created, seq) VALUES "
                              "(?1, ?2, ?3, ?4, ?5, ?6, "
                              " (SELECT coalesce(max(seq), 0) + 1 FROM checkpoints))",
                              &st);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, plugin, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, sandbox, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, schema);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)version);
    sqlite3_bind_blob64(st, 5, len ? blob : "", len, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL));
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : hb__store_dberr(s, rc, "storing checkpoint");
}

int hb_store_checkpoint_put(hb_store *s, const char *plugin, const char *sandbox,
                            uint64_t version, uint32_t schema, const void *blob, size_t len)
{
    if (!s)
        return -EINVAL;
    hb__store_lock(s);
    int r = checkpoint_put_locked(s, plugin, sandbox, version, schema, blob, len);
    hb__store_unlock(s);
    return r;
}

int hb__store_state_row(hb_store *s, sqlite3_stmt *st, const char *what, hb_checkpoint_rec *out)
{
    int r = 0, rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        size_t len = (size_t)sqlite3_column_bytes(st, 2);
        const void *b = sqlite3_column_blob(st, 2);
        void *copy = malloc(len ? len : 1);
        if (!copy) {
            r = -ENOMEM;
        } else {
            if (len)
                memcpy(copy, b, len);
            out->version = (uint64_t)sqlite3_column_int64(st, 0);
            out->schema = (uint32_t)sqlite3_column_int64(st, 1);
            out->blob = copy;
            out->len = len;
            out->created = sqlite3_column_int64(st, 3);
        }
    } else {
        r = rc == SQLITE_DONE ? 1 : hb__store_dberr(s, rc, what);
    }
    sqlite3_finalize(st);
    return r;
}

static int checkpoint_get_locked(hb_store *s, const char *plugin, const char *sandbox,
                                 int64_t schema, hb_checkpoint_rec *out)
{
    if (!s || !plugin || !sandbox || !out)
        return -EINVAL;
    sqlite3_stmt *st = NULL;
    int r = hb__store_prepare(s,
                              "SELECT version, schema, blob, created FROM checkpoints "
                              "WHERE plugin=?1 AND sandbox=?2 AND (?3 < 0 OR schema=?3) "
                              "ORDER BY seq DESC LIMIT 1",
                              &st);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, plugin, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, sandbox, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, schema);
    r = hb__store_state_row(s, st, "reading checkpoint", out);
    if (r == 1)
        r = hb__store_seterr(s, -ENOENT, "no checkpoint of %s in sandbox %s", plugin, sandbox);
    return r;
}

int hb_store_checkpoint_get(hb_store *s, const char *plugin, const char *sandbox,
                            int64_t schema, hb_checkpoint_rec *out)
{
    if (!s)
        return -EINVAL;
    hb__store_lock(s);
    int r = checkpoint_get_locked(s, plugin, sandbox, schema, out);
    hb__store_unlock(s);
    return r;
}

static int checkpoint_drop_locked(hb_store *s, const char *plugin, const char *sandbox)
{
    if (!s || !plugin || !sandbox)
        return -EINVAL;
    sqlite3_stmt *st = NULL;
    int r = hb__store_prepare(s, "DELETE FROM checkpoints WHERE plugin=?1 AND sandbox=?2", &st);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, plugin, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, sandbox, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : hb__store_dberr(s, rc, "dropping checkpoints");
}

int hb_store_checkpoint_drop(hb_store *s, const char *plugin, const char *sandbox)
{
    if (!s)
        return -EINVAL;
    hb__store_lock(s);
    int r = checkpoint_drop_locked(s, plugin, sandbox);
    hb__store_unlock(s);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Recovery                                                                  */
