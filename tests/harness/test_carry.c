/* End-to-end: static variables carried across a swap by their DWARF
 * layouts (docs/state.md), on real plugin sources, real compiles and a real
 * worker. One case per process: test_carry CASE. */
#include "e2e.h"

typedef struct seen {
    char carry[8192];   /* the last swap event's carry lines */
    char swapped[512];  /* its message */
    int swaps;
    int nodebug_notices;
} seen;

static seen g_seen;

static void on_event(const hb_event *ev, void *ud)
{
    (void)ud;
    if (getenv("HB_TEST_VERBOSE"))
        fprintf(stderr, "event %d: %s\n%s\n", ev->type, ev->message ? ev->message : "",
                ev->carry ? ev->carry : "");
    if (ev->type == HB_EVENT_SWAPPED) {
        g_seen.swaps++;
        snprintf(g_seen.swapped, sizeof(g_seen.swapped), "%s", ev->message);
        snprintf(g_seen.carry, sizeof(g_seen.carry), "%s", ev->carry ? ev->carry : "(none)");
    }
    if (ev->type == HB_EVENT_NOTICE && ev->message && strstr(ev->message, "no debug info"))
        g_seen.nodebug_notices++;
}

static hb_manager *manager(const char *cflags)
{
    char state[4300];
    snprintf(state, sizeof(state), "%s/.hotbox", e2e_root);
    hb_manager_options o;
    HB_CHECK_OK(hb_manager_options_init(&o, HB_MANAGER_OPTIONS_VERSION));
    o.state_dir = state;
    o.isolation = HB_ISOLATION_LOCAL;
    o.on_event = on_event;
    o.cflags = cflags;
    hb_manager *m = NULL;
    HB_CHECK_OK(hb_manager_new(&o, &m));
    return m;
}

static hb_sandbox *sandbox(hb_manager *m)
{
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    return sb;
}

static int64_t call_l(hb_sandbox *sb, const char *fn)
{
    int64_t v = -1;
    int r = hb_callf(sb, "p", fn, ")l", &v);
    if (r != 0)
        HB_FAIL_("call %s: %d %s", fn, r, hb_sandbox_last_error(sb));
    return v;
}

static uint64_t active(hb_sandbox *sb)
{
    uint64_t v = 0;
    HB_CHECK_OK(hb_active_version(sb, "p", &v));
    return v;
}

#define HDR "#include <hotbox/plugin.h>\n#include <stdint.h>\n#include <stdlib.h>\n#include <string.h>\n"

/* A plugin without hooks: `static long count`, a struct of statistics and
 * a function-local static. */
static const char *stats_src(const char *stats_struct, int step)
{
    static char buf[4096];
    snprintf(buf, sizeof(buf),
             HDR "struct stats { %s };\n"
                 "static long count;\n"
                 "static struct stats counters;\n"
                 "int64_t increment(void) { count += %d; counters.hits++; counters.misses += 2; return count; }\n"
                 "int64_t get(void) { return count; }\n"
                 "int64_t hits(void) { return counters.hits; }\n"
                 "int64_t ticks(void) { static long n; return ++n; }\n"
                 "HB_PLUGIN(\"p\", 1, 0, 0, 0, 0);\n",
             stats_struct, step);
    return buf;
}

/* Identical layout: count, counters and the function-local n keep their
 * values across an edit of a function body. */
static void case_identical_layout_keeps_count(void)
{
    char *dir = e2e_write("p", "p.c", stats_src("long hits; long misses;", 1));
    hb_manager *m = manager(NULL);
    hb_sandbox *sb = sandbox(m);
    HB_CHECK_OK(hb_load(sb, dir));
    for (int i = 0; i < 3; i++)
        call_l(sb, "increment");
    HB_CHECK_EQ(call_l(sb, "ticks"), 1);
    e2e_write("p", "p.c", stats_src("long hits; long misses;", 10));
    HB_CHECK_OK(hb_reload(sb, "p"));
    HB_CHECK_EQ(active(sb), 2);
    HB_CHECK_EQ(call_l(sb, "get"), 3);
    HB_CHECK_EQ(call_l(sb, "hits"), 3);
    HB_CHECK_EQ(call_l(sb, "ticks"), 2);
    HB_CHECK_EQ(call_l(sb, "increment"), 13);
    HB_CHECK_CONTAINS(g_seen.swapped, "statics: 3 carried, 0 reset, 0 new");
    HB_CHECK_CONTAINS(g_seen.carry, "carried: `long int count`");
    HB_CHECK_CONTAINS(g_seen.carry, "carried: `struct stats counters`");
    HB_CHECK_CONTAINS(g_seen.carry, "carried: `long int n (in ticks)`");
    hb_sandbox_free(sb);
    hb_manager_free(m);
}

