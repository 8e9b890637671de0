/* harness/deps.c - dependency order between plugins.
 *
 * A plugin depends on another when the catalogue says so (the versions
 * module fills `depends` from imports matched against exports). The order
 * is a stable topological sort: Kahn's algorithm picking the lowest original
 * position first, so unrelated plugins keep the order they were given in. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static const char *name_at(const void *recs, size_t rec_size, size_t name_off, size_t i)
{
    return *(char *const *)((const char *)recs + i * rec_size + name_off);
}

static bool depends_on(const char *depends, const char *name)
{
    size_t l = strlen(name);
    for (const char *p = depends; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len == l && memcmp(p, name, l) == 0)
            return true;
        p = nl ? nl + 1 : p + len;
    }
    return false;
}

void hb__dependency_order(hb_manager *m, size_t *idx, size_t n, const void *recs,
                          size_t rec_size, size_t name_off)
{
    if (n < 2)
        return;
    char **deps = calloc(n, sizeof(char *));
    bool *done = calloc(n, sizeof(bool));
    size_t *out = calloc(n, sizeof(size_t));
    if (!deps || !done || !out)
        goto out;
    for (size_t i = 0; i < n; i++) {
        hb_version_rec rec = {0};
        pthread_mutex_lock(&m->lock);
        int r = hb_store_latest(m->store, name_at(recs, rec_size, name_off, idx[i]), &rec);
        pthread_mutex_unlock(&m->lock);
        if (r == 0) {
            deps[i] = rec.depends;
            rec.depends = NULL;
        }
        hb_version_rec_release(&rec);
    }
    size_t k = 0;
    while (k < n) {
        size_t pick = n;
        for (size_t i = 0; i < n && pick == n; i++) {
            if (done[i])
                continue;
            bool ready = true;
            for (size_t j = 0; j < n && ready; j++)
                if (!done[j] && j != i &&
                    depends_on(deps[i], name_at(recs, rec_size, name_off, idx[j])))
                    ready = false;
            if (ready)
                pick = i;
        }
        if (pick == n) /* a cycle: keep the rest in their given order */
            for (size_t i = 0; i < n && pick == n; i++)
                if (!done[i])
                    pick = i;
        done[pick] = true;
        out[k++] = idx[pick];
    }
    memcpy(idx, out, n * sizeof(size_t));
out:
    if (deps)
        for (size_t i = 0; i < n; i++)
            free(deps[i]);
    free(deps);
    free(done);
    free(out);
}
