/* The DWARF layout comparison (versions/dwarf.h) on objects built by the
 * real `cc -g` at test time: identical layouts carry, every kind of change
 * resets with the field named (structs, unions, arrays, bit-fields,
 * typedef chains, anonymous members, function-local statics, pointers),
 * new variables start fresh, const data and the descriptor are never
 * listed, and an object without -g says it has no debug info.
 * One case per process: test_dwarf CASE. */
#include <stdio.h>

#include "dwarf.h"
#include "vtest.h"

static char *g_dir;

static hb_dwarf_info *analyze_src(const char *name, const char *src, const char *flags)
{
    /* One source path for every build: the compile unit keeps its name. */
    char *cpath = hb__asprintf("%s/plugin.c", g_dir);
    char *opath = vt_path(g_dir, name);
    vt_write_str(cpath, src);
    char *cmd = hb__asprintf("cc %s -shared -fPIC -I%s/include -o %s %s", flags, HB_SOURCE_DIR,
                             opath, cpath);
    char **argv = hb__split_blank(cmd);
    int st = vt_run(argv);
    if (st != 0)
        HB_FAIL_("%s failed with status %d", cmd, st);
    hb__strv_free(argv);
    free(cmd);
    hb_dwarf_info *info = NULL;
    char *err = NULL;
    int r = hb_dwarf_analyze_file(opath, &info, &err);
    if (r != 0)
        HB_FAIL_("hb_dwarf_analyze_file(%s) = %d: %s", opath, r, err ? err : "");
    free(cpath);
    free(opath);
    return info;
}

static const hb_carry_entry *entry(const hb_carry_plan *p, const char *name)
{
    for (size_t i = 0; i < p->nentries; i++)
        if (strcmp(p->entries[i].var->name, name) == 0)
            return &p->entries[i];
    HB_FAIL_("no variable named %s in the plan (%zu entries)", name, p->nentries);
    return NULL;
}

/* Builds both sources (same file name: the same compile unit), compares. */
static void expect(const char *old_src, const char *new_src, const char *var,
                   hb_carry_action action, const char *reason)
{
    hb_dwarf_info *o = analyze_src("old", old_src, "-O2 -g");
    hb_dwarf_info *n = analyze_src("new", new_src, "-O2 -g");
    HB_CHECK(o->has_debug);
    HB_CHECK(n->has_debug);
    hb_carry_plan p;
    HB_CHECK_OK(hb_carry_plan_make(o, n, &p));
    const hb_carry_entry *e = entry(&p, var);
    if ((int)e->action != (int)action)
        HB_FAIL_("%s: action %d, expected %d (reason: %s)", var, (int)e->action, (int)action,
                 e->reason ? e->reason : "none");
    if (reason)
        HB_CHECK_CONTAINS(e->reason, reason);
    else
        HB_CHECK(e->reason == NULL);
    hb_carry_plan_release(&p);
    hb_dwarf_info_free(o);
    hb_dwarf_info_free(n);
}

#define P "#include <hotbox/plugin.h>\n"
#define DESC "HB_PLUGIN(\"t\", 1, 0, 0, 0, 0);\n"

static void case_identical(void)
{
    expect(P "struct stats { long hits, misses; };\n static struct stats counters;\n"
             "HB_EXPORT_FN long f(void) { return ++counters.hits; }\n" DESC,
           P "struct stats { long hits, misses; };\n static struct stats counters;\n"
             "HB_EXPORT_FN long f(void) { return counters.hits += 2; }\n" DESC,
           "counters", HB_CARRY_COPY, NULL);
}

static void case_struct_reorder(void)
{
    expect(P "struct stats { long hits, misses; };\n static struct stats counters;\n"
             "HB_EXPORT_FN long f(void) { return ++counters.hits + counters.misses; }\n" DESC,
           P "struct stats { long misses, hits; };\n static struct stats counters;\n"
             "HB_EXPORT_FN long f(void) { return ++counters.hits + counters.misses; }\n" DESC,
           "counters", HB_CARRY_RESET,
           "`struct stats counters`: member `hits` moved from offset 0 to 8");
}

static void case_member_added(void)
{
    expect(P "struct stats { long hits; };\n static struct stats counters;\n"
             "HB_EXPORT_FN long f(void) { return ++counters.hits; }\n" DESC,
           P "struct stats { long hits; int extra; };\n static struct stats counters;\n"
             "HB_EXPORT_FN long f(void) { return ++counters.hits + counters.extra; }\n" DESC,
           "counters", HB_CARRY_RESET, "member `extra` added");
}

static void case_type_changed(void)
{
    expect(P "static long count;\nHB_EXPORT_FN long f(void) { return ++count; }\n" DESC,
           P "static int count;\nHB_EXPORT_FN long f(void) { return ++count; }\n" DESC, "count",
           HB_CARRY_RESET, "type changed from `long int` to `int`");
}

