/* tests/versions/test_graph_policy.c - the dependency graph (order,
 * dependents, reachability) and the fallback policy of versions/. */
#include <stdbool.h>

#include "hbtest.h"
#include "graph.h"
#include "policy.h"

static void test_order(void)
{
    /* c depends on b, b on a; d unrelated; given as c, d, b, a. */
    char *c_deps[] = {"b", NULL}, *b_deps[] = {"a", "libm", NULL}, *none[] = {NULL};
    hb_graph_node n[] = {{"c", c_deps}, {"d", NULL}, {"b", b_deps}, {"a", none}};
    size_t order[4];
    HB_CHECK_OK(hb_graph_order(n, 4, order));
    /* d is first ready; then a, b, c as each becomes ready. */
    HB_CHECK_EQ(order[0], 1);
    HB_CHECK_EQ(order[1], 3);
    HB_CHECK_EQ(order[2], 2);
    HB_CHECK_EQ(order[3], 0);
    /* A cycle keeps its given order. */
    char *x_deps[] = {"y", NULL}, *y_deps[] = {"x", NULL};
    hb_graph_node cyc[] = {{"x", x_deps}, {"y", y_deps}};
    HB_CHECK_OK(hb_graph_order(cyc, 2, order));
    HB_CHECK_EQ(order[0], 0);
    HB_CHECK_EQ(order[1], 1);
}

static void test_dependents(void)
{
    char *on_a[] = {"a", NULL}, *on_b[] = {"b", NULL}, *on_z[] = {"z", NULL};
    char *on_ca[] = {"c", "a", NULL};
    hb_graph_node n[] = {{"a", NULL}, {"b", on_a}, {"c", on_b}, {"d", on_z}, {"e", on_ca}};
    bool is[5];
    HB_CHECK_OK(hb_graph_dependents(n, 5, 0, is));
    HB_CHECK(!is[0]);
    HB_CHECK(is[1]);
    HB_CHECK(is[2]); /* through b */
    HB_CHECK(!is[3]);
    HB_CHECK(is[4]);
    HB_CHECK_OK(hb_graph_dependents(n, 5, 2, is));
    HB_CHECK(!is[0] && !is[1] && !is[3]);
    HB_CHECK(is[4]);
}

static char **deps_of(void *ud, const char *name)
{
    (void)ud;
    char **out = NULL;
    if (!strcmp(name, "a"))
        hb__strv_push(&out, "b");
    if (!strcmp(name, "b")) {
        hb__strv_push(&out, "c");
        hb__strv_push(&out, "d");
    }
    return out;
}

static void test_reaches(void)
{
    hb_sb path = HB_SB_INIT;
    HB_CHECK(hb_graph_reaches("a", "d", deps_of, NULL, &path));
    HB_CHECK_STR(path.buf, "a -> b -> d");
    hb__sb_release(&path);
    hb_sb none = HB_SB_INIT;
    HB_CHECK(!hb_graph_reaches("d", "a", deps_of, NULL, &none));
    hb__sb_release(&none);
}

static void test_policy(void)
{
    hb_version_rec v[6] = {0};
    hb_version_status st[6] = {HB_VERSION_GOOD, HB_VERSION_BAD, HB_VERSION_ROLLED_BACK,
                               HB_VERSION_CANDIDATE, HB_VERSION_ACTIVE, HB_VERSION_ROLLED_BACK};
    for (int i = 0; i < 6; i++) {
        v[i].version = (uint64_t)i + 1;
        v[i].status = st[i];
    }
    HB_CHECK(hb_policy_fallback_ok(HB_VERSION_GOOD));
    HB_CHECK(hb_policy_fallback_ok(HB_VERSION_ACTIVE));
    HB_CHECK(hb_policy_fallback_ok(HB_VERSION_ROLLED_BACK));
    HB_CHECK(!hb_policy_fallback_ok(HB_VERSION_BAD));
    HB_CHECK(!hb_policy_fallback_ok(HB_VERSION_CANDIDATE));
    /* Older than v5: v3 (rolled back), skipping v4 (candidate). */
    HB_CHECK_EQ(hb_policy_fallback(v, 6, 5, 0), 2);
    /* Walking on: v1, skipping v2 (bad); then none. */
    HB_CHECK_EQ(hb_policy_fallback(v, 2, UINT64_MAX, 0), 0);
    HB_CHECK_EQ(hb_policy_fallback(v, 0, UINT64_MAX, 0), HB_POLICY_NONE);
    /* Any age but the excluded v6: v5. */
    HB_CHECK_EQ(hb_policy_fallback(v, 6, UINT64_MAX, 6), 4);
    /* A pin's target (hb_policy_pin_find): test_policy_store.c. */
    HB_CHECK_EQ(hb_policy_gc_keep(v, 6), 0);
}

int main(void)
{
    test_order();
    test_dependents();
    test_reaches();
    test_policy();
    return 0;
}
