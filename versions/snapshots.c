/*
 * versions/snapshots.c - named state snapshots kept in the catalogue: a
 * plugin's state blob under a name the user chose, with the version that
 * wrote it and its state schema (store.h).
 */
#include "store_int.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool hb_store_valid_snapshot_name(const char *name)
{
    if (!name || !*name || strlen(name) > HB_STORE_MAX_SNAPSHOT_NAME)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return false;
    return true;
}

static int check_args(hb_store *s, const char *plugin, const char *name)
{
    if (!hb__store_valid_plugin(plugin))
        return -EINVAL;
    if (!hb_store_valid_snapshot_name(name))
        return hb__store_seterr(s, -EINVAL, "snapshot name '%s' is not 1 to %d characters of "
                                "A-Z a-z 0-9 . _ -", name ? name : "", HB_STORE_MAX_SNAPSHOT_NAME);
    return 0;
}

int hb_store_snapshot_put(hb_store *s, const char *plugin, const char *name, uint64_t version,
                          uint32_t schema, const void *blob, size_t len)
{
    if (!s || (len && !blob) || version > INT64_MAX)
        return -EINVAL;
    int r = check_args(s, plugin, name);
    if (r < 0)
        return r;
    if (len > HB_STORE_MAX_CHECKPOINT)
        return hb__store_seterr(s, HB_ELIMIT, "snapshot %s of %s is %zu bytes, the store's "
                                "limit is %u", name, plugin, len, HB_STORE_MAX_CHECKPOINT);
    hb__store_lock(s);
    r = hb__store_run(s, "storing snapshot",
                      "INSERT OR REPLACE INTO snapshots (plugin, name, version, schema, blob, "
                      "created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                      "ttuubI", plugin, name, version, (uint64_t)schema, blob, len,
                      (int64_t)time(NULL));
    hb__store_unlock(s);
    return r;
}

int hb_store_snapshot_get(hb_store *s, const char *plugin, const char *name,
                          hb_checkpoint_rec *out)
{
    if (!s || !out)
        return -EINVAL;
    int r = check_args(s, plugin, name);
    if (r < 0)
        return r;
    hb__store_lock(s);
    sqlite3_stmt *st = NULL;
    r = hb__store_prepare_bind(s, &st, "SELECT version, schema, blob, created FROM snapshots "
                                       "WHERE plugin=?1 AND name=?2", "tt", plugin, name);
    r = hb__store_state_row(s, r, st, "reading snapshot", out, "no snapshot %s of %s", name,
                            plugin);
    hb__store_unlock(s);
    return r;
}

void hb_store_snapshot_names_free(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

int hb_store_snapshot_list(hb_store *s, const char *plugin, char ***names, size_t *n)
{
    if (!s || !names || !n || !hb__store_valid_plugin(plugin))
        return -EINVAL;
    int r = hb__store_query_texts(s, names, "listing snapshots",
                                  "SELECT name FROM snapshots WHERE plugin=?1 ORDER BY name",
                                  plugin);
    if (r == 0)
        *n = hb__strv_len(*names);
    return r;
}

int hb_store_snapshot_delete(hb_store *s, const char *plugin, const char *name)
{
    if (!s)
        return -EINVAL;
    int r = check_args(s, plugin, name);
    if (r < 0)
        return r;
    hb__store_lock(s);
    r = hb__store_run(s, "deleting snapshot",
                      "DELETE FROM snapshots WHERE plugin=?1 AND name=?2", "tt", plugin, name);
    if (r == 0 && sqlite3_changes(s->db) == 0)
        r = hb__store_seterr(s, -ENOENT, "no snapshot %s of %s", name, plugin);
    hb__store_unlock(s);
    return r;
}
