/* versions/dwarf.c - static variables and their canonical type layouts from
 * a plugin's DWARF (libdw). The comparison of two versions is carry.c. */
#include "dwarf.h"
#include "marks.h"

#include "util.h"

#include <hotbox/hotbox.h>

#include <elfutils/libdw.h>
#include <dwarf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct u64v {
    uint64_t *v;
    size_t n, cap;
    bool failed;
} u64v;

static void u64v_push(u64v *a, uint64_t x)
{
    uint64_t *slot = a->failed ? NULL : hb__push(&a->v, &a->n, &a->cap, sizeof(*slot));
    if (slot)
        *slot = x;
    else
        a->failed = true;
}

/* Collects one variable's fields. */
typedef struct flat {
    hb_dwarf_field *f;
    size_t n, cap;
    bool oom;
    const char *unsupported;
    Dwarf_Off visiting[HB_DWARF_MAX_DEPTH]; /* pointee types being expanded */
    size_t nvisiting;
} flat;

static void add_field(flat *c, const char *path, uint64_t off, uint64_t size, uint32_t bo,
                      uint32_t bs, char *type)
{
    if (!type)
        c->oom = true;
    if (c->oom || c->unsupported) {
        free(type);
        return;
    }
    if (c->n == HB_DWARF_MAX_FIELDS) {
        c->unsupported = "its type has too many fields to compare";
        free(type);
        return;
    }
    char *p = strdup(path);
    hb_dwarf_field *f = p ? hb__push(&c->f, &c->n, &c->cap, sizeof(*f)) : NULL;
    if (!f) {
        c->oom = true;
        free(p);
        free(type);
        return;
    }
    *f = (hb_dwarf_field){p, off, size, bo, bs, type};
}

/* The type a DIE refers to (DW_AT_type), or false for void. */
static bool type_of(Dwarf_Die *die, Dwarf_Die *out)
{
    Dwarf_Attribute a;
    return dwarf_attr_integrate(die, DW_AT_type, &a) && dwarf_formref_die(&a, out);
}

/* Strips typedefs and qualifiers; false for void. */
static bool strip(Dwarf_Die *t, Dwarf_Die *out)
{
    Dwarf_Die cur = *t;
    for (int i = 0; i < 64; i++) {
        int tag = dwarf_tag(&cur);
        if (tag != DW_TAG_typedef && tag != DW_TAG_const_type && tag != DW_TAG_volatile_type &&
            tag != DW_TAG_restrict_type && tag != DW_TAG_atomic_type) {
            *out = cur;
            return true;
        }
        Dwarf_Die next;
        if (!type_of(&cur, &next))
            return false;
        cur = next;
    }
    return false;
}

static uint64_t size_of(Dwarf_Die *t)
{
    Dwarf_Word s;
    if (dwarf_aggregate_size(t, &s) == 0)
        return s;
    Dwarf_Attribute a;
    if (dwarf_attr_integrate(t, DW_AT_byte_size, &a) && dwarf_formudata(&a, &s) == 0)
        return s;
    return dwarf_tag(t) == DW_TAG_pointer_type ? sizeof(void *) : 0;
}

static const char *tag_word(int tag)
{
    switch (tag) {
    case DW_TAG_structure_type: return "struct";
    case DW_TAG_union_type: return "union";
    case DW_TAG_class_type: return "class";
    case DW_TAG_enumeration_type: return "enum";
    default: return NULL;
    }
}

/* Array bounds as "[4][2]" and the element count; false when unknown. */
static bool array_dims(Dwarf_Die *arr, hb_sb *dims, uint64_t *count)
{
    Dwarf_Die sub;
    *count = 1;
    if (dwarf_child(arr, &sub) != 0)
        return false;
    do {
        if (dwarf_tag(&sub) != DW_TAG_subrange_type)
            continue;
        Dwarf_Attribute a;
        Dwarf_Word n = 0;
        if (dwarf_attr(&sub, DW_AT_count, &a) && dwarf_formudata(&a, &n) == 0) {
        } else if (dwarf_attr(&sub, DW_AT_upper_bound, &a) && dwarf_formudata(&a, &n) == 0) {
            n += 1;
        } else {
            n = 0; /* flexible array member */
        }
        hb__sb_addf(dims, "[%" PRIu64 "]", (uint64_t)n);
        if (n && *count > UINT64_MAX / n)
            return false;
        *count *= n;
    } while (dwarf_siblingof(&sub, &sub) == 0);
    return true;
}

