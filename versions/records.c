/*
 * versions/records.c - catalogue rows: reading version records, the
 * queries (get, latest, by input hash, by object, list, plugins), status
 * changes, upgrade results, and inserting a new version's row.
 */
#include "store_int.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "argv.h"

/* ------------------------------------------------------------------------ */

void hb_version_rec_release(hb_version_rec *r)
{
    if (!r)
        return;
    free(r->plugin);
    HB_STRV_FREE_ALL(r->inputs, r->exports, r->imports, r->needed, r->depends, r->origin);
    memset(r, 0, sizeof(*r));
}

void hb_store_list_free(hb_version_rec *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        hb_version_rec_release(&v[i]);
    free(v);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return strdup(t ? (const char *)t : "");
}

static void col_hex(sqlite3_stmt *st, int i, char out[HB_SHA256_HEX])
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(out, HB_SHA256_HEX, "%s", t ? (const char *)t : "");
}

/* The field of r that holds list k. */
static char ***rec_list(hb_version_rec *r, enum hb__store_list k)
{
    switch (k) {
    case HB__LIST_INPUTS: return &r->inputs;
    case HB__LIST_EXPORTS: return &r->exports;
    case HB__LIST_IMPORTS: return &r->imports;
    case HB__LIST_NEEDED: return &r->needed;
    case HB__LIST_DEPENDS: return &r->depends;
    case HB__LIST_ORIGIN: return &r->origin;
    case HB__NLISTS: break;
    }
    return NULL;
}

/* Fills r's lists from version_lists (each an array, empty when the
 * version has no rows for it); with cache_only, only the inputs and depends
 * lists (what the compile cache hashes: a plugin's exports can number
 * thousands, one per test), the others left NULL. Each list grows through
 * util/argv.h: pushing onto a bare NULL-terminated array measures it again
 * at every row. */
static int read_lists(hb_store *s, hb_version_rec *r, bool cache_only)
{
    hb_argv lists[HB__NLISTS];
    for (int k = 0; k < HB__NLISTS; k++)
        lists[k] = (hb_argv)HB_ARGV_INIT;
    int rc = SQLITE_DONE;
    sqlite3_stmt *st = NULL;
    int res = hb__store_prepare(s,
                                cache_only
                                    ? "SELECT list, item FROM version_lists WHERE plugin=?1 "
                                      "AND version=?2 AND list IN (?3, ?4) ORDER BY list, pos"
                                    : "SELECT list, item FROM version_lists "
                                      "WHERE plugin=?1 AND version=?2 ORDER BY list, pos",
                                &st);
    if (res < 0)
        return res;
    sqlite3_bind_text(st, 1, r->plugin, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)r->version);
    if (cache_only) {
        sqlite3_bind_int(st, 3, HB__LIST_INPUTS);
        sqlite3_bind_int(st, 4, HB__LIST_DEPENDS);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        s->list_items_read++;
        int k = sqlite3_column_int(st, 0);
        const unsigned char *item = sqlite3_column_text(st, 1);
        if (k < 0 || k >= HB__NLISTS || !item)
            continue; /* a list this version of hotbox does not know */
        hb__argv_push(&lists[k], (const char *)item);
    }
    if (rc != SQLITE_DONE)
        res = hb__store_dberr(s, rc, "reading a version's lists");
    hb__store_finish(s, st);
    for (int k = 0; k < HB__NLISTS; k++) {
        bool wanted = !cache_only || k == HB__LIST_INPUTS || k == HB__LIST_DEPENDS;
        if (res == 0 && wanted && hb__argv_detach(&lists[k], rec_list(r, k)) < 0)
            res = -ENOMEM;
        hb__argv_release(&lists[k]);
    }
    return res;
}

uint64_t hb_store_list_items_read(hb_store *s)
{
    hb__store_lock(s);
    uint64_t n = s->list_items_read;
    hb__store_unlock(s);
    return n;
}

/* hb__store_read_rec; with cache_only, of the lists only inputs and
 * depends (read_lists). */