/* A struct whose members swap places is reset, with the member named;
 * the rest still carries. */
static void case_reorder_resets_named(void)
{
    char *dir = e2e_write("p", "p.c", stats_src("long hits; long misses;", 1));
    hb_manager *m = manager(NULL);
    hb_sandbox *sb = sandbox(m);
    HB_CHECK_OK(hb_load(sb, dir));
    call_l(sb, "increment");
    call_l(sb, "increment");
    e2e_write("p", "p.c", stats_src("long misses; long hits;", 1));
    HB_CHECK_OK(hb_reload(sb, "p"));
    HB_CHECK_EQ(call_l(sb, "hits"), 0);
    HB_CHECK_EQ(call_l(sb, "get"), 2);
    HB_CHECK_CONTAINS(g_seen.carry,
                      "reset: `struct stats counters`: member `hits` moved from offset 0 to 8");
    HB_CHECK_CONTAINS(g_seen.swapped, "1 reset");
    hb_sandbox_free(sb);
    hb_manager_free(m);
}

/* Changing count's type resets it, named. */
static void case_type_change_resets(void)
{
    char *dir = e2e_write("p", "p.c",
                          HDR "static long count;\nint64_t increment(void) { return ++count; }\n"
                              "HB_PLUGIN(\"p\", 1, 0, 0, 0, 0);\n");
    hb_manager *m = manager(NULL);
    hb_sandbox *sb = sandbox(m);
    HB_CHECK_OK(hb_load(sb, dir));
    call_l(sb, "increment");
    call_l(sb, "increment");
    e2e_write("p", "p.c",
              HDR "static int count;\nint64_t increment(void) { return ++count; }\n"
                  "HB_PLUGIN(\"p\", 1, 0, 0, 0, 0);\n");
    HB_CHECK_OK(hb_reload(sb, "p"));
    HB_CHECK_EQ(call_l(sb, "increment"), 1);
    HB_CHECK_CONTAINS(g_seen.carry,
                      "reset: `long int count`: type changed from `long int` to `int`");
    hb_sandbox_free(sb);
    hb_manager_free(m);
}

/* A pointer into the old object's own data is not carried (it would
 * dangle); a heap pointer is. */
static void case_pointer_into_old_object(void)
{
    const char *src =
        HDR "static char buf[32] = \"old\";\n"
            "static char *cur;\n"
            "static long *heap;\n"
            "int64_t setup(void) { cur = buf; heap = malloc(sizeof *heap); *heap = 42; return 0; }\n"
            "int64_t cur_is_set(void) { return cur != 0; }\n"
            "int64_t heap_value(void) { return heap ? *heap : -1; }\n"
            "HB_PLUGIN(\"p\", 1, 0, 0, 0, 0);\n";
    char *dir = e2e_write("p", "p.c", src);
    hb_manager *m = manager(NULL);
    hb_sandbox *sb = sandbox(m);
    HB_CHECK_OK(hb_load(sb, dir));
    call_l(sb, "setup");
    HB_CHECK_EQ(call_l(sb, "cur_is_set"), 1);
    char edited[4096];
    snprintf(edited, sizeof(edited), "%sint64_t added(void) { return 7; }\n", src);
    e2e_write("p", "p.c", edited);
    HB_CHECK_OK(hb_reload(sb, "p"));
    HB_CHECK_EQ(active(sb), 2);
    HB_CHECK_EQ(call_l(sb, "cur_is_set"), 0);
    HB_CHECK_EQ(call_l(sb, "heap_value"), 42);
    HB_CHECK_CONTAINS(g_seen.carry,
                      "reset: `char * cur`: the pointer at offset 0 points into v1's own object");
    HB_CHECK_CONTAINS(g_seen.carry, "carried: `long int * heap`");
    HB_CHECK_CONTAINS(g_seen.carry, "carried: `char[32] buf`");
    hb_sandbox_free(sb);
    hb_manager_free(m);
}