/* The canonical text of a (stripped) type, for messages and comparison. */
static char *type_text(Dwarf_Die *t)
{
    int tag = dwarf_tag(t);
    const char *name = dwarf_diename(t);
    const char *word = tag_word(tag);
    if (tag == DW_TAG_base_type)
        return strdup(name ? name : "<base>");
    if (tag == DW_TAG_pointer_type)
        return strdup("pointer");
    if (tag == DW_TAG_subroutine_type)
        return strdup("function");
    if (tag == DW_TAG_array_type)
        return strdup("array");
    if (tag != DW_TAG_enumeration_type)
        return word ? hb__asprintf("%s %s", word, name ? name : "<anonymous>")
                    : hb__asprintf("<DWARF tag 0x%x>", (unsigned)tag);
    /* Enumerators are part of the layout: renumbering changes meaning. */
    hb_sb sb = {0};
    hb__sb_addf(&sb, "enum %s {", name ? name : "<anonymous>");
    Dwarf_Die e;
    bool first = true;
    if (dwarf_child(t, &e) == 0) {
        do {
            Dwarf_Attribute a;
            Dwarf_Sword v = 0;
            if (dwarf_tag(&e) != DW_TAG_enumerator)
                continue;
            if (dwarf_attr(&e, DW_AT_const_value, &a))
                dwarf_formsdata(&a, &v);
            const char *en = dwarf_diename(&e);
            hb__sb_addf(&sb, "%s%s=%" PRId64, first ? "" : ",", en ? en : "?", (int64_t)v);
            first = false;
        } while (dwarf_siblingof(&e, &e) == 0);
    }
    hb__sb_adds(&sb, "}");
    return hb__sb_detach(&sb);
}

/* The declared type of a variable for humans: typedef names kept. */
static char *declared_name(Dwarf_Die *var)
{
    Dwarf_Die t;
    if (!type_of(var, &t))
        return strdup("void");
    for (int i = 0; i < 8 && (dwarf_tag(&t) == DW_TAG_const_type ||
                              dwarf_tag(&t) == DW_TAG_volatile_type); i++)
        if (!type_of(&t, &t))
            return strdup("void");
    if (dwarf_tag(&t) == DW_TAG_typedef)
        return strdup(dwarf_diename(&t) ? dwarf_diename(&t) : "<typedef>");
    Dwarf_Die s;
    if (!strip(&t, &s))
        return strdup("void");
    if (dwarf_tag(&s) == DW_TAG_array_type) {
        Dwarf_Die el, els;
        char *inner = type_of(&s, &el) && strip(&el, &els) ? type_text(&els) : strdup("void");
        hb_sb dims = {0};
        uint64_t n;
        array_dims(&s, &dims, &n);
        char *r = inner ? hb__asprintf("%s%s", inner, dims.buf ? dims.buf : "") : NULL;
        free(inner);
        hb__sb_release(&dims);
        return r;
    }
    if (dwarf_tag(&s) == DW_TAG_pointer_type) {
        Dwarf_Die p, ps;
        char *inner = type_of(&s, &p) && strip(&p, &ps) ? type_text(&ps) : strdup("void");
        char *r = inner ? hb__asprintf("%s *", inner) : NULL;
        free(inner);
        return r;
    }
    return type_text(&s);
}

static char *join(const char *path, const char *sep, const char *name)
{
    /* after "->" a member needs no dot: "->next", "->a.b" */
    size_t pl = strlen(path);
    bool after_arrow = pl >= 2 && strcmp(path + pl - 2, "->") == 0;
    return hb__asprintf("%s%s%s", path, after_arrow && sep[0] == '.' ? "" : sep, name);
}

static void flatten(flat *c, Dwarf_Die *type, const char *path, uint64_t off, u64v *ptrs,
                    unsigned depth);