static int read_rec(hb_store *s, sqlite3_stmt *st, hb_version_rec *out, bool cache_only)
{
    hb_version_rec r = {0};
    r.plugin = col_dup(st, 0);
    r.version = (uint64_t)sqlite3_column_int64(st, 1);
    col_hex(st, 2, r.object_sha256);
    col_hex(st, 3, r.input_hash);
    r.size = (uint64_t)sqlite3_column_int64(st, 4);
    r.created = sqlite3_column_int64(st, 5);
    r.status = (hb_version_status)sqlite3_column_int(st, 6);
    r.upgrade_result = sqlite3_column_int(st, 7);
    r.upgrade_base = (uint64_t)sqlite3_column_int64(st, 8);
    int res = r.plugin ? read_lists(s, &r, cache_only) : -ENOMEM;
    if (res < 0) {
        hb_version_rec_release(&r);
        return res;
    }
    *out = r;
    return 0;
}

int hb__store_read_rec(hb_store *s, sqlite3_stmt *st, hb_version_rec *out)
{
    return read_rec(s, st, out, false);
}

/* Steps st, a query of REC_COLUMNS, for one row: 0, -ENOENT when there is
 * no row, or an error. Finishes st (hb__store_finish). */
int hb__store_query_one(hb_store *s, sqlite3_stmt *st, hb_version_rec *out)
{
    int r, rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        r = hb__store_read_rec(s, st, out);
    else if (rc == SQLITE_DONE)
        r = -ENOENT;
    else
        r = hb__store_dberr(s, rc, "query");
    hb__store_finish(s, st);
    return r;
}

bool hb__store_valid_plugin(const char *p)
{
    size_t n = p ? strlen(p) : 0;
    return n > 0 && n <= MAX_PLUGIN_NAME && !strchr(p, '\n');
}

int hb_store_get(hb_store *s, const char *plugin, uint64_t version, hb_version_rec *out)
{
    if (!s || !plugin || !out || version > INT64_MAX)
        return -EINVAL;
    hb__store_lock(s);
    sqlite3_stmt *st = NULL;
    int r = hb__store_prepare_bind(s, &st,
            "SELECT " REC_COLUMNS " FROM versions WHERE plugin=?1 AND version=?2", "tu", plugin,
            version);
    if (r == 0)
        r = hb__store_query_one(s, st, out);
    if (r == -ENOENT)
        hb__store_seterr(s, r, "%s has no version %" PRIu64 " in the store", plugin, version);
    hb__store_unlock(s);
    return r;
}

int hb_store_find_input(hb_store *s, const char *plugin, const char *input_hash,
                        hb_version_rec *out)
{
    if (!s || !plugin || !input_hash || !*input_hash || !out)
        return -EINVAL;
    hb__store_lock(s);
    sqlite3_stmt *st = NULL;
    /* The version's own input hash, or another name of it (input_aliases:
     * a build merged into it as an identical object): the newer of the
     * two, each an index search. */
    int r = hb__store_prepare_bind(s, &st,
            "SELECT " REC_COLUMNS " FROM versions WHERE plugin=?1 AND version = max("
            "coalesce((SELECT version FROM versions WHERE plugin=?1 AND input_hash=?2 "
            "ORDER BY version DESC LIMIT 1), 0),"
            "coalesce((SELECT version FROM input_aliases WHERE plugin=?1 AND input_hash=?2), 0))",
            "tt", plugin, input_hash);
    if (r == 0)
        r = hb__store_query_one(s, st, out);
    hb__store_unlock(s);
    return r;
}

int hb_store_latest(hb_store *s, const char *plugin, hb_version_rec *out)
{
    if (!s || !plugin || !out)
        return -EINVAL;
    hb__store_lock(s);
    sqlite3_stmt *st = NULL;
    int r = hb__store_prepare_bind(s, &st,
            "SELECT " REC_COLUMNS " FROM versions WHERE plugin=?1 ORDER BY version DESC LIMIT 1",
            "t", plugin);
    if (r == 0)
        r = hb__store_query_one(s, st, out);
    if (r == -ENOENT)
        hb__store_seterr(s, r, "%s has no versions in the store", plugin);
    hb__store_unlock(s);
    return r;
}

