/* versions/graph.c - the dependency graph between plugins: order,
 * dependents, reachability (graph.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

typedef struct name_pos {
    const char *name;
    size_t pos;
} name_pos;

static int cmp_name_pos(const void *a, const void *b)
{
    return strcmp(((const name_pos *)a)->name, ((const name_pos *)b)->name);
}

/* The edges "j is depended on by i", grouped by j: edges[start[j] ..
 * start[j+1]) are the dependents of j; indeg[i] counts i's dependencies
 * among the nodes. Names are looked up by binary search. */
typedef struct edges {
    size_t *start, *to, *indeg;
} edges;

static void edges_release(edges *e)
{
    HB_FREE_ALL(e->start, e->to, e->indeg);
}

static int edges_build(const hb_graph_node *nodes, size_t n, edges *e)
{
    *e = (edges){calloc(n + 1, sizeof(size_t)), NULL, calloc(n, sizeof(size_t))};
    name_pos *byname = calloc(n, sizeof(name_pos));
    size_t *fill = calloc(n, sizeof(size_t));
    int r = e->start && e->indeg && byname && fill ? 0 : -ENOMEM;
    for (size_t i = 0; r == 0 && i < n; i++)
        byname[i] = (name_pos){nodes[i].name, i};
    if (r == 0)
        qsort(byname, n, sizeof(*byname), cmp_name_pos);
    /* Two passes over the dependency lists: count, then fill. */
    for (int pass = 0; r == 0 && pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            for (char *const *d = nodes[i].depends; d && *d; d++) {
                name_pos want = {*d, 0};
                name_pos *hit = bsearch(&want, byname, n, sizeof(*byname), cmp_name_pos);
                if (hit && hit->pos != i && pass == 0) {
                    e->start[hit->pos + 1]++;
                    e->indeg[i]++;
                } else if (hit && hit->pos != i) {
                    e->to[e->start[hit->pos] + fill[hit->pos]++] = i;
                }
            }
        }
        if (pass == 0) {
            for (size_t j = 0; j < n; j++)
                e->start[j + 1] += e->start[j];
            if (!(e->to = calloc(e->start[n] + 1, sizeof(size_t))))
                r = -ENOMEM;
        }
    }
    free(byname);
    free(fill);
    if (r < 0)
        edges_release(e);
    return r;
}

int hb_graph_order(const hb_graph_node *nodes, size_t n, size_t *order)
{
    if (n == 0)
        return 0;
    edges e;
    if (edges_build(nodes, n, &e) < 0)
        return -ENOMEM;
    bool *done = calloc(n, sizeof(bool));
    size_t *out = calloc(n, sizeof(size_t));
    int r = done && out ? 0 : -ENOMEM;
    /* Kahn's algorithm, always taking the lowest position that is ready,
     * so unrelated nodes keep their order. */
    for (size_t k = 0; r == 0 && k < n; k++) {
        size_t pick = n;
        for (size_t i = 0; i < n && pick == n; i++)
            if (!done[i] && e.indeg[i] == 0)
                pick = i;
        if (pick == n) /* a cycle: keep the rest in their given order */
            for (size_t i = 0; i < n && pick == n; i++)
                if (!done[i])
                    pick = i;
        done[pick] = true;
        out[k] = pick;
        for (size_t x = e.start[pick]; x < e.start[pick + 1]; x++)
            if (e.indeg[e.to[x]])
                e.indeg[e.to[x]]--;
    }
    if (r == 0)
        memcpy(order, out, n * sizeof(size_t));
    edges_release(&e);
    free(done);
    free(out);
    return r;
}

int hb_graph_dependents(const hb_graph_node *nodes, size_t n, size_t of, bool *out)
{
    memset(out, 0, n * sizeof(bool));
    edges e;
    if (edges_build(nodes, n, &e) < 0)
        return -ENOMEM;
    size_t *queue = calloc(n + 1, sizeof(size_t));
    if (!queue) {
        edges_release(&e);
        return -ENOMEM;
    }
    /* Breadth first from `of` along "is depended on by" edges. */
    size_t head = 0, tail = 0;
    queue[tail++] = of;
    while (head < tail) {
        size_t j = queue[head++];
        for (size_t x = e.start[j]; x < e.start[j + 1]; x++) {
            size_t i = e.to[x];
            if (i != of && !out[i]) {
                out[i] = true;
                queue[tail++] = i;
            }
        }
    }
    free(queue);
    edges_release(&e);
    return 0;
}

static bool reaches(const char *from, const char *target, hb_graph_depends_fn deps, void *ud,
                    hb_sb *path, unsigned depth)
{
    if (depth > 64)
        return false;
    if (!strcmp(from, target)) {
        hb__sb_adds(path, target);
        return true;
    }
    char **names = deps(ud, from);
    bool found = false;
    for (size_t i = 0; names && names[i] && !found; i++) {
        size_t mark = path->len;
        hb__sb_addf(path, "%s -> ", from);
        found = reaches(names[i], target, deps, ud, path, depth + 1);
        if (!found) {
            path->len = mark;
            if (path->buf)
                path->buf[mark] = '\0';
        }
    }
    hb__strv_free(names);
    return found;
}

bool hb_graph_reaches(const char *from, const char *target, hb_graph_depends_fn deps, void *ud,
                      hb_sb *path)
{
    return reaches(from, target, deps, ud, path, 0);
}
