/* tests/harness/test_lookup_scan.c - a compile-cache lookup hashes each
 * stored input set of a plugin (issue 14: save -> swapped); the plugin
 * directory's scan for sibling directories (every source read) is made
 * once per lookup, not once per input set. Counted with
 * hb__build_sibling_scans. One case per process: test_lookup_scan <case>.
 *   miss    three input sets stored, a new save: the lookup hashes all
 *           three and misses; one scan for it, one for the compile
 *   hit     going back to the oldest content is a cache hit found after
 *           hashing every set: one scan, the oldest version, no compile */
#include "e2e.h"
#include "harness.h"

static e2e_events ev;

/* The counter plugin at step, including one more system header, so each
 * header gives the version another input set. */
static char *save(int step, const char *header)
{
    char extra[256];
    snprintf(extra, sizeof(extra), "#include <%s>\nHB_PLUGIN(\"counter\", 1, 0, 0, save, migrate);",
             header);
    return e2e_write("counter", "counter.c", e2e_counter_src(1, step, extra));
}

/* Builds three versions with three input sets; returns the directory and
 * the first version. */
static char *three_sets(hb_manager *m, uint64_t *first)
{
    static const char *const headers[] = {"ctype.h", "limits.h", "errno.h"};
    char *dir = NULL;
    for (int i = 0; i < 3; i++) {
        dir = save(i + 1, headers[i]);
        hb_version_info v;
        HB_CHECK_OK(hb_build(m, dir, &v));
        HB_CHECK_EQ(v.version, (uint64_t)i + 1); /* each a compile: a new version */
        if (i == 0)
            *first = v.version;
    }
    return dir;
}

static void case_miss(void)
{
    hb_manager *m = e2e_manager(&ev);
    uint64_t first;
    char *dir = three_sets(m, &first);
    save(4, "ctype.h");
    uint64_t lookups = hb__build_cache_lookups(), scans = hb__build_sibling_scans();
    hb_version_info v;
    HB_CHECK_OK(hb_build(m, dir, &v));
    HB_CHECK_EQ(v.version, 4); /* compiled */
    HB_CHECK_EQ(hb__build_cache_lookups() - lookups, 1);
    HB_CHECK_EQ(hb__build_sibling_scans() - scans, 2); /* the lookup's, the compile's */
    hb_manager_free(m);
}

static void case_hit(void)
{
    hb_manager *m = e2e_manager(&ev);
    uint64_t first;
    char *dir = three_sets(m, &first);
    save(1, "ctype.h"); /* the first version's content again */
    uint64_t scans = hb__build_sibling_scans();
    hb_version_info v;
    HB_CHECK_OK(hb_build(m, dir, &v));
    HB_CHECK_EQ(v.version, first); /* found, not compiled */
    HB_CHECK_EQ(hb__build_sibling_scans() - scans, 1);
    hb_manager_free(m);
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"miss", case_miss},
        {"hit", case_hit},
    };
    return e2e_main(argc, argv, cases, HB_ARRAY_SIZE(cases));
}
