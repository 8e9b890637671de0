/*
 * versions/history.c - the small questions about a plugin's history, each
 * answered with what it needs and nothing more (no version record with its
 * lists): the newest version of a set of statuses, the (version, status)
 * pairs above a version (hb_pin, which changes exactly those), and one list
 * of one version (hb_version_depends, hb_version_exports).
 */
#include "store_int.h"
#include "argv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

int hb_store_newest_version(hb_store *s, const char *plugin, unsigned statuses, uint64_t below,
                            uint64_t exclude, uint64_t *out)
{
    if (!s || !plugin || !out || exclude > INT64_MAX)
        return -EINVAL;
    if (below > INT64_MAX)
        below = INT64_MAX;
    hb__store_lock(s);
    /* One index search (versions_by_status) per status asked for, each
     * stopping at its newest row: a status IN (...) list would make SQLite
     * sort every matching row of the history to honour the ORDER BY. */
    int64_t best = 0;
    int r = 0;
    for (unsigned st = 0; r == 0 && st <= HB_VERSION_ROLLED_BACK; st++) {
        if (!(statuses & (1u << st)))
            continue;
        sqlite3_stmt *q = NULL;
        r = hb__store_prepare_bind(s, &q,
                "SELECT version FROM versions WHERE plugin=?1 AND status=?2 AND version<?3 "
                "AND version<>?4 ORDER BY version DESC LIMIT 1",
                "tiuu", plugin, (int)st, below, exclude);
        if (r < 0)
            break;
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW && sqlite3_column_int64(q, 0) > best)
            best = sqlite3_column_int64(q, 0);
        else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            r = hb__store_dberr(s, rc, "finding a version by status");
        hb__store_finish(s, q);
    }
    if (r == 0 && !best)
        r = hb__store_seterr(s, -ENOENT, "%s has no version of the statuses asked for below v%" PRIu64,
                             plugin, below);
    if (r == 0)
        *out = (uint64_t)best;
    hb__store_unlock(s);
    return r;
}

int hb_store_statuses(hb_store *s, const char *plugin, uint64_t above, hb_version_stat **out,
                      size_t *n)
{
    if (!s || !plugin || !out || !n || above > INT64_MAX)
        return -EINVAL;
    hb__store_lock(s);
    sqlite3_stmt *st = NULL;
    hb_version_stat *v = NULL;
    size_t len = 0, cap = 0;
    int r = hb__store_prepare_bind(s, &st,
                                   "SELECT version, status FROM versions WHERE plugin=?1 AND "
                                   "version>?2 ORDER BY version",
                                   "tu", plugin, above);
    int rc = SQLITE_DONE;
    while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            hb_version_stat *nv = realloc(v, ncap * sizeof(*nv));
            if (!nv) {
                r = -ENOMEM;
                break;
            }
            v = nv;
            cap = ncap;
        }
        v[len].version = (uint64_t)sqlite3_column_int64(st, 0);
        v[len].status = (hb_version_status)sqlite3_column_int(st, 1);
        len++;
    }
    if (r == 0 && rc != SQLITE_DONE)
        r = hb__store_dberr(s, rc, "reading version statuses");
    if (st)
        hb__store_finish(s, st);
    hb__store_unlock(s);
    if (r < 0) {
        free(v);
        return r;
    }
    *out = v;
    *n = len;
    return 0;
}

/* version, or the newest when 0, if the store has it: 0, -ENOENT. */
static int resolve(hb_store *s, const char *plugin, uint64_t *version)
{
    hb_version_status st;
    return *version ? hb_store_status(s, plugin, *version, &st)
                    : hb_store_newest_version(s, plugin, ~0u, UINT64_MAX, 0, version);
}

int hb_store_version_list(hb_store *s, const char *plugin, uint64_t version, hb_store_list_kind list,
                          char ***out)
{
    int k = list == HB_STORE_LIST_EXPORTS   ? HB__LIST_EXPORTS
            : list == HB_STORE_LIST_DEPENDS ? HB__LIST_DEPENDS
                                            : -1;
    if (!s || !plugin || !out || k < 0 || version > INT64_MAX)
        return -EINVAL;
    hb__store_lock(s);
    hb_argv items = HB_ARGV_INIT;
    sqlite3_stmt *st = NULL;
    int r = resolve(s, plugin, &version);
    if (r == 0)
        r = hb__store_prepare_bind(s, &st,
                                   "SELECT item FROM version_lists WHERE plugin=?1 AND version=?2 "
                                   "AND list=?3 ORDER BY pos",
                                   "tui", plugin, version, k);
    int rc = SQLITE_DONE;
    while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        s->list_items_read++;
        const unsigned char *item = sqlite3_column_text(st, 0);
        hb__argv_push(&items, item ? (const char *)item : "");
    }
    if (r == 0 && rc != SQLITE_DONE)
        r = hb__store_dberr(s, rc, "reading a version's list");
    if (st)
        hb__store_finish(s, st);
    hb__store_unlock(s);
    if (r == 0 && hb__argv_detach(&items, out) < 0)
        r = -ENOMEM;
    hb__argv_release(&items);
    return r;
}