static void case_union(void)
{
    expect(P "static union { int i; float f; } u;\nHB_EXPORT_FN int f(void) { return ++u.i; }\n" DESC,
           P "static union { int i; double f; } u;\nHB_EXPORT_FN int f(void) { return ++u.i; }\n" DESC,
           "u", HB_CARRY_RESET, "member `f` changed type from `float` to `double`");
}

static void case_array_bound(void)
{
    expect(P "static long hist[4];\nHB_EXPORT_FN long f(int i) { return ++hist[i & 3]; }\n" DESC,
           P "static long hist[8];\nHB_EXPORT_FN long f(int i) { return ++hist[i & 7]; }\n" DESC,
           "hist", HB_CARRY_RESET, "type changed from `array[4]` to `array[8]`");
}

static void case_array_of_struct(void)
{
    expect(P "struct p { int x, y; };\nstatic struct p pts[3];\n"
             "HB_EXPORT_FN int f(int i) { return ++pts[i % 3].y; }\n" DESC,
           P "struct p { int y, x; };\nstatic struct p pts[3];\n"
             "HB_EXPORT_FN int f(int i) { return ++pts[i % 3].y; }\n" DESC,
           "pts", HB_CARRY_RESET, "member `[].x` moved from offset 0 to 4");
}

static void case_bitfield(void)
{
    expect(P "static struct { unsigned a : 3, b : 5; } flags;\n"
             "HB_EXPORT_FN int f(void) { return ++flags.b + flags.a; }\n" DESC,
           P "static struct { unsigned a : 4, b : 4; } flags;\n"
             "HB_EXPORT_FN int f(void) { return ++flags.b + flags.a; }\n" DESC,
           "flags", HB_CARRY_RESET, "bit-field `a` moved from bits 0:3 to 0:4");
}

static void case_typedef_chain(void)
{
    /* Typedef names are not layout: a chain that ends in the same type carries. */
    expect(P "typedef long count_t;\nstatic count_t n;\nHB_EXPORT_FN long f(void) { return ++n; }\n" DESC,
           P "typedef long base_t;\ntypedef base_t count_t;\nstatic const volatile count_t *p;\n"
             "static count_t n;\nHB_EXPORT_FN long f(void) { return ++n + (p != 0); }\n" DESC,
           "n", HB_CARRY_COPY, NULL);
}

static void case_anonymous_member(void)
{
    expect(P "static struct { int kind; union { int i; float f; }; } v;\n"
             "HB_EXPORT_FN int f(void) { return ++v.i + v.kind; }\n" DESC,
           P "static struct { union { int i; float f; }; int kind; } v;\n"
             "HB_EXPORT_FN int f(void) { return ++v.i + v.kind; }\n" DESC,
           "v", HB_CARRY_RESET, "member `kind` moved from offset 0 to 4");
}

static void case_function_local(void)
{
    expect(P "HB_EXPORT_FN long tick(void) { static long count; return ++count; }\n" DESC,
           P "HB_EXPORT_FN long tick(void) { static long count; return count += 2; }\n" DESC,
           "count (in tick)", HB_CARRY_COPY, NULL);
    expect(P "HB_EXPORT_FN long tick(void) { static long count; return ++count; }\n" DESC,
           P "HB_EXPORT_FN long tick(void) { static short count; return ++count; }\n" DESC,
           "count (in tick)", HB_CARRY_RESET, "from `long int` to `short int`");
}

static void case_pointee(void)
{
    expect(P "#include <stdlib.h>\nstruct node { struct node *next; int v; };\n"
             "static struct node *head;\nHB_EXPORT_FN int f(void) { struct node *n = malloc(sizeof *n);"
             " n->next = head; n->v = 1; head = n; return head->v; }\n" DESC,
           P "#include <stdlib.h>\nstruct node { int v; struct node *next; };\n"
             "static struct node *head;\nHB_EXPORT_FN int f(void) { struct node *n = malloc(sizeof *n);"
             " n->next = head; n->v = 1; head = n; return head->v; }\n" DESC,
           "head", HB_CARRY_RESET, "member `->next` moved from offset 0 to 8");
}

static void case_new_variable(void)
{
    expect(P "static long a;\nHB_EXPORT_FN long f(void) { return ++a; }\n" DESC,
           P "static long a, b;\nHB_EXPORT_FN long f(void) { return ++a + ++b; }\n" DESC, "b",
           HB_CARRY_NEW, NULL);
}