/* Steps st to its end, calling add for each row (which stops the walk by
 * returning an error); finishes st. 0 or an error naming `what`. */
static int read_rows(hb_store *s, sqlite3_stmt *st, const char *what,
                     int (*add)(hb_store *s, sqlite3_stmt *st, void *ud), void *ud)
{
    int rc, r = 0;
    while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
        r = add(s, st, ud);
    if (r == 0 && rc != SQLITE_DONE)
        r = hb__store_dberr(s, rc, what);
    hb__store_finish(s, st);
    return r;
}

struct rec_list {
    hb_version_rec *v;
    size_t len, cap;
    bool cache_only;
};

static int add_rec(hb_store *s, sqlite3_stmt *st, void *ud)
{
    struct rec_list *l = ud;
    hb_version_rec *nv = hb__grow(l->v, l->len, &l->cap, sizeof(*nv));
    if (!nv)
        return -ENOMEM;
    l->v = nv;
    int r = read_rec(s, st, &l->v[l->len], l->cache_only);
    if (r == 0)
        l->len++;
    return r;
}

/* The rows of sql (REC_COLUMNS; ?N bound from fmt and the arguments, as
 * hb__store_prepare_bind), in its order, as records with their lists (with
 * cache_only, inputs and depends only). */
static int query_recs(hb_store *s, hb_version_rec **out, size_t *n, bool cache_only,
                      const char *what, const char *sql, const char *fmt, ...)
{
    hb__store_lock(s);
    struct rec_list l = {.cache_only = cache_only};
    sqlite3_stmt *st = NULL;
    va_list ap;
    va_start(ap, fmt);
    int r = hb__store_vprepare_bind(s, &st, sql, fmt, ap);
    va_end(ap);
    if (r == 0)
        r = read_rows(s, st, what, add_rec, &l);
    hb__store_unlock(s);
    if (r < 0) {
        hb_store_list_free(l.v, l.len);
        return r;
    }
    *out = l.v;
    *n = l.len;
    return 0;
}

int hb_store_list(hb_store *s, const char *plugin, hb_version_rec **out, size_t *n)
{
    if (!s || !plugin || !out || !n)
        return -EINVAL;
    return query_recs(s, out, n, false, "listing versions",
                      "SELECT " REC_COLUMNS " FROM versions WHERE plugin=?1 ORDER BY version",
                      "t", plugin);
}

int hb_store_input_sets(hb_store *s, const char *plugin, size_t max, hb_version_rec **out,
                        size_t *n)
{
    if (!s || !plugin || !out || !n)
        return -EINVAL;
    *out = NULL;
    *n = 0;
    /* input_sets names each set's newest version (the schema's triggers
     * keep it): the newest `max` of them, through input_sets_newest. */
    return query_recs(s, out, n, true, "listing input sets",
            "SELECT " REC_COLUMNS " FROM versions WHERE plugin=?1 AND version IN "
            "(SELECT version FROM input_sets WHERE plugin=?1 ORDER BY version DESC LIMIT ?2) "
            "ORDER BY version DESC", "tu", plugin, (uint64_t)(max > INT64_MAX ? INT64_MAX : max));
}

int hb_store_newest_of(hb_store *s, const char *plugin, unsigned statuses, uint64_t below,
                       uint64_t exclude, hb_version_rec *out)
{
    if (!s || !out)
        return -EINVAL;
    hb__store_lock(s);
    uint64_t v = 0;
    int r = hb_store_newest_version(s, plugin, statuses, below, exclude, &v);
    if (r == 0)
        r = hb_store_get(s, plugin, v, out);
    hb__store_unlock(s);
    return r;
}

static int add_text(hb_store *s, sqlite3_stmt *st, void *ud)
{
    (void)s;
    const unsigned char *t = sqlite3_column_text(st, 0);
    return hb__strv_push(ud, t ? (const char *)t : "");
}