static void flatten_members(flat *c, Dwarf_Die *t, const char *path, uint64_t off, u64v *ptrs,
                            unsigned depth)
{
    Dwarf_Die m;
    if (dwarf_child(t, &m) != 0)
        return;
    do {
        /* A C++ base class is laid out like a member: its fields (and the
         * vtable pointer, which lives in the first polymorphic base) are
         * the derived object's. */
        int tag = dwarf_tag(&m);
        if (tag != DW_TAG_member && tag != DW_TAG_inheritance)
            continue;
        Dwarf_Attribute a;
        Dwarf_Word loc = 0, bs = 0, dbo = 0;
        if (dwarf_attr(&m, DW_AT_data_member_location, &a) && dwarf_formudata(&a, &loc) != 0) {
            c->unsupported = "a member's offset is not a constant";
            return;
        }
        Dwarf_Die mt;
        if (!type_of(&m, &mt)) {
            c->unsupported = "a member has no type";
            return;
        }
        const char *name = dwarf_diename(&m);
        if (tag == DW_TAG_inheritance) {
            Dwarf_Die s;
            const char *base = strip(&mt, &s) ? dwarf_diename(&s) : NULL;
            char *label = hb__asprintf("(base %s)", base ? base : "<anonymous>");
            char *p = label ? join(path, ".", label) : NULL;
            free(label);
            if (!p) {
                c->oom = true;
                return;
            }
            flatten(c, &mt, p, off + loc, ptrs, depth + 1);
            free(p);
            continue;
        }
        if (dwarf_attr(&m, DW_AT_bit_size, &a) && dwarf_formudata(&a, &bs) == 0 && bs) {
            if (dwarf_attr(&m, DW_AT_data_bit_offset, &a) && dwarf_formudata(&a, &dbo) == 0) {
            } else if (dwarf_attr(&m, DW_AT_bit_offset, &a) && dwarf_formudata(&a, &dbo) == 0) {
                dbo += loc * 8; /* DWARF 2/3 form, big-endian numbering; still comparable */
            }
            Dwarf_Die s;
            char *p = join(path, ".", name ? name : "<anonymous>");
            char *text = strip(&mt, &s) ? type_text(&s) : strdup("void");
            if (!p)
                c->oom = true;
            else
                add_field(c, p, off, size_of(&mt), (uint32_t)dbo, (uint32_t)bs, text);
            free(p);
            continue;
        }
        if (!name) { /* anonymous struct/union: its members are the parent's */
            Dwarf_Die s;
            if (strip(&mt, &s))
                flatten_members(c, &s, path, off + loc, ptrs, depth + 1);
            continue;
        }
        char *p = join(path, ".", name);
        if (!p) {
            c->oom = true;
            return;
        }
        flatten(c, &mt, p, off + loc, ptrs, depth + 1);
        free(p);
    } while (!c->oom && !c->unsupported && dwarf_siblingof(&m, &m) == 0);
}

static void flatten_array(flat *c, Dwarf_Die *s, const char *path, uint64_t off, u64v *ptrs,
                          unsigned depth)
{
    hb_sb dims = {0};
    uint64_t count;
    Dwarf_Die el;
    if (!array_dims(s, &dims, &count) || !type_of(s, &el)) {
        hb__sb_release(&dims);
        c->unsupported = "an array's bounds are unknown";
        return;
    }
    add_field(c, path, off, size_of(s), 0, 0, hb__asprintf("array%s", dims.buf ? dims.buf : ""));
    hb__sb_release(&dims);
    uint64_t stride = size_of(&el);
    char *p = join(path, "", "[]");
    if (!p) {
        c->oom = true;
        return;
    }
    u64v elp = {0};
    flatten(c, &el, p, 0, ptrs ? &elp : NULL, depth + 1);
    free(p);
    if (ptrs && elp.n) {
        if (count > HB_DWARF_MAX_PTRS || elp.n * count > HB_DWARF_MAX_PTRS)
            c->unsupported = "it holds too many pointers to check";
        for (uint64_t i = 0; !c->unsupported && i < count; i++)
            for (size_t j = 0; j < elp.n; j++)
                u64v_push(ptrs, off + i * stride + elp.v[j]);
    }
    free(elp.v);
}

