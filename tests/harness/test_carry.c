/* End-to-end: static variables carried across a swap by their DWARF
 * layouts (docs/state.md), HB_CARRY marks, and carry turned off
 * (plugin.json "carry": false, hb_sandbox_options.no_carry), on real
 * plugin sources, real compiles and a real worker. One case per process:
 * test_carry CASE. */
#include "e2e.h"

typedef struct seen {
    char carry[8192];   /* the last swap event's carry lines */
    char swapped[512];  /* its message */
    int swaps;
    int nodebug_notices;
    int off_notices;
    char off_notice[512];
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
    if (ev->type == HB_EVENT_NOTICE && ev->message && strstr(ev->message, "carry is off")) {
        g_seen.off_notices++;
        snprintf(g_seen.off_notice, sizeof(g_seen.off_notice), "%s", ev->message);
    }
}

/* Every case's fixture (one case per process, so one per process): plugin
 * p written from src, a manager on the test's own state directory with
 * cflags (NULL: the defaults), and one sandbox, carry off when no_carry,
 * with p loaded. teardown() frees them. */
static struct {
    hb_manager *m;
    hb_sandbox *sb;
} g_fx;

static hb_sandbox *setup(const char *src, const char *cflags, int no_carry)
{
    char *dir = e2e_write("p", "p.c", src);
    hb_manager_options o = e2e_options(on_event, NULL);
    o.cflags = cflags;
    g_fx.m = e2e_manager_with(&o);
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.no_carry = no_carry;
    g_fx.sb = e2e_loaded(g_fx.m, &so, dir);
    return g_fx.sb;
}

static void teardown(void)
{
    e2e_free(g_fx.sb, g_fx.m);
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
    hb_sandbox *sb = setup(stats_src("long hits; long misses;", 1), NULL, 0);
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
    teardown();
}

/* A struct whose members swap places is reset, with the member named;
 * the rest still carries. */
static void case_reorder_resets_named(void)
{
    hb_sandbox *sb = setup(stats_src("long hits; long misses;", 1), NULL, 0);
    call_l(sb, "increment");
    call_l(sb, "increment");
    e2e_write("p", "p.c", stats_src("long misses; long hits;", 1));
    HB_CHECK_OK(hb_reload(sb, "p"));
    HB_CHECK_EQ(call_l(sb, "hits"), 0);
    HB_CHECK_EQ(call_l(sb, "get"), 2);
    HB_CHECK_CONTAINS(g_seen.carry,
                      "reset: `struct stats counters`: member `hits` moved from offset 0 to 8");
    HB_CHECK_CONTAINS(g_seen.swapped, "1 reset");
    teardown();
}

/* Changing count's type resets it, named. */
static void case_type_change_resets(void)
{
    hb_sandbox *sb = setup(HDR "static long count;\nint64_t increment(void) { return ++count; }\n"
                           "HB_PLUGIN(\"p\", 1, 0, 0, 0, 0);\n", NULL, 0);
    call_l(sb, "increment");
    call_l(sb, "increment");
    e2e_write("p", "p.c",
              HDR "static int count;\nint64_t increment(void) { return ++count; }\n"
                  "HB_PLUGIN(\"p\", 1, 0, 0, 0, 0);\n");
    HB_CHECK_OK(hb_reload(sb, "p"));
    HB_CHECK_EQ(call_l(sb, "increment"), 1);
    HB_CHECK_CONTAINS(g_seen.carry,
                      "reset: `long int count`: type changed from `long int` to `int`");
    teardown();
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
    hb_sandbox *sb = setup(src, NULL, 0);
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
    teardown();
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
    hb_sandbox *sb = setup(hooked_src("long a;", 1), NULL, 0);
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
    teardown();
}

/* Built without -g: today's behaviour (fresh statics), said once. */
static void case_no_debug_info(void)
{
    hb_sandbox *sb = setup(stats_src("long hits; long misses;", 1), "-O2 -g0", 0);
    call_l(sb, "increment");
    e2e_write("p", "p.c", stats_src("long hits; long misses;", 2));
    HB_CHECK_OK(hb_reload(sb, "p"));
    HB_CHECK_EQ(call_l(sb, "get"), 0);
    HB_CHECK_STR(g_seen.carry, "(none)");
    e2e_write("p", "p.c", stats_src("long hits; long misses;", 3));
    HB_CHECK_OK(hb_reload(sb, "p"));
    HB_CHECK_EQ(g_seen.swaps, 2);
    HB_CHECK_EQ(g_seen.nodebug_notices, 1);
    teardown();
}

/* ---- HB_CARRY marks and carry off ---------------------------------------- */

/* A plugin with save/migrate for `struct st s`, a marked `hits` of type
 * hits_type, and an unmarked `other` its hooks do not save. */