int hb__store_query_texts(hb_store *s, char ***out, const char *what, const char *sql,
                          const char *key)
{
    char **v = calloc(1, sizeof(char *));
    if (!v)
        return -ENOMEM;
    hb__store_lock(s);
    sqlite3_stmt *st = NULL;
    int r = hb__store_prepare_bind(s, &st, sql, key ? "t" : "", key);
    if (r == 0)
        r = read_rows(s, st, what, add_text, &v);
    hb__store_unlock(s);
    if (r < 0) {
        hb__strv_free(v);
        return r;
    }
    *out = v;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int hb_store_providers(hb_store *s, const char *plugin, char *const *imports, char ***out)
{
    if (!s || !plugin || !out)
        return -EINVAL;
    hb_argv names = HB_ARGV_INIT;
    hb__store_lock(s);
    sqlite3_stmt *st = NULL;
    /* Per import, through version_lists_by_item: the plugins whose rows
     * export it, kept when the row is their newest version's. */
    int r = hb__store_prepare_bind(s, &st,
            "SELECT DISTINCT l.plugin FROM version_lists l WHERE l.list=?1 AND l.item=?2 "
            "AND l.plugin<>?3 AND l.version=(SELECT max(version) FROM versions v "
            "WHERE v.plugin=l.plugin)", "itt", (int)HB__LIST_EXPORTS, "", plugin);
    for (size_t i = 0; r == 0 && imports && imports[i]; i++) {
        sqlite3_bind_text(st, 2, imports[i], -1, SQLITE_STATIC);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(st, 0);
            bool have = !name;
            for (size_t k = 0; !have && k < names.n; k++)
                have = !strcmp(names.v[k], name);
            if (!have)
                hb__argv_push(&names, name);
        }
        if (rc != SQLITE_DONE)
            r = hb__store_dberr(s, rc, "finding the providers of an import");
        sqlite3_reset(st);
    }
    hb__store_finish(s, st);
    hb__store_unlock(s);
    char **v = NULL;
    if (hb__argv_detach(&names, &v) < 0)
        r = r < 0 ? r : -ENOMEM;
    if (r < 0) {
        hb__strv_free(v);
        return r;
    }
    qsort(v, hb__strv_len(v), sizeof(*v), cmp_names);
    *out = v;
    return 0;
}

int hb_store_plugins(hb_store *s, char ***out)
{
    if (!s || !out)
        return -EINVAL;
    /* One index step per plugin (DISTINCT would read every version's
     * entry: providers_of asks on every build). */
    return hb__store_query_texts(s, out, "listing plugins",
            "WITH RECURSIVE p(name) AS (SELECT min(plugin) FROM versions UNION ALL "
            "SELECT (SELECT min(plugin) FROM versions WHERE plugin > p.name) FROM p "
            "WHERE p.name IS NOT NULL) SELECT name FROM p WHERE name IS NOT NULL", NULL);
}

/* ------------------------------------------------------------------------ */
/* Status                                                                    */
/* ------------------------------------------------------------------------ */

/* Public (hotbox.h): a version status belongs to the store. */
HB_ENUM_NAMES(hb_version_status_name, hb_version_status, [HB_VERSION_CANDIDATE] = "candidate",
              [HB_VERSION_ACTIVE] = "active", [HB_VERSION_GOOD] = "good",
              [HB_VERSION_BAD] = "bad", [HB_VERSION_ROLLED_BACK] = "rolled-back")

bool hb_store_status_transition_ok(hb_version_status from, hb_version_status to)
{
    if (from == to)
        return true;
    switch (to) {
    case HB_VERSION_ACTIVE:
    case HB_VERSION_BAD:
        return true;
    case HB_VERSION_GOOD:
        return from == HB_VERSION_ACTIVE || from == HB_VERSION_ROLLED_BACK;
    case HB_VERSION_ROLLED_BACK: /* a candidate can be skipped by a pin */
        return from == HB_VERSION_ACTIVE || from == HB_VERSION_GOOD ||
               from == HB_VERSION_CANDIDATE;
    case HB_VERSION_CANDIDATE:
        return from == HB_VERSION_BAD;
    }
    return false;
}