static const char *hooked_src(const char *st, int schema)
{
    static char buf[4096];
    snprintf(buf, sizeof(buf),
             HDR "struct st { %s };\n"
                 "static struct st s;\n"
                 "int64_t increment(void) { return ++s.a; }\n"
                 "static int save(void **d, size_t *l) { void *p = malloc(sizeof s); if (!p) return -1;"
                 " memcpy(p, &s, sizeof s); *d = p; *l = sizeof s; return 0; }\n"
                 "static int migrate(const void *d, size_t l, uint32_t from) {"
                 " if (from == %d && l == sizeof s) memcpy(&s, d, l); return 0; }\n"
                 "HB_PLUGIN(\"p\", %d, 0, 0, save, migrate);\n",
             st, schema, schema);
    return buf;
}

/* A plugin with save/migrate whose saved struct gained a field without a
 * schema bump: the swap is refused naming type and field; the old version
 * keeps serving with its state. With the schema bumped it goes through. */
static void case_hooked_schema_guard(void)
{
    char *dir = e2e_write("p", "p.c", hooked_src("long a;", 1));
    hb_manager *m = manager(NULL);
    hb_sandbox *sb = sandbox(m);
    HB_CHECK_OK(hb_load(sb, dir));
    call_l(sb, "increment");
    call_l(sb, "increment");
    e2e_write("p", "p.c", hooked_src("int extra; long a;", 1));
    int r = hb_reload(sb, "p");
    HB_CHECK_EQ(r, HB_EHOOK);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "`struct st s`: member `a` moved from offset 0 to 8");
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "state_schema is still 1");
    HB_CHECK_EQ(active(sb), 1);
    HB_CHECK_EQ(call_l(sb, "increment"), 3);
    HB_CHECK_EQ(g_seen.swaps, 0);
    /* The developer bumps the schema: the swap goes through; migrate
     * (which only takes schema 2 bytes) starts fresh. */
    e2e_write("p", "p.c", hooked_src("int extra; long a;", 2));
    HB_CHECK_OK(hb_reload(sb, "p"));
    HB_CHECK_EQ(active(sb), 3);
    HB_CHECK_EQ(call_l(sb, "increment"), 1);
    hb_sandbox_free(sb);
    hb_manager_free(m);
}

/* Built without -g: today's behaviour (fresh statics), said once. */
static void case_no_debug_info(void)
{
    char *dir = e2e_write("p", "p.c", stats_src("long hits; long misses;", 1));
    hb_manager *m = manager("-O2 -g0");
    hb_sandbox *sb = sandbox(m);
    HB_CHECK_OK(hb_load(sb, dir));
    call_l(sb, "increment");
    e2e_write("p", "p.c", stats_src("long hits; long misses;", 2));
    HB_CHECK_OK(hb_reload(sb, "p"));
    HB_CHECK_EQ(call_l(sb, "get"), 0);
    HB_CHECK_STR(g_seen.carry, "(none)");
    e2e_write("p", "p.c", stats_src("long hits; long misses;", 3));
    HB_CHECK_OK(hb_reload(sb, "p"));
    HB_CHECK_EQ(g_seen.swaps, 2);
    HB_CHECK_EQ(g_seen.nodebug_notices, 1);
    hb_sandbox_free(sb);
    hb_manager_free(m);
}

static const e2e_case cases[] = {
    {"identical_layout_keeps_count", case_identical_layout_keeps_count},
    {"reorder_resets_named", case_reorder_resets_named},
    {"type_change_resets", case_type_change_resets},
    {"pointer_into_old_object", case_pointer_into_old_object},
    {"hooked_schema_guard", case_hooked_schema_guard},
    {"no_debug_info", case_no_debug_info},
};

int main(int argc, char **argv)
{
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