static const char *marked_src(const char *hits_type, int step)
{
    static char buf[4096];
    snprintf(buf, sizeof(buf),
             HDR "struct st { long a; };\n"
                 "static struct st s;\n"
                 "static %s hits;\n"
                 "HB_CARRY(hits);\n"
                 "static long other;\n"
                 "int64_t increment(void) { hits += %d; other++; return ++s.a; }\n"
                 "int64_t get_hits(void) { return (int64_t)hits; }\n"
                 "int64_t get_other(void) { return other; }\n"
                 "int64_t get_a(void) { return s.a; }\n"
                 "static int save(void **d, size_t *l) { void *p = malloc(sizeof s); if (!p) return -1;"
                 " memcpy(p, &s, sizeof s); *d = p; *l = sizeof s; return 0; }\n"
                 "static int migrate(const void *d, size_t l, uint32_t from) {"
                 " if (from == 1 && l == sizeof s) memcpy(&s, d, l); return 0; }\n"
                 "HB_PLUGIN(\"p\", 1, 0, 0, save, migrate);\n",
             hits_type, step);
    return buf;
}

/* With hooks: the marked static is carried besides what migrate moves;
 * the unmarked one is the hooks' (they drop it). */
static void case_hooked_marked_carried(void)
{
    hb_sandbox *sb = setup(marked_src("long", 1), NULL, 0);
    for (int i = 0; i < 3; i++)
        call_l(sb, "increment");
    e2e_write("p", "p.c", marked_src("long", 10));
    HB_CHECK_OK(hb_reload(sb, "p"));
    HB_CHECK_EQ(active(sb), 2);
    HB_CHECK_EQ(call_l(sb, "get_a"), 3);     /* migrate */
    HB_CHECK_EQ(call_l(sb, "get_hits"), 3);  /* the mark */
    HB_CHECK_EQ(call_l(sb, "get_other"), 0); /* left to the hooks, which drop it */
    HB_CHECK_CONTAINS(g_seen.carry, "carried (marked): `long int hits`");
    HB_CHECK(strstr(g_seen.carry, "other") == NULL);
    HB_CHECK_CONTAINS(g_seen.swapped, "state carried; statics: 1 carried (marked), 0 reset, 0 new");
    HB_CHECK_CONTAINS(g_seen.swapped, "left to save/migrate");
    teardown();
}

/* With hooks and an unchanged schema, a marked static whose type changed
 * is reset with the change named; it is not the schema guard's (the hooks
 * do not own it), so the swap goes through. */
static void case_marked_type_change_resets(void)
{
    hb_sandbox *sb = setup(marked_src("long", 1), NULL, 0);
    call_l(sb, "increment");
    call_l(sb, "increment");
    e2e_write("p", "p.c", marked_src("int", 1));
    HB_CHECK_OK(hb_reload(sb, "p"));
    HB_CHECK_EQ(active(sb), 2);
    HB_CHECK_EQ(call_l(sb, "get_hits"), 0);
    HB_CHECK_EQ(call_l(sb, "get_a"), 2);
    HB_CHECK_CONTAINS(g_seen.carry, "reset: `long int hits`: type changed from `long int` to `int`");
    HB_CHECK_CONTAINS(g_seen.swapped, "0 carried (marked), 1 reset");
    teardown();
}

/* No hooks, some marks: the marked statics (a file-scope one and one of
 * two function-local statics of the same name) carry; the others start
 * fresh, each said to be unmarked; a mark on a const is named as ignored. */
static const char *nohook_src(int step)
{
    static char buf[4096];
    snprintf(buf, sizeof(buf),
             HDR "static long kept;\n"
                 "HB_CARRY(kept);\n"
                 "static long dropped_val;\n"
                 "static const long limit = 5;\n"
                 "HB_CARRY(limit);\n"
                 "int64_t bump(void) { kept += %d; dropped_val++; return kept + limit; }\n"
                 "int64_t get_kept(void) { return kept; }\n"
                 "int64_t get_dropped(void) { return dropped_val; }\n"
                 "int64_t tick(void) { static long n; HB_CARRY(n); return ++n; }\n"
                 "int64_t tock(void) { static long n; return ++n; }\n"
                 "HB_PLUGIN(\"p\", 1, 0, 0, 0, 0);\n",
             step);
    return buf;
}

