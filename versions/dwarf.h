/*
 * versions/dwarf.h - the static variables of a compiled plugin and their
 * type layouts, read from its DWARF with libdw, and the comparison of two
 * versions' layouts that decides which variables a swap may carry.
 *
 * hb_dwarf_analyze_file lists every file-scope and function-local static
 * (and global) variable that lives at a fixed address in a writable,
 * non-RELRO segment of the object: its name and scope, its link-time
 * address, its size, and its canonical layout. A layout is a flat list of
 * fields in pre-order: the variable itself (path ""), then every member
 * (".hits"), array element type ("[]"), and the type a pointer points to
 * ("->"), each with its offset (from the start of the variable, of one
 * array element or of the pointee), size, bit position and a type text
 * with typedefs and qualifiers removed ("long int", "struct stats",
 * "array[4]", "pointer", "enum mode {A=0,B=1}"). Two variables may be
 * carried from one version to the next exactly when their field lists
 * are identical. The offsets of the pointers inside the variable's own
 * memory are listed too: the worker checks at transfer time that none of
 * them points into the old object (see proto/PROTOCOL.md, SWAP).
 *
 * Variables the object marks with HB_CARRY (plugin.h) are flagged
 * `marked`; the marks are read from the section "hotbox_carry" and its
 * relocations (marks.c), and the marks' own pointers are not listed.
 *
 * The analysis never maps or runs the object. Sizes are bounded (fields
 * and pointers per variable, nesting depth): a variable past a bound is
 * listed with `unsupported` set, and is never carried.
 */
#ifndef HB_DWARF_H
#define HB_DWARF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds of one variable's layout. */
#define HB_DWARF_MAX_FIELDS 4096u
#define HB_DWARF_MAX_PTRS 65536u
#define HB_DWARF_MAX_DEPTH 24u
/* Variables per object past which the rest are not listed (reset). */
#define HB_DWARF_MAX_VARS 65536u

typedef struct hb_dwarf_field {
    char *path;           /* "" (the variable), ".hits", "[]", "->", ".a[].b", ... */
    uint64_t offset;      /* bytes from the start of the enclosing object */
    uint64_t size;
    uint32_t bit_offset;  /* bit-fields: bits from the struct's start; else 0 */
    uint32_t bit_size;    /* bit-fields: width; else 0 */
    char *type;           /* canonical type text, see above */
} hb_dwarf_field;

typedef struct hb_dwarf_var {
    char *key;            /* unique in the object: "CU|function|name" */
    char *name;           /* for humans: "count" or "count (in tick)" */
    char *type_name;      /* the declared type: "struct stats", "long int" */
    uint64_t addr;        /* link-time address (the object's vaddr) */
    uint64_t size;
    hb_dwarf_field *fields;
    size_t nfields;
    uint64_t *ptrs;       /* offsets of pointers inside the variable */
    size_t nptrs;
    const char *unsupported; /* non-NULL: why the layout cannot be compared */
    bool marked;          /* the object marks it with HB_CARRY (plugin.h) */
    bool tls;             /* thread-local: listed (reset, named), never copied */
} hb_dwarf_var;

typedef struct hb_dwarf_info {
    bool has_debug;       /* false: the object has no DWARF (built without -g) */
    hb_dwarf_var *vars;
    size_t nvars;
    /* HB_CARRY marks (plugin.h, versions/marks.c): how many the object
     * has, and the first one that names no variable listed here (a const
     * or thread-local one), for humans ("`limit` is not a writable
     * static"); NULL when every mark names one. */
    size_t nmarks;
    char *mark_problem;
} hb_dwarf_info;

/* Analyses the object at path. Returns 0 (an object without debug info is
 * a success with has_debug false), or a negative errno / HB_EBADELF with
 * *err naming the file and what went wrong. *out is written only on 0;
 * free it with hb_dwarf_info_free. */
int hb_dwarf_analyze_file(const char *path, hb_dwarf_info **out, char **err);
void hb_dwarf_info_free(hb_dwarf_info *info);

/* What a swap does with one variable of the new version. */
typedef enum hb_carry_action {
    HB_CARRY_COPY = 0,    /* identical layout: the old value is copied */
    HB_CARRY_RESET = 1,   /* the layout changed: the new initial value */
    HB_CARRY_NEW = 2,     /* no such variable before: the new initial value */
    HB_CARRY_UNMARKED = 3, /* identical layout, but the new version marks
                            * others with HB_CARRY: the new initial value */
} hb_carry_action;

typedef struct hb_carry_entry {
    const hb_dwarf_var *var;  /* the new version's variable (borrowed) */
    const hb_dwarf_var *old;  /* the old version's, or NULL when new */
    hb_carry_action action;
    char *reason;         /* RESET: "`struct stats counters`: member `hits` moved from offset 0 to 8" */
} hb_carry_entry;

typedef struct hb_carry_plan {
    hb_carry_entry *entries;  /* one per new variable, in the new object's order */
    size_t nentries;
    size_t ncopy, nreset;
    /* The new version marks statics with HB_CARRY: only they are COPY,
     * the other identical ones UNMARKED. */
    bool marked;
} hb_carry_plan;

/* Compares old and new (both with debug info). When new marks statics
 * (new_->nmarks), only the marked ones may be copied. Borrowing: the plan points
 * at both infos' variables, so it must be freed before them. Returns 0 or
 * -ENOMEM. */
int hb_carry_plan_make(const hb_dwarf_info *old, const hb_dwarf_info *new_, hb_carry_plan *out);
void hb_carry_plan_release(hb_carry_plan *plan);

/* The first difference between two variables' layouts as one line naming
 * the type and field (malloc'ed), or NULL when they are identical (or out
 * of memory: *oom is set then). */
char *hb_dwarf_layout_diff(const hb_dwarf_var *old, const hb_dwarf_var *new_, bool *oom);

#endif /* HB_DWARF_H */