/* Pointer offsets inside the variable: the worker checks these. */
static void case_pointer_offsets(void)
{
    hb_dwarf_info *i = analyze_src("ptrs", P "struct s { long n; char *p[2]; void (*fn)(void); };\n"
                                             "static struct s v;\nHB_EXPORT_FN long f(void) { return ++v.n + (v.p[1] != 0) + (v.fn != 0); }\n" DESC,
                                   "-O2 -g");
    const hb_dwarf_var *v = NULL;
    for (size_t k = 0; k < i->nvars; k++)
        if (!strcmp(i->vars[k].name, "v"))
            v = &i->vars[k];
    HB_CHECK(v != NULL);
    HB_CHECK_EQ(v->nptrs, 3);
    HB_CHECK_EQ(v->ptrs[0], 8);
    HB_CHECK_EQ(v->ptrs[1], 16);
    HB_CHECK_EQ(v->ptrs[2], 24);
    hb_dwarf_info_free(i);
}

/* const data (read-only after relocation) and the descriptor are never
 * carried; an object without -g has no debug info. */
static void case_not_listed(void)
{
    const char *src = P "static const long table[4] = {1, 2, 3, 4};\nstatic long live;\n"
                        "HB_EXPORT_FN long f(int i) { return table[i & 3] + ++live; }\n" DESC;
    hb_dwarf_info *i = analyze_src("ro", src, "-O2 -g");
    HB_CHECK_EQ(i->nvars, 1);
    HB_CHECK_STR(i->vars[0].name, "live");
    hb_dwarf_info_free(i);
    i = analyze_src("nodebug", src, "-O2");
    HB_CHECK(!i->has_debug);
    HB_CHECK_EQ(i->nvars, 0);
    hb_dwarf_info_free(i);
}

static const hb_dwarf_var *var_named(const hb_dwarf_info *i, const char *name)
{
    for (size_t k = 0; k < i->nvars; k++)
        if (strcmp(i->vars[k].name, name) == 0)
            return &i->vars[k];
    HB_FAIL_("no variable named %s (%zu listed)", name, i->nvars);
    return NULL;
}

/* HB_CARRY marks resolve to their variables: a static (RELATIVE
 * relocation), a global (a relocation against its symbol), a function-local
 * static; with packed relative relocations (RELR: the address sits in the
 * slot) too. The marks themselves are not listed, and a plan of a marking
 * version copies only the marked statics. */
static void case_marks(void)
{
    const char *src = P "static long a;\nHB_CARRY(a);\nlong g;\nHB_CARRY(g);\nstatic long plain;\n"
                        "HB_EXPORT_FN long f(void) { static int n; HB_CARRY(n); return ++n + ++a + ++g"
                        " + ++plain; }\n" DESC;
    const char *flags[] = {"-O2 -g", "-O2 -g -Wl,-z,pack-relative-relocs"};
    for (size_t k = 0; k < 2; k++) {
        hb_dwarf_info *i = analyze_src(k ? "marks_relr" : "marks", src, flags[k]);
        HB_CHECK_EQ(i->nmarks, 3);
        HB_CHECK_EQ(i->nvars, 4);
        HB_CHECK(var_named(i, "a")->marked);
        HB_CHECK(var_named(i, "g")->marked);
        HB_CHECK(var_named(i, "n (in f)")->marked);
        HB_CHECK(!var_named(i, "plain")->marked);
        HB_CHECK(i->mark_problem == NULL);
        hb_carry_plan p;
        HB_CHECK_OK(hb_carry_plan_make(i, i, &p));
        HB_CHECK(p.marked);
        HB_CHECK_EQ(p.ncopy, 3);
        HB_CHECK_EQ(entry(&p, "plain")->action, HB_CARRY_UNMARKED);
        HB_CHECK_EQ(entry(&p, "a")->action, HB_CARRY_COPY);
        hb_carry_plan_release(&p);
        hb_dwarf_info_free(i);
    }
}

static const struct {
    const char *name;
    void (*fn)(void);
} cases[] = {
    {"identical", case_identical},       {"struct_reorder", case_struct_reorder},
    {"member_added", case_member_added}, {"type_changed", case_type_changed},
    {"union", case_union},               {"array_bound", case_array_bound},
    {"array_of_struct", case_array_of_struct}, {"bitfield", case_bitfield},
    {"typedef_chain", case_typedef_chain}, {"anonymous_member", case_anonymous_member},
    {"function_local", case_function_local}, {"pointee", case_pointee},
    {"new_variable", case_new_variable}, {"pointer_offsets", case_pointer_offsets},
    {"not_listed", case_not_listed},     {"marks", case_marks},
};

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_dwarf CASE\n");
        return 2;
    }
    g_dir = vt_tmpdir("hb-dwarf-");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (!strcmp(argv[1], cases[i].name)) {
            cases[i].fn();
            hb__rm_rf(g_dir);
            return 0;
        }
    fprintf(stderr, "no case %s\n", argv[1]);
    return 2;
}
