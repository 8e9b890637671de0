/*
 * versions/gc.c - garbage collection: old versions' rows, then the object
 * and temporary files no row references.
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

static bool is_protected(const hb_store_ref *protect, size_t n, const char *plugin, uint64_t v)
{
    for (size_t i = 0; i < n; i++)
        if (protect[i].plugin && protect[i].version == v && !strcmp(protect[i].plugin, plugin))
            return true;
    return false;
}

static int delete_row(hb_store *s, const char *plugin, uint64_t version)
{
    return hb__store_run(s, "deleting version", "DELETE FROM versions WHERE plugin=?1 AND version=?2",
                         "tu", plugin, version);
}

/* Decides and deletes the rows of one plugin (inside the gc transaction). */
static int gc_plugin(hb_store *s, const char *plugin, unsigned keep_n,
                     const hb_store_ref *protect, size_t nprotect, size_t *removed)
{
    hb_version_rec *v = NULL;
    size_t n = 0;
    int r = hb_store_list(s, plugin, &v, &n);
    if (r < 0)
        return r;
    size_t newest_good = SIZE_MAX;
    for (size_t i = 0; i < n; i++)
        if (v[i].status == HB_VERSION_GOOD)
            newest_good = i;
    for (size_t i = 0; i < n && r == 0; i++) {
        bool keep = i + keep_n >= n /* among the newest keep_n */
                    || i == newest_good || v[i].status == HB_VERSION_ACTIVE
                    || is_protected(protect, nprotect, plugin, v[i].version);
        if (keep)
            continue;
        r = delete_row(s, plugin, v[i].version);
        if (r == 0)
            (*removed)++;
    }
    hb_store_list_free(v, n);
    return r;
}

struct gc_ctx {
    time_t tmp_cutoff;
    unsigned failures;
};

static void gc_entry(hb_store *s, const char *name, const struct stat *st, bool referenced,
                     void *ud)
{
    struct gc_ctx *c = ud;
    bool obj = hb__store_is_object_name(name);
    bool tmp = !strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX));
    /* Unreferenced objects go at once: the sweep holds the write lock, and
     * inserts install their object and commit its row under that lock, so no
     * insert can be between the two. Temp files are written before the lock
     * is taken, so only old ones are surely abandoned. */
    if (obj ? referenced : (!tmp || st->st_mtime > c->tmp_cutoff))
        return;
    char *p = hb__path_join(s->objects_dir, name);
    if (!p || (unlink(p) < 0 && errno != ENOENT))
        c->failures++;
    free(p);
}

static int gc_locked(hb_store *s, unsigned keep_n, const hb_store_ref *protect, size_t nprotect,
                     size_t *removed, char **err)
{
    if (!s || (nprotect && !protect))
        return -EINVAL;
    size_t count = 0;
    char **plugins = NULL;
    int r = hb__store_exec(s, "BEGIN IMMEDIATE", "begin gc");
    if (r < 0)
        return hb__store_report(s, r, err);
    r = hb_store_plugins(s, &plugins);
    if (r < 0)
        goto rollback;
    for (size_t i = 0; plugins[i]; i++) {
        r = gc_plugin(s, plugins[i], keep_n, protect, nprotect, &count);
        if (r < 0)
            goto rollback;
    }
    hb__strv_free(plugins);
    plugins = NULL;
    r = hb__store_exec(s, "COMMIT", "commit gc");
    if (r < 0)
        goto rollback;
    /* Rows are gone for good; now the files nobody references, under the
     * write lock (see gc_entry). A crash here leaves orphans, which verify
     * reports as warnings and the next gc removes. */
    r = hb__store_exec(s, "BEGIN IMMEDIATE", "lock for gc sweep");
    if (r < 0)
        return hb__store_report(s, r, err);
    struct gc_ctx c = {time(NULL) - HB_STORE_GC_GRACE_S, 0};
    r = hb__store_scan_objects(s, gc_entry, &c);
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    if (r < 0)
        return hb__store_report(s, r, err);
    if (c.failures)
        hb__store_seterr(s, 0, "gc could not remove %u file(s) from %s", c.failures,
                         s->objects_dir);
    if (removed)
        *removed = count;
    return 0;
rollback:
    hb__strv_free(plugins);
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return hb__store_report(s, r, err);
}

int hb_store_gc(hb_store *s, unsigned keep_n, const hb_store_ref *protect, size_t nprotect,
                size_t *removed, char **err)
{
    if (!s)
        return -EINVAL;
    hb__store_lock(s);
    int r = gc_locked(s, keep_n, protect, nprotect, removed, err);
    hb__store_unlock(s);
    return r;
}
