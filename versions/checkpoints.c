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

int hb_store_checkpoint_put(hb_store *s, const char *plugin, const char *sandbox,
                            uint64_t version, uint32_t schema, const void *blob, size_t len)
{
    if (!s || !hb__store_valid_plugin(plugin) || !sandbox || (len && !blob) || version > INT64_MAX)
        return -EINVAL;
    if (len > HB_STORE_MAX_CHECKPOINT)
        return hb__store_seterr(s, HB_ELIMIT,
                                "checkpoint of %s is %zu bytes, the store's limit is %u",
                                plugin, len, HB_STORE_MAX_CHECKPOINT);
    hb__store_lock(s);
    /* seq orders checkpoints taken within the same second. */
    int r = hb__store_run(s, "storing checkpoint",
                          "INSERT OR REPLACE INTO checkpoints "
                          "(plugin, sandbox, schema, version, blob, created, seq) VALUES "
                          "(?1, ?2, ?3, ?4, ?5, ?6, "
                          " (SELECT coalesce(max(seq), 0) + 1 FROM checkpoints))",
                          "ttuubI", plugin, sandbox, (uint64_t)schema, version, blob, len,
                          (int64_t)time(NULL));
    hb__store_unlock(s);
    return r;
}

int hb__store_state_row(hb_store *s, int r, sqlite3_stmt *st, const char *what,
                        hb_checkpoint_rec *out, const char *missing_fmt, ...)
{
    if (r < 0)
        return r;
    int rc = sqlite3_step(st);
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
    } else if (rc == SQLITE_DONE) {
        char msg[512];
        va_list ap;
        va_start(ap, missing_fmt);
        vsnprintf(msg, sizeof(msg), missing_fmt, ap);
        va_end(ap);
        r = hb__store_seterr(s, -ENOENT, "%s", msg);
    } else {
        r = hb__store_dberr(s, rc, what);
    }
    hb__store_finish(s, st);
    return r;
}

int hb_store_checkpoint_get(hb_store *s, const char *plugin, const char *sandbox,
                            int64_t schema, hb_checkpoint_rec *out)
{
    if (!s || !plugin || !sandbox || !out)
        return -EINVAL;
    hb__store_lock(s);
    sqlite3_stmt *st = NULL;
    int r = hb__store_prepare_bind(s, &st,
                                   "SELECT version, schema, blob, created FROM checkpoints "
                                   "WHERE plugin=?1 AND sandbox=?2 AND (?3 < 0 OR schema=?3) "
                                   "ORDER BY seq DESC LIMIT 1",
                                   "ttI", plugin, sandbox, schema);
    r = hb__store_state_row(s, r, st, "reading checkpoint", out,
                            "no checkpoint of %s in sandbox %s", plugin, sandbox);
    hb__store_unlock(s);
    return r;
}

int hb_store_checkpoint_drop(hb_store *s, const char *plugin, const char *sandbox)
{
    if (!s || !plugin || !sandbox)
        return -EINVAL;
    hb__store_lock(s);
    int r = hb__store_run(s, "dropping checkpoints",
                          "DELETE FROM checkpoints WHERE plugin=?1 AND sandbox=?2", "tt", plugin,
                          sandbox);
    hb__store_unlock(s);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Recovery                                                                  */
