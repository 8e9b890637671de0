/* tests/versions/vstore.h - helpers of the store tests that open a store,
 * reach under it with raw SQL (old schemas), and run each case in a
 * temporary directory of its own. */
#ifndef HB_VSTORE_H
#define HB_VSTORE_H

#include <sqlite3.h>

#include "store.h"
#include "vtest.h"

/* The case's temporary directory (vs_in_tmpdir). */
static char *vs_dir;

/* Runs fn in a new temporary directory vs_dir (named after prefix),
 * removed afterwards. */
static inline void vs_in_tmpdir(const char *prefix, void (*fn)(void))
{
    vs_dir = vt_tmpdir(prefix);
    fn();
    hb__rm_rf(vs_dir);
    free(vs_dir);
}

static inline hb_store *vs_open(const char *state)
{
    hb_store *s = NULL;
    char *err = NULL;
    if (hb_store_open(state, &s, &err) != 0)
        HB_FAIL_("open %s: %s", state, err ? err : "?");
    return s;
}

/* The catalogue of state opened with SQLite itself. */
static inline sqlite3 *vs_raw_open(const char *state)
{
    char *db = vt_path(state, "hotbox.db");
    sqlite3 *raw;
    HB_CHECK_EQ(sqlite3_open(db, &raw), SQLITE_OK);
    free(db);
    return raw;
}

/* Runs sql on the catalogue of state, behind the store's back. */
static inline void vs_raw_exec(const char *state, const char *sql)
{
    sqlite3 *raw = vs_raw_open(state);
    char *msg = NULL;
    if (sqlite3_exec(raw, sql, NULL, NULL, &msg) != SQLITE_OK)
        HB_FAIL_("%s: %s", sql, msg ? msg : "?");
    sqlite3_close(raw);
}

/* Column 0 of the first row of sql on the catalogue of state. */
static inline int64_t vs_raw_int(const char *state, const char *sql)
{
    sqlite3 *raw = vs_raw_open(state);
    sqlite3_stmt *st;
    HB_CHECK_EQ(sqlite3_prepare_v2(raw, sql, -1, &st, NULL), SQLITE_OK);
    HB_CHECK_EQ(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(raw);
    return v;
}

/* Closes s and takes its catalogue back to an older schema with sql (raw
 * SQL, behind the store's back), which must leave PRAGMA user_version at
 * version. The next open migrates it. */
static inline void vs_downgrade(hb_store *s, const char *state, const char *sql, int version)
{
    hb_store_close(s);
    vs_raw_exec(state, sql);
    HB_CHECK_EQ(vs_raw_int(state, "PRAGMA user_version"), version);
}

#endif
