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

typedef struct name_pos {
    const char *name;
    size_t pos;
} name_pos;

static int cmp_name_pos(const void *a, const void *b)
{
    return strcmp(((const name_pos *)a)->name, ((const name_pos *)b)->name);
}

void hb__dependency_order(hb_manager *m, size_t *idx, size_t n, const void *recs,
                          size_t rec_size, size_t name_off)
{
    if (n < 2)
        return;
    char ***deps = calloc(n, sizeof(char **)); /* each plugin's depends list */
    name_pos *byname = calloc(n, sizeof(name_pos));
    size_t *indeg = calloc(n, sizeof(size_t));
    size_t *edge_start = calloc(n + 1, sizeof(size_t));
    size_t *edges = NULL; /* edges[edge_start[j] .. edge_start[j+1]) = dependents of j */
    bool *done = calloc(n, sizeof(bool));
    size_t *out = calloc(n, sizeof(size_t));
    size_t *fill = calloc(n, sizeof(size_t));
    if (!deps || !byname || !indeg || !edge_start || !done || !out || !fill)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const char *name = name_at(recs, rec_size, name_off, idx[i]);
        byname[i] = (name_pos){name, i};
        hb_version_rec rec = {0};
        int r = hb_store_latest(m->store, name, &rec);
        if (r == 0) {
            deps[i] = rec.depends;
            rec.depends = NULL;
        }
        hb_version_rec_release(&rec);
    }
    qsort(byname, n, sizeof(*byname), cmp_name_pos);
    /* Two passes over the dependency lists: count, then fill the edges. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            for (size_t d = 0; deps[i] && deps[i][d]; d++) {
                name_pos want = {deps[i][d], 0};
                name_pos *hit = bsearch(&want, byname, n, sizeof(*byname), cmp_name_pos);
                if (hit && hit->pos != i) {
                    if (pass == 0) {
                        edge_start[hit->pos + 1]++;
                        indeg[i]++;
                    } else {
                        edges[edge_start[hit->pos] + fill[hit->pos]++] = i;
                    }
                }
            }
        }
        if (pass == 0) {
            for (size_t j = 0; j < n; j++)
                edge_start[j + 1] += edge_start[j];
            edges = calloc(edge_start[n] + 1, sizeof(size_t));
            if (!edges)
                goto out;
        }
    }
    /* Kahn's algorithm, always taking the lowest original position that is
     * ready, so unrelated plugins keep their order. */
    for (size_t k = 0; k < n; k++) {
        size_t pick = n;
        for (size_t i = 0; i < n && pick == n; i++)
            if (!done[i] && indeg[i] == 0)
                pick = i;
        if (pick == n) /* a cycle: keep the rest in their given order */
            for (size_t i = 0; i < n && pick == n; i++)
                if (!done[i])
                    pick = i;
        done[pick] = true;
        out[k] = idx[pick];
        for (size_t e = edge_start[pick]; e < edge_start[pick + 1]; e++)
            if (indeg[edges[e]])
                indeg[edges[e]]--;
    }
    memcpy(idx, out, n * sizeof(size_t));
out:
    if (deps)
        for (size_t i = 0; i < n; i++)
            hb__strv_free(deps[i]);
    free(deps);
    free(byname);
    free(indeg);
    free(edge_start);
    free(edges);
    free(done);
    free(out);
    free(fill);
}
