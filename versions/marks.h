/* versions/marks.h - private: the HB_CARRY marks of an object (marks.c),
 * read by the DWARF analysis (dwarf.c). */
#ifndef HB_VERSIONS_MARKS_H
#define HB_VERSIONS_MARKS_H

#include <gelf.h>
#include <stddef.h>
#include <stdint.h>

#define HB_CARRY_MARK_SECTION "hotbox_carry" /* plugin.h HB_CARRY_SECTION */
#define HB_CARRY_MAX_MARKS 4096u             /* marks past this are ignored */

typedef struct hb_carry_marks {
    uint64_t lo, hi;   /* the section's link-time range ([0, 0): none) */
    uint64_t *addr;    /* the marked addresses */
    size_t n;
} hb_carry_marks;

/* Reads the marks of elf. 0 (none is a success) or -ENOMEM; free
 * out->addr. */
int hb__carry_marks_read(Elf *elf, hb_carry_marks *out);
/* The symbol name of the object at addr (.symtab), malloc'ed, or NULL. */
char *hb__carry_mark_name(Elf *elf, uint64_t addr);

#endif /* HB_VERSIONS_MARKS_H */