static void case_unmarked_reset_without_hooks(void)
{
    hb_sandbox *sb = setup(nohook_src(1), NULL, 0);
    for (int i = 0; i < 4; i++) {
        call_l(sb, "bump");
        call_l(sb, "tick");
        call_l(sb, "tock");
    }
    e2e_write("p", "p.c", nohook_src(100));
    HB_CHECK_OK(hb_reload(sb, "p"));
    HB_CHECK_EQ(active(sb), 2);
    HB_CHECK_EQ(call_l(sb, "get_kept"), 4);
    HB_CHECK_EQ(call_l(sb, "get_dropped"), 0);
    HB_CHECK_EQ(call_l(sb, "tick"), 5);
    HB_CHECK_EQ(call_l(sb, "tock"), 1);
    HB_CHECK_CONTAINS(g_seen.carry, "carried (marked): `long int kept`");
    HB_CHECK_CONTAINS(g_seen.carry, "carried (marked): `long int n (in tick)`");
    HB_CHECK_CONTAINS(g_seen.carry,
                      "reset: `long int dropped_val`: not marked with HB_CARRY (v2 marks 3 other statics)");
    HB_CHECK_CONTAINS(g_seen.carry, "reset: `long int n (in tock)`: not marked with HB_CARRY");
    HB_CHECK_CONTAINS(g_seen.carry, "ignored: HB_CARRY(limit): `limit` is not a writable static");
    HB_CHECK_CONTAINS(g_seen.swapped, "statics: 2 carried (marked), 2 reset, 0 new");
    teardown();
}

static const char *plain_src(int step)
{
    static char buf[4096];
    snprintf(buf, sizeof(buf),
             HDR "static long count;\n"
                 "int64_t increment(void) { count += %d; return count; }\n"
                 "int64_t get(void) { return count; }\n"
                 "HB_PLUGIN(\"p\", 1, 0, 0, 0, 0);\n",
             step);
    return buf;
}

/* Two swaps of a hook-less plugin with carry off: count starts fresh each
 * time, no carry lines, one notice saying why. */
static void swaps_without_carry(hb_sandbox *sb, const char *why)
{
    call_l(sb, "increment");
    call_l(sb, "increment");
    e2e_write("p", "p.c", plain_src(2));
    HB_CHECK_OK(hb_reload(sb, "p"));
    HB_CHECK_EQ(active(sb), 2);
    HB_CHECK_EQ(call_l(sb, "get"), 0);
    HB_CHECK_STR(g_seen.carry, "(none)");
    call_l(sb, "increment");
    e2e_write("p", "p.c", plain_src(3));
    HB_CHECK_OK(hb_reload(sb, "p"));
    HB_CHECK_EQ(call_l(sb, "get"), 0);
    HB_CHECK_EQ(g_seen.swaps, 2);
    HB_CHECK_EQ(g_seen.off_notices, 1);
    HB_CHECK_CONTAINS(g_seen.off_notice, why);
    HB_CHECK_CONTAINS(g_seen.off_notice, "only save/migrate moves state");
}

static void case_off_by_plugin_json(void)
{
    e2e_write("p", "plugin.json", "{\"carry\": false}\n");
    hb_sandbox *sb = setup(plain_src(1), NULL, 0);
    swaps_without_carry(sb, "carry is off by its plugin.json (\"carry\": false)");
    /* A value that is not a boolean is a build error naming the key; the
     * last good version keeps serving. */
    e2e_write("p", "plugin.json", "{\"carry\": \"no\"}\n");
    e2e_write("p", "p.c", plain_src(4));
    HB_CHECK(hb_reload(sb, "p") < 0);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "\"carry\": expected true or false");
    HB_CHECK_EQ(active(sb), 3);
    /* Back on: the next swap carries again. */
    e2e_write("p", "plugin.json", "{\"carry\": true}\n");
    call_l(sb, "increment");
    HB_CHECK_OK(hb_reload(sb, "p"));
    HB_CHECK_EQ(call_l(sb, "get"), 3);
    HB_CHECK_CONTAINS(g_seen.carry, "carried: `long int count`");
    teardown();
}

static void case_off_by_option(void)
{
    hb_sandbox *sb = setup(plain_src(1), NULL, 1);
    swaps_without_carry(sb, "carry is off for this sandbox");
    teardown();
}

static const e2e_case cases[] = {
    {"identical_layout_keeps_count", case_identical_layout_keeps_count},
    {"reorder_resets_named", case_reorder_resets_named},
    {"type_change_resets", case_type_change_resets},
    {"pointer_into_old_object", case_pointer_into_old_object},
    {"hooked_schema_guard", case_hooked_schema_guard},
    {"no_debug_info", case_no_debug_info},
    {"hooked_marked_carried", case_hooked_marked_carried},
    {"marked_type_change_resets", case_marked_type_change_resets},
    {"unmarked_reset_without_hooks", case_unmarked_reset_without_hooks},
    {"off_by_plugin_json", case_off_by_plugin_json},
    {"off_by_option", case_off_by_option},
};

int main(int argc, char **argv)
{
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
