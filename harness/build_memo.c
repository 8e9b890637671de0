/* harness/build_memo.c - the version each plugin directory's last hb_build
 * gave, kept by the manager so that the load that follows (hotbox test
 * builds every plugin, then loads each) does not look the build cache up
 * again: that lookup reads the plugin's input sets and then its whole
 * record, thousands of rows for a plugin with thousands of tests.
 *
 * A remembered version is handed out only while the cache would give it:
 * it is still stored (its status is read again: it may have been marked bad
 * or collected since), and the files it was built from still hash to its
 * input hash (hb__build_input_hash, the cache's own check; file contents
 * come from the hash cache, so unchanged files cost a stat and a save since
 * the build shows as a new identity and is hashed). The caller checks its
 * providers and its object as for any cache hit. See harness.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "argv.h"
#include "harness.h"

typedef struct memo_entry {
    char *dir;
    hb_version_rec rec;
    uint64_t used; /* the put that wrote it: the oldest is replaced when full */
} memo_entry;

struct hb__build_memo {
    memo_entry v[HB__BUILD_MEMO_MAX];
    size_t n;
    uint64_t clock;
};

static char **copy_list(char *const *v)
{
    if (!v)
        return NULL;
    hb_argv a = HB_ARGV_INIT;
    hb__argv_push_all(&a, v);
    char **out = NULL;
    return hb__argv_detach(&a, &out) == 0 ? out : NULL;
}

/* A deep copy of r; false when out of memory (out released). */
static bool rec_copy(hb_version_rec *out, const hb_version_rec *r)
{
    *out = *r;
    out->plugin = strdup(r->plugin ? r->plugin : "");
    char *const *src[] = {r->inputs, r->exports, r->imports, r->needed, r->depends, r->origin};
    char ***dst[] = {&out->inputs, &out->exports, &out->imports, &out->needed, &out->depends,
                     &out->origin};
    bool ok = out->plugin != NULL;
    for (size_t i = 0; i < HB_ARRAY_SIZE(src); i++) {
        *dst[i] = ok ? copy_list(src[i]) : NULL;
        ok = ok && (!src[i] || *dst[i]);
    }
    if (!ok)
        hb_version_rec_release(out);
    return ok;
}

static void entry_release(memo_entry *e)
{
    free(e->dir);
    hb_version_rec_release(&e->rec);
    memset(e, 0, sizeof(*e));
}

void hb__build_memo_put(hb_manager *m, const char *dir, const hb_version_rec *rec)
{
    memo_entry e = {0};
    if (!rec->inputs || !rec->inputs[0])
        return; /* no input set: nothing the check could compare */
    if (!(e.dir = strdup(dir)) || !rec_copy(&e.rec, rec)) {
        free(e.dir);
        return; /* out of memory: the load looks the cache up */
    }
    pthread_mutex_lock(&m->lock);
    struct hb__build_memo *b = m->build_memo;
    if (!b && (b = calloc(1, sizeof(*b))))
        m->build_memo = b;
    if (b) {
        size_t slot = b->n;
        for (size_t i = 0; i < b->n; i++) {
            if (!strcmp(b->v[i].dir, dir)) {
                slot = i;
                break;
            }
            if (b->n == HB__BUILD_MEMO_MAX && (slot == b->n || b->v[i].used < b->v[slot].used))
                slot = i;
        }
        if (slot == b->n)
            b->n++;
        entry_release(&b->v[slot]);
        e.used = ++b->clock;
        b->v[slot] = e;
        memset(&e, 0, sizeof(e));
    }
    pthread_mutex_unlock(&m->lock);
    entry_release(&e);
}

int hb__build_memo_get(hb_manager *m, const char *dir, const char *plugin, hb_version_rec *out)
{
    hb_version_rec rec;
    bool found = false;
    pthread_mutex_lock(&m->lock);
    struct hb__build_memo *b = m->build_memo;
    for (size_t i = 0; b && i < b->n && !found; i++)
        if (!strcmp(b->v[i].dir, dir) && !strcmp(b->v[i].rec.plugin, plugin))
            found = rec_copy(&rec, &b->v[i].rec);
    pthread_mutex_unlock(&m->lock);
    if (!found)
        return -ENOENT;
    char hash[HB_SHA256_HEX];
    hb_version_status st;
    if (hb_store_status(m->store, plugin, rec.version, &st) < 0 ||
        hb__build_input_hash(m, dir, plugin, &rec, hash) < 0 ||
        strcmp(hash, rec.input_hash) != 0) {
        hb_version_rec_release(&rec);
        return -ENOENT;
    }
    rec.status = st;
    *out = rec;
    return 0;
}

void hb__build_memo_free(hb_manager *m)
{
    struct hb__build_memo *b = m->build_memo;
    m->build_memo = NULL;
    for (size_t i = 0; b && i < b->n; i++)
        entry_release(&b->v[i]);
    free(b);
}
