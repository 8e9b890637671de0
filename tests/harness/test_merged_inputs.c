/* End-to-end: a build whose object is byte for byte an older version's is
 * merged into that version (no new version), and its inputs are
 * remembered: building the same content again is a compile cache hit, not
 * another compile. Before, the merged build stored no input hash of its
 * own, so every later build of that content compiled again (and merged
 * again). One case per process: test_merged_inputs CASE. */
#include "e2e.h"

#define BODY(v) "#include <hotbox/plugin.h>\nHB_EXPORT_FN int value(void) { return " v "; }\n" \
                "HB_PLUGIN(\"p\", 1, 0, 0, 0, 0);\n"
/* A's object from other inputs: a comment after the last line changes the
 * source (and so the input hash), not one byte of the object. */
#define SRC_A BODY("1")
#define SRC_B BODY("2")
#define SRC_A2 BODY("1") "/* the same code as A */\n"

static e2e_events ev;

/* hb_build of dir; the version built and the COMPILED event's message. */
static uint64_t build(hb_manager *m, const char *dir, const char **said)
{
    hb_version_info info;
    int before = ev.count[HB_EVENT_COMPILED];
    int r = hb_build(m, dir, &info);
    if (r != 0)
        HB_FAIL_("hb_build: %d %s", r, hb_manager_last_error(m));
    HB_CHECK_EQ(ev.count[HB_EVENT_COMPILED], before + 1);
    *said = ev.last[HB_EVENT_COMPILED];
    return info.version;
}

static void case_merged_then_cached(void)
{
    hb_manager *m = e2e_manager(&ev);
    const char *said;
    char *dir = e2e_write("p", "p.c", SRC_A);
    HB_CHECK_EQ(build(m, dir, &said), 1);
    HB_CHECK_CONTAINS(said, "p v1 built");
    e2e_write("p", "p.c", SRC_B);
    HB_CHECK_EQ(build(m, dir, &said), 2);
    HB_CHECK_CONTAINS(said, "p v2 built");
    /* A': other inputs, A's object: merged into v1. */
    e2e_write("p", "p.c", SRC_A2);
    HB_CHECK_EQ(build(m, dir, &said), 1);
    if (!strstr(said, "identical object"))
        HB_FAIL_("A' was not merged into v1 (the premise of this test): %s", said);
    /* A' again, unchanged: a cache hit on v1 (was: compiled again). */
    HB_CHECK_EQ(build(m, dir, &said), 1);
    HB_CHECK_CONTAINS(said, "p v1 is up to date (cache hit)");
    /* B and A' in turn: each a hit, no new version. */
    e2e_write("p", "p.c", SRC_B);
    HB_CHECK_EQ(build(m, dir, &said), 2);
    HB_CHECK_CONTAINS(said, "cache hit");
    e2e_write("p", "p.c", SRC_A2);
    HB_CHECK_EQ(build(m, dir, &said), 1);
    HB_CHECK_CONTAINS(said, "cache hit");
    hb_version_info *vs = NULL;
    size_t n = 0;
    HB_CHECK_OK(hb_versions(m, "p", &vs, &n));
    HB_CHECK_EQ(n, 2);
    hb_free(vs);
    hb_manager_free(m);
}

static const e2e_case cases[] = {
    {"merged_then_cached", case_merged_then_cached},
};

int main(int argc, char **argv)
{
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