/* A version's status: one column, not the record with its lists. */
static int status_of(hb_store *s, const char *plugin, uint64_t version, hb_version_status *out)
{
    sqlite3_stmt *st = NULL;
    int r = hb__store_prepare_bind(s, &st, "SELECT status FROM versions WHERE plugin=?1 AND "
                                   "version=?2", "tu", plugin, version);
    if (r < 0)
        return r;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = (hb_version_status)sqlite3_column_int(st, 0);
    else if (rc == SQLITE_DONE)
        r = hb__store_seterr(s, -ENOENT, "%s has no version %" PRIu64 " in the store", plugin,
                             version);
    else
        r = hb__store_dberr(s, rc, "reading a version's status");
    hb__store_finish(s, st);
    return r;
}

int hb_store_status(hb_store *s, const char *plugin, uint64_t version, hb_version_status *out)
{
    if (!s || !plugin || !out || version > INT64_MAX)
        return -EINVAL;
    hb__store_lock(s);
    int r = status_of(s, plugin, version, out);
    hb__store_unlock(s);
    return r;
}

static int set_status_locked(hb_store *s, const char *plugin, uint64_t version,
                             hb_version_status status)
{
    int r = hb__store_exec(s, "BEGIN IMMEDIATE", "begin");
    if (r < 0)
        return r;
    hb_version_status from = HB_VERSION_CANDIDATE;
    r = status_of(s, plugin, version, &from);
    if (r < 0)
        goto out;
    if (from == status)
        goto out; /* nothing changes: no WAL frame, nothing for the next flush to sync */
    if (!hb_store_status_transition_ok(from, status)) {
        r = hb__store_seterr(s, -EINVAL, "%s v%" PRIu64 ": status cannot change from %s to %s",
                             plugin,
                             version, hb_version_status_name(from), hb_version_status_name(status));
        goto out;
    }
    int synced = s->synced_changes == sqlite3_total_changes(s->db);
    r = hb__store_run(s, "updating status",
                      "UPDATE versions SET status=?3 WHERE plugin=?1 AND version=?2", "tui", plugin,
                      version, (int)status);
    r = hb__store_end_tx(s, r, "commit status");
    /* A good or candidate version becoming active says only that a sandbox
     * runs it now, which a power loss ends anyway (the row then keeps the
     * status it had, as recorded before). When it is the only change since
     * the last flush, the next flush has nothing to sync: a load of a
     * cached version waits for no fdatasync. Verdicts (bad, good, rolled
     * back) are synced as before. */
    if (r == 0 && synced && status == HB_VERSION_ACTIVE &&
        (from == HB_VERSION_GOOD || from == HB_VERSION_CANDIDATE))
        s->synced_changes = sqlite3_total_changes(s->db);
    return r;
out:
    return hb__store_end_tx(s, r, "commit status");
}

int hb_store_set_status(hb_store *s, const char *plugin, uint64_t version,
                        hb_version_status status)
{
    if (!s || !plugin || version > INT64_MAX || (unsigned)status > HB_VERSION_ROLLED_BACK)
        return -EINVAL;
    hb__store_lock(s);
    int r = set_status_locked(s, plugin, version, status);
    hb__store_unlock(s);
    return r;
}

