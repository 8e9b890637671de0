/* End-to-end: statics holding heap pointers across a swap, in the shapes
 * real libraries have (an embedded Lua keeps its allocator and registered C
 * functions as function pointers in its heap-allocated lua_State; a C++
 * object allocated with new keeps its vtable pointer). Real compiles, a
 * real worker. One case per process: test_carry_heap CASE. */
#include "e2e.h"

static char g_carry[4096];

static void on_event(const hb_event *ev, void *ud)
{
    (void)ud;
    if (ev->type == HB_EVENT_SWAPPED)
        snprintf(g_carry, sizeof(g_carry), "%s", ev->carry ? ev->carry : "(none)");
}

static hb_manager *g_m;

static hb_sandbox *load_p(const char *src)
{
    char *dir = e2e_write("p", "p.c", src);
    hb_manager_options o = e2e_options(on_event, NULL);
    g_m = e2e_manager_with(&o);
    return e2e_loaded(g_m, NULL, dir);
}

static int64_t call_p(hb_sandbox *sb, const char *fn)
{
    int64_t v = -1;
    int r = hb_callf(sb, "p", fn, ")l", &v);
    if (r != 0)
        HB_FAIL_("call %s: %d %s", fn, r, hb_sandbox_last_error(sb));
    return v;
}

/* v2 of src: the same code plus one function, so the statics keep their
 * layout and are carried. */
static void swap_to_v2(hb_sandbox *sb, const char *src)
{
    char edited[4096];
    snprintf(edited, sizeof(edited), "%sint64_t added(void) { return 7; }\n", src);
    e2e_write("p", "p.c", edited);
    HB_CHECK_OK(hb_reload(sb, "p"));
    uint64_t v = 0;
    HB_CHECK_OK(hb_active_version(sb, "p", &v));
    HB_CHECK_EQ(v, 2);
}

#define HDR "#include <hotbox/plugin.h>\n#include <stdint.h>\n#include <stdlib.h>\n"

/* The heap object holds a pointer to a function of v1 (as lua_State's
 * allocator does). The static is carried, so v1's code must stay mapped:
 * before, v1 was dlclose'd and the next call died of SIGSEGV. */
static void case_heap_holds_code_pointer(void)
{
    const char *src =
        HDR "struct ops { int64_t (*step)(int64_t); int64_t n; };\n"
            "static struct ops *ops;\n"
            "static int64_t twice(int64_t x) { return 2 * x; }\n"
            "int64_t bump(void) {\n"
            "    if (!ops && (ops = malloc(sizeof *ops))) { ops->step = twice; ops->n = 1; }\n"
            "    return ops ? (ops->n = ops->step(ops->n)) : -1;\n"
            "}\n"
            "HB_PLUGIN(\"p\", 1, 0, 0, 0, 0);\n";
    hb_sandbox *sb = load_p(src);
    HB_CHECK_EQ(call_p(sb, "bump"), 2);
    HB_CHECK_EQ(call_p(sb, "bump"), 4);
    swap_to_v2(sb, src);
    HB_CHECK_CONTAINS(g_carry, "carried: `struct ops * ops`");
    HB_CHECK_EQ(call_p(sb, "bump"), 8);
    HB_CHECK_EQ(call_p(sb, "bump"), 16);
    e2e_free(sb, g_m);
}

/* v1 allocates in init and frees in fini (as examples/lua/luacalc does
 * with its lua_State). fini runs after the switch, so a carried pointer
 * would reach freed memory: it is reset (v2's init value serves) and the
 * event says why. Before, v2 read v1's freed block. */
static void case_heap_freed_by_fini_resets(void)
{
    const char *src =
        HDR "static int64_t *cell;\n"
            "static int init(void) { cell = calloc(4, sizeof *cell); if (!cell) return -1;"
            " cell[3] = 100; return 0; }\n"
            "static void fini(void) { cell[3] = -7; free(cell); cell = 0; }\n"
            "int64_t bump(void) { return ++cell[3]; }\n"
            "HB_PLUGIN(\"p\", 1, init, fini, 0, 0);\n";
    hb_sandbox *sb = load_p(src);
    HB_CHECK_EQ(call_p(sb, "bump"), 101);
    HB_CHECK_EQ(call_p(sb, "bump"), 102);
    swap_to_v2(sb, src);
    HB_CHECK_CONTAINS(g_carry, "reset: `long int * cell`: it holds a pointer and v1 has fini");
    HB_CHECK_EQ(call_p(sb, "bump"), 101);
    e2e_free(sb, g_m);
}

/* A thread-local variable is not carried (each thread has its own copy):
 * a plugin with save/migrate is not refused for it (the schema guard), and
 * without hooks the swap event names it as reset instead of leaving it out. */
static void case_tls_hooked_not_refused(void)
{
    const char *src =
        HDR "#include <string.h>\n"
            "static __thread int64_t per_thread;\n"
            "static int64_t shared;\n"
            "int64_t bump(void) { shared++; return ++per_thread; }\n"
            "static int save(void **d, size_t *l) { int64_t *p = malloc(8); if (!p) return -1;"
            " *p = shared; *d = p; *l = 8; return 0; }\n"
            "static int migrate(const void *d, size_t l, uint32_t s) { (void)s;"
            " if (l == 8) memcpy(&shared, d, 8); return 0; }\n"
            "int64_t get_shared(void) { return shared; }\n"
            "HB_PLUGIN(\"p\", 1, 0, 0, save, migrate);\n";
    hb_sandbox *sb = load_p(src);
    HB_CHECK_EQ(call_p(sb, "bump"), 1);
    HB_CHECK_EQ(call_p(sb, "bump"), 2);
    swap_to_v2(sb, src);
    HB_CHECK_EQ(call_p(sb, "get_shared"), 2);
    HB_CHECK_EQ(call_p(sb, "bump"), 1);
    e2e_free(sb, g_m);
}

static void case_tls_named_reset(void)
{
    const char *plain = HDR "static __thread int64_t per_thread;\n"
                            "int64_t bump(void) { return ++per_thread; }\n"
                            "HB_PLUGIN(\"p\", 1, 0, 0, 0, 0);\n";
    hb_sandbox *sb = load_p(plain);
    HB_CHECK_EQ(call_p(sb, "bump"), 1);
    swap_to_v2(sb, plain);
    HB_CHECK_CONTAINS(g_carry, "reset: `int64_t per_thread`: its layout cannot be compared: it is "
                               "thread-local (one copy per thread): not carried");
    HB_CHECK_EQ(call_p(sb, "bump"), 1);
    e2e_free(sb, g_m);
}

static const e2e_case cases[] = {
    {"heap_holds_code_pointer", case_heap_holds_code_pointer},
    {"heap_freed_by_fini_resets", case_heap_freed_by_fini_resets},
    {"tls_hooked_not_refused", case_tls_hooked_not_refused},
    {"tls_named_reset", case_tls_named_reset},
};

int main(int argc, char **argv)
{
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