/* Appends the fields of `type` at `path`/`off`. ptrs: where the offsets of
 * pointers in the variable's own memory go (NULL inside a pointee). */
static void flatten(flat *c, Dwarf_Die *type, const char *path, uint64_t off, u64v *ptrs,
                    unsigned depth)
{
    if (c->oom || c->unsupported)
        return;
    if (depth > HB_DWARF_MAX_DEPTH) {
        c->unsupported = "its type nests too deeply to compare";
        return;
    }
    Dwarf_Die s;
    if (!strip(type, &s)) {
        add_field(c, path, off, 0, 0, 0, strdup("void"));
        return;
    }
    int tag = dwarf_tag(&s);
    switch (tag) {
    case DW_TAG_array_type:
        flatten_array(c, &s, path, off, ptrs, depth);
        return;
    case DW_TAG_structure_type:
    case DW_TAG_union_type:
    case DW_TAG_class_type:
        add_field(c, path, off, size_of(&s), 0, 0, type_text(&s));
        flatten_members(c, &s, path, off, ptrs, depth);
        return;
    case DW_TAG_pointer_type: {
        add_field(c, path, off, size_of(&s), 0, 0, strdup("pointer"));
        if (ptrs) {
            u64v_push(ptrs, off);
            if (ptrs->n > HB_DWARF_MAX_PTRS)
                c->unsupported = "it holds too many pointers to check";
        }
        /* What it points to must keep its layout too (heap data is carried
         * as it is); a type already being expanded ends the recursion. */
        Dwarf_Die pt, pts;
        if (!type_of(&s, &pt) || !strip(&pt, &pts) || dwarf_tag(&pts) == DW_TAG_subroutine_type)
            return;
        Dwarf_Off id = dwarf_dieoffset(&pts);
        for (size_t i = 0; i < c->nvisiting; i++)
            if (c->visiting[i] == id) {
                char *p = join(path, "", "->");
                char *text = type_text(&pts);
                char *t = text ? hb__asprintf("%s (recursive)", text) : NULL;
                free(text);
                if (p)
                    add_field(c, p, 0, 0, 0, 0, t);
                else
                    free(t), c->oom = true;
                free(p);
                return;
            }
        if (c->nvisiting == HB_DWARF_MAX_DEPTH) {
            c->unsupported = "its pointers nest too deeply to compare";
            return;
        }
        c->visiting[c->nvisiting++] = id;
        char *p = join(path, "", "->");
        if (p)
            flatten(c, &pts, p, 0, NULL, depth + 1);
        else
            c->oom = true;
        free(p);
        c->nvisiting--;
        return;
    }
    default:
        add_field(c, path, off, size_of(&s), 0, 0, type_text(&s));
        return;
    }
}

/* ---- variables ------------------------------------------------------------ */

typedef struct segs {
    struct { uint64_t lo, hi; } w[16];
    size_t nw;
    uint64_t relro_lo, relro_hi;
} segs;

static void read_segs(Elf *elf, segs *sg)
{
    size_t n = 0;
    memset(sg, 0, sizeof(*sg));
    if (elf_getphdrnum(elf, &n) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(elf, (int)i, &ph))
            continue;
        if (ph.p_type == PT_LOAD && (ph.p_flags & PF_W) && sg->nw < 16) {
            sg->w[sg->nw].lo = ph.p_vaddr;
            sg->w[sg->nw].hi = ph.p_vaddr + ph.p_memsz;
            sg->nw++;
        } else if (ph.p_type == PT_GNU_RELRO) {
            sg->relro_lo = ph.p_vaddr;
            sg->relro_hi = ph.p_vaddr + ph.p_memsz;
        }
    }
}

/* Whether [a, a+n) may be written after relocation (not RELRO, not text). */
static bool writable(const segs *sg, uint64_t a, uint64_t n)
{
    if (a + n < a)
        return false;
    if (a < sg->relro_hi && a + n > sg->relro_lo)
        return false;
    for (size_t i = 0; i < sg->nw; i++)
        if (a >= sg->w[i].lo && a + n <= sg->w[i].hi)
            return true;
    return false;
}

