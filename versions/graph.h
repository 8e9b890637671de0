/*
 * versions/graph.h - the dependency graph between plugins, in one place.
 * A plugin depends on another when the catalogue says so (`depends`, a
 * list filled from imports matched against exports). Pure code
 * over caller-given nodes; the harness supplies them from the store or
 * from a sandbox's active versions.
 */
#ifndef HB_VERSIONS_GRAPH_H
#define HB_VERSIONS_GRAPH_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

typedef struct hb_graph_node {
    const char *name;
    char *const *depends; /* NULL-terminated plugin names; NULL: none */
} hb_graph_node;

/* A stable topological order of nodes[0..n): order[k] is a node index, a
 * node after every node it depends on; unrelated nodes keep their order
 * (Kahn's algorithm, lowest position first). A cycle is left in its given
 * order (loading reports it). Dependencies on names outside the nodes are
 * ignored. 0, or -ENOMEM (order untouched). */
int hb_graph_order(const hb_graph_node *nodes, size_t n, size_t *order);

/* The nodes that depend on nodes[of], directly or through others: out[i]
 * is set for each (never for `of` itself). 0, or -ENOMEM. */
int hb_graph_dependents(const hb_graph_node *nodes, size_t n, size_t of, bool *out);

/* The dependencies of a plugin by name, as a malloc'ed NULL-terminated
 * list (hb__strv_free; NULL: none or unknown), for walking a graph too
 * large to list (the store). */
typedef char **(*hb_graph_depends_fn)(void *ud, const char *name);

/* Whether `target` is reachable from `from` along depends edges (at most
 * 64 deep); on success path holds "from -> ... -> target". Cycle
 * detection: a plugin's dependency that reaches the plugin. */
bool hb_graph_reaches(const char *from, const char *target, hb_graph_depends_fn deps, void *ud,
                      hb_sb *path);

#endif /* HB_VERSIONS_GRAPH_H */
