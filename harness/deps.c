/* harness/deps.c - dependency order between plugins from the store's
 * latest versions; the graph itself is versions/graph.c. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "graph.h"

static const char *name_at(const void *recs, size_t rec_size, size_t name_off, size_t i)
{
    return *(char *const *)((const char *)recs + i * rec_size + name_off);
}

void hb__dependency_order(hb_manager *m, size_t *idx, size_t n, const void *recs,
                          size_t rec_size, size_t name_off)
{
    if (n < 2)
        return;
    hb_graph_node *nodes = calloc(n, sizeof(*nodes));
    size_t *order = calloc(n, sizeof(size_t));
    size_t *out = calloc(n, sizeof(size_t));
    if (!nodes || !order || !out)
        goto out;
    for (size_t i = 0; i < n; i++) {
        nodes[i].name = name_at(recs, rec_size, name_off, idx[i]);
        hb_version_rec rec = {0};
        int r = hb_store_latest(m->store, nodes[i].name, &rec);
        if (r == 0) {
            nodes[i].depends = rec.depends;
            rec.depends = NULL;
        }
        hb_version_rec_release(&rec);
    }
    if (hb_graph_order(nodes, n, order) == 0) {
        for (size_t k = 0; k < n; k++)
            out[k] = idx[order[k]];
        memcpy(idx, out, n * sizeof(size_t));
    }
out:
    for (size_t i = 0; nodes && i < n; i++)
        hb__strv_free((char **)nodes[i].depends);
    HB_FREE_ALL(nodes, order, out);
}
