/*
 * versions/input_sets.c - the key of a version's input set (the files its
 * compile read and the plugins it linked against), and filling the keys of
 * rows stored before the catalogue had them. The compile cache asks for the
 * distinct sets, newest first (hb_store_input_sets, records.c); triggers in
 * the schema (catalog.c, migration 4 -> 5) keep the input_sets table, one
 * row per (plugin, set) naming its newest version, so that question costs
 * a few index steps however long the plugin's history is.
 */
#include "store_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void add_list(hb_sha256 *h, char *const *v)
{
    uint64_t n = hb__strv_len(v);
    hb__sha256_update(h, &n, sizeof(n));
    for (size_t i = 0; v && v[i]; i++)
        hb__sha256_update_framed(h, v[i], strlen(v[i]));
}

void hb__store_input_set_key(char *const *inputs, char *const *depends,
                             char out[HB_SHA256_HEX])
{
    out[0] = '\0';
    if (!inputs || !inputs[0])
        return;
    hb_sha256 *h = hb__sha256_new();
    if (!h)
        return; /* out of memory: no key, so the row is no cache candidate */
    add_list(h, inputs);
    add_list(h, depends);
    hb__sha256_final(h, out);
}

/* The version whose lists are being gathered by fill(). */
struct pending {
    char *plugin;
    uint64_t version;
    char **lists[2]; /* inputs, depends */
};

static void pending_reset(struct pending *p)
{
    free(p->plugin);
    hb__strv_free(p->lists[0]);
    hb__strv_free(p->lists[1]);
    memset(p, 0, sizeof(*p));
}

/* Writes p's key to its row (when it has inputs and no key yet). */
static int pending_store(hb_store *s, struct pending *p)
{
    if (!p->plugin)
        return 0;
    char key[HB_SHA256_HEX];
    hb__store_input_set_key(p->lists[0], p->lists[1], key);
    if (!key[0])
        return 0;
    return hb__store_run(s, "filling input set keys",
                         "UPDATE versions SET input_set=?3 "
                         "WHERE plugin=?1 AND version=?2 AND input_set=''",
                         "tut", p->plugin, p->version, key);
}

int hb__store_input_sets_fill(hb_store *s)
{
    sqlite3_stmt *st = NULL;
    /* In primary-key order, so each version's rows come together. */
    int r = hb__store_prepare_bind(s, &st,
            "SELECT l.plugin, l.version, l.list, l.item FROM version_lists l "
            "JOIN versions v ON v.plugin = l.plugin AND v.version = l.version "
            "WHERE v.input_set = '' AND l.list IN (?1, ?2) "
            "ORDER BY l.plugin, l.version, l.list, l.pos",
            "ii", (int)HB__LIST_INPUTS, (int)HB__LIST_DEPENDS);
    if (r < 0)
        return r;
    struct pending p = {0};
    int rc;
    while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *plugin = (const char *)sqlite3_column_text(st, 0);
        uint64_t version = (uint64_t)sqlite3_column_int64(st, 1);
        int list = sqlite3_column_int(st, 2);
        const char *item = (const char *)sqlite3_column_text(st, 3);
        if (!plugin || !item)
            continue;
        if (!p.plugin || p.version != version || strcmp(p.plugin, plugin) != 0) {
            r = pending_store(s, &p);
            pending_reset(&p);
            if (r == 0 && !(p.plugin = strdup(plugin)))
                r = -ENOMEM;
            p.version = version;
        }
        if (r == 0)
            r = hb__strv_push(&p.lists[list == HB__LIST_DEPENDS], item);
    }
    if (r == 0 && rc != SQLITE_DONE)
        r = hb__store_dberr(s, rc, "reading version lists for input set keys");
    hb__store_finish(s, st);
    if (r == 0)
        r = pending_store(s, &p);
    pending_reset(&p);
    if (r == -ENOMEM)
        hb__store_seterr(s, r, "out of memory while filling input set keys");
    return r;
}