typedef struct walk {
    hb_dwarf_info *info;
    size_t cap;
    const segs *sg;
    const hb_carry_marks *marks;
    const char *cu;
    bool oom;
} walk;

static bool seen_addr(const hb_dwarf_info *info, uint64_t addr)
{
    for (size_t i = 0; i < info->nvars; i++)
        if (info->vars[i].addr == addr)
            return true;
    return false;
}

static void var_free(hb_dwarf_var *v)
{
    for (size_t i = 0; i < v->nfields; i++) {
        free(v->fields[i].path);
        free(v->fields[i].type);
    }
    HB_FREE_ALL(v->fields, v->ptrs, v->key, v->name, v->type_name);
}

static void add_var(walk *w, Dwarf_Die *die, const char *fn)
{
    Dwarf_Attribute a;
    Dwarf_Op *ops;
    size_t nops;
    if (dwarf_hasattr(die, DW_AT_declaration) ||
        !dwarf_attr_integrate(die, DW_AT_location, &a) ||
        dwarf_getlocation(&a, &ops, &nops) != 0)
        return;
    /* Thread-local: an offset in each thread's block, then the TLS op. It
     * is listed (so the swap event names it as reset), never copied. */
    bool tls = nops == 2 && (ops[1].atom == DW_OP_form_tls_address ||
                             ops[1].atom == DW_OP_GNU_push_tls_address);
    if (!tls && (nops != 1 || ops[0].atom != DW_OP_addr))
        return; /* not at a fixed address: automatic, optimised out */
    const char *name = dwarf_diename(die);
    if (!dwarf_attr_integrate(die, DW_AT_name, &a) || !(name = dwarf_formstring(&a)))
        return;
    if (!fn && strcmp(name, "hb_plugin") == 0)
        return; /* the descriptor belongs to its version */
    Dwarf_Die t;
    if (!type_of(die, &t))
        return;
    uint64_t addr = ops[0].number, size = size_of(&t);
    if (!size || (!tls && (!writable(w->sg, addr, size) || seen_addr(w->info, addr))))
        return;
    if (addr < w->marks->hi && addr + size > w->marks->lo)
        return; /* an HB_CARRY mark itself */
    if (w->info->nvars == HB_DWARF_MAX_VARS)
        return;
    if (w->info->nvars == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        hb_dwarf_var *nv = realloc(w->info->vars, cap * sizeof(*nv));
        if (!nv) {
            w->oom = true;
            return;
        }
        w->info->vars = nv;
        w->cap = cap;
    }
    hb_dwarf_var v = {0};
    v.addr = addr;
    v.size = size;
    v.key = hb__asprintf("%s|%s|%s", w->cu, fn ? fn : "", name);
    v.name = fn ? hb__asprintf("%s (in %s)", name, fn) : strdup(name);
    v.type_name = declared_name(die);
    flat c = {0};
    u64v ptrs = {0};
    flatten(&c, &t, "", 0, &ptrs, 0);
    v.fields = c.f;
    v.nfields = c.n;
    v.ptrs = ptrs.v;
    v.nptrs = ptrs.n;
    v.unsupported = tls ? "it is thread-local (one copy per thread): not carried"
                        : c.unsupported;
    v.tls = tls;
    if (tls)
        v.addr = 0; /* no address in the object: nothing may copy it */
    for (size_t i = 0; i < w->marks->n && !v.marked && !tls; i++)
        v.marked = w->marks->addr[i] == addr;
    if (!v.key || !v.name || !v.type_name || c.oom || ptrs.failed) {
        var_free(&v);
        w->oom = true;
        return;
    }
    /* Two statics of one name in one function (separate blocks). */
    for (size_t i = 0, k = 2; i < w->info->nvars; i++)
        if (strcmp(w->info->vars[i].key, v.key) == 0) {
            char *nk = hb__asprintf("%s#%zu", v.key, k++);
            if (!nk) {
                var_free(&v);
                w->oom = true;
                return;
            }
            free(v.key);
            v.key = nk;
            i = (size_t)-1;
        }
    w->info->vars[w->info->nvars++] = v;
}

/* Variables of a CU, of functions (function-local statics) and of their
 * lexical blocks. */