int hb_store_set_upgrade_result(hb_store *s, const char *plugin, uint64_t version,
                                uint64_t base, int result)
{
    if (!s || !plugin || version > INT64_MAX || base > INT64_MAX || result < 0 || result > 2)
        return -EINVAL;
    hb__store_lock(s);
    int r = hb__store_run(s, "recording an upgrade test result",
                          "UPDATE versions SET upgrade_result=?3, upgrade_base=?4 "
                          "WHERE plugin=?1 AND version=?2",
                          "tuiu", plugin, version, result, base);
    if (r == 0 && sqlite3_changes(s->db) == 0)
        r = hb__store_seterr(s, -ENOENT, "%s has no version %" PRIu64 " in the store", plugin,
                             version);
    hb__store_unlock(s);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Objects                                                                   */
/* ------------------------------------------------------------------------ */

/* Copies src into a fresh temp file in objects/ while hashing it; the temp
 * file is fsynced and closed. On failure nothing is left behind. */
int hb__store_find_by_object(hb_store *s, const char *plugin, const char *sha, hb_version_rec *out)
{
    sqlite3_stmt *st = NULL;
    int r = hb__store_prepare_bind(s, &st,
            "SELECT " REC_COLUMNS " FROM versions WHERE plugin=?1 AND object_sha256=?2 "
            "ORDER BY version DESC LIMIT 1", "tt", plugin, sha);
    return r < 0 ? r : hb__store_query_one(s, st, out);
}

int hb__store_next_version(hb_store *s, const char *plugin, uint64_t *out)
{
    int64_t last = 0;
    /* max() of both, so a counter row lost to an old bug or hand-editing can
     * never make a number be reused. */
    int r = hb__store_query_int(s, &last, "reading version counter",
            "SELECT max(coalesce((SELECT last_version FROM counters WHERE plugin=?1),0),"
            "           coalesce((SELECT max(version) FROM versions WHERE plugin=?1),0))",
            plugin);
    if (r < 0)
        return r;
    *out = (uint64_t)last + 1;
    return 0;
}

/* Inserts the rows of r's lists (meta's: NULL lists are empty). */
static int insert_lists(hb_store *s, const char *plugin, uint64_t version,
                        const hb_version_rec *meta)
{
    if (!meta)
        return 0;
    sqlite3_stmt *st = NULL;
    int r = hb__store_prepare(s,
                              "INSERT INTO version_lists (" LIST_COLUMNS ") "
                              "VALUES (?1, ?2, ?3, ?4, ?5)",
                              &st);
    if (r < 0)
        return r;
    for (int k = 0; k < HB__NLISTS && r == 0; k++) {
        char **v = *rec_list((hb_version_rec *)meta, k);
        for (size_t i = 0; v && v[i] && r == 0; i++) {
            sqlite3_bind_text(st, 1, plugin, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 2, (sqlite3_int64)version);
            sqlite3_bind_int(st, 3, k);
            sqlite3_bind_int64(st, 4, (sqlite3_int64)i);
            sqlite3_bind_text(st, 5, v[i], -1, SQLITE_TRANSIENT);
            int rc = sqlite3_step(st);
            if (rc != SQLITE_DONE)
                r = hb__store_dberr(s, rc, "inserting a version's lists");
            sqlite3_reset(st);
        }
    }
    hb__store_finish(s, st);
    return r;
}

int hb__store_insert_row(hb_store *s, const char *plugin, uint64_t version, const char *sha,
                      uint64_t size, int64_t created, const hb_version_rec *meta)
{
    char set[HB_SHA256_HEX];
    hb__store_input_set_key(meta ? meta->inputs : NULL, meta ? meta->depends : NULL, set);
    int r = hb__store_run(s, "inserting version",
                          "INSERT INTO versions (" INSERT_COLUMNS ", input_set) VALUES "
                          "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                          "tuttuIit", plugin, version, sha, meta ? meta->input_hash : "", size,
                          created, (int)HB_VERSION_CANDIDATE, set);
    if (r == 0)
        r = insert_lists(s, plugin, version, meta);
    if (r == 0)
        r = hb__store_run(s, "updating version counter",
                          "INSERT INTO counters (plugin, last_version) VALUES (?1, ?2) "
                          "ON CONFLICT(plugin) DO UPDATE SET last_version=excluded.last_version",
                          "tu", plugin, version);
    return r;
}


int hb__store_add_alias(hb_store *s, const hb_version_rec *to, const hb_version_rec *meta)
{
    if (!meta || !meta->input_hash[0] || !strcmp(meta->input_hash, to->input_hash))
        return 0;
    int r = hb__store_run(s, "naming a version by another input hash",
                          "INSERT INTO input_aliases (plugin, input_hash, version) "
                          "VALUES (?1, ?2, ?3) ON CONFLICT (plugin, input_hash) "
                          "DO UPDATE SET version = excluded.version",
                          "ttu", to->plugin, meta->input_hash, to->version);
    return r < 0 ? r : 1;
}

const char *hb_version_rec_prebuilt_from(const hb_version_rec *r)
{
    if (!r || !r->origin || !r->origin[0] || strcmp(r->origin[0], HB_ORIGIN_PREBUILT) != 0)
        return NULL;
    return r->origin[1];
}