static void walk_children(walk *w, Dwarf_Die *parent, const char *fn, unsigned depth)
{
    Dwarf_Die d;
    if (depth > 64 || dwarf_child(parent, &d) != 0)
        return;
    do {
        int tag = dwarf_tag(&d);
        if (tag == DW_TAG_variable) {
            add_var(w, &d, fn);
        } else if (tag == DW_TAG_subprogram) {
            Dwarf_Attribute a;
            const char *n = dwarf_attr_integrate(&d, DW_AT_name, &a) ? dwarf_formstring(&a) : NULL;
            walk_children(w, &d, n ? n : "<anonymous function>", depth + 1);
        } else if (tag == DW_TAG_lexical_block && fn) {
            walk_children(w, &d, fn, depth + 1);
        }
    } while (!w->oom && dwarf_siblingof(&d, &d) == 0);
}

/* How many marks there are, and the first that names no listed variable. */
static int check_marks(Elf *elf, hb_dwarf_info *info, const hb_carry_marks *marks)
{
    info->nmarks = marks->n;
    for (size_t i = 0; i < marks->n; i++) {
        if (seen_addr(info, marks->addr[i]))
            continue;
        char *name = hb__carry_mark_name(elf, marks->addr[i]);
        info->mark_problem =
            name ? hb__asprintf("HB_CARRY(%s): `%s` is not a writable static (const or "
                                "thread-local?): nothing to carry", name, name)
                 : hb__asprintf("an HB_CARRY mark names no writable static (address 0x%" PRIx64
                                ")", marks->addr[i]);
        free(name);
        return info->mark_problem ? 0 : -1;
    }
    return 0;
}

static int analyze(Elf *elf, hb_dwarf_info *info, const char *path, char **err)
{
    Dwarf *dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
    if (!dw) {
        info->has_debug = false; /* no .debug_info */
        return 0;
    }
    info->has_debug = true;
    segs sg;
    read_segs(elf, &sg);
    hb_carry_marks marks;
    if (hb__carry_marks_read(elf, &marks) < 0) {
        dwarf_end(dw);
        *err = hb__asprintf("%s: out of memory reading its HB_CARRY marks", path);
        return -ENOMEM;
    }
    walk w = {info, 0, &sg, &marks, "", false};
    Dwarf_Off off = 0, next;
    size_t hsize;
    while (!w.oom && dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
        Dwarf_Die cu;
        if (dwarf_offdie(dw, off + hsize, &cu)) {
            const char *n = dwarf_diename(&cu);
            w.cu = n ? n : "";
            walk_children(&w, &cu, NULL, 0);
        }
        off = next;
    }
    dwarf_end(dw);
    if (!w.oom)
        w.oom = check_marks(elf, info, &marks) < 0;
    free(marks.addr);
    if (w.oom) {
        *err = hb__asprintf("%s: out of memory reading its DWARF", path);
        return -ENOMEM;
    }
    return 0;
}

int hb_dwarf_analyze_file(const char *path, hb_dwarf_info **out, char **err)
{
    *err = NULL;
    int fd;
    do
        fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        int e = errno;
        *err = hb__asprintf("cannot open %s: %s", path, strerror(e));
        return -e;
    }
    elf_version(EV_CURRENT);
    int r = 0;
    hb_dwarf_info *info = calloc(1, sizeof(*info));
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    if (!info) {
        r = -ENOMEM;
        *err = hb__asprintf("%s: out of memory", path);
    } else if (!elf || elf_kind(elf) != ELF_K_ELF) {
        r = HB_EBADELF;
        *err = hb__asprintf("%s: not an ELF file: %s", path, elf_errmsg(-1));
    } else {
        r = analyze(elf, info, path, err);
    }
    if (elf)
        elf_end(elf);
    close(fd);
    if (r < 0) {
        hb_dwarf_info_free(info);
        return r;
    }
    *out = info;
    return 0;
}

void hb_dwarf_info_free(hb_dwarf_info *info)
{
    if (!info)
        return;
    for (size_t i = 0; i < info->nvars; i++)
        var_free(&info->vars[i]);
    free(info->vars);
    free(info->mark_problem);
    free(info);
}
