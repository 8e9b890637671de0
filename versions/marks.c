/* versions/marks.c - the HB_CARRY marks of a compiled plugin (plugin.h):
 * the section "hotbox_carry" holds one pointer per mark; each is resolved
 * the way the dynamic loader would, without mapping or running anything:
 * a dynamic relocation at the slot gives the address (RELATIVE: its
 * addend; against a symbol the object defines: the symbol's value plus the
 * addend); a slot without one (RELR, or a prelinked object) holds it. The
 * addresses are matched to the DWARF variables by dwarf.c. */
#include "marks.h"
#include "dwarf.h"

#include "util.h"

#include <errno.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>

#define SLOT 8u /* pointers of a 64-bit object */

static Elf_Scn *find_section(Elf *elf, const char *name, GElf_Shdr *sh)
{
    size_t shstrndx;
    if (elf_getshdrstrndx(elf, &shstrndx) != 0)
        return NULL;
    for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn; scn = elf_nextscn(elf, scn)) {
        const char *n;
        if (gelf_getshdr(scn, sh) && (n = elf_strptr(elf, shstrndx, sh->sh_name)) &&
            strcmp(n, name) == 0)
            return scn;
    }
    return NULL;
}

/* The value the loader would store at slot address a, from the dynamic
 * relocations; false when none applies there. */
static bool relocated(Elf *elf, uint64_t a, uint64_t *out)
{
    for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn; scn = elf_nextscn(elf, scn)) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA || !sh.sh_entsize)
            continue;
        Elf_Data *d = elf_getdata(scn, NULL);
        Elf_Scn *symscn = elf_getscn(elf, sh.sh_link);
        Elf_Data *syms = symscn ? elf_getdata(symscn, NULL) : NULL;
        for (size_t i = 0; d && i < sh.sh_size / sh.sh_entsize; i++) {
            GElf_Rela r;
            if (!gelf_getrela(d, (int)i, &r) || r.r_offset != a)
                continue;
            size_t si = GELF_R_SYM(r.r_info);
            if (si == 0) { /* RELATIVE */
                *out = (uint64_t)r.r_addend;
                return true;
            }
            GElf_Sym s;
            if (!syms || !gelf_getsym(syms, (int)si, &s) || s.st_shndx == SHN_UNDEF)
                return false; /* points outside the object: no static of it */
            *out = s.st_value + (uint64_t)r.r_addend;
            return true;
        }
    }
    return false;
}

int hb__carry_marks_read(Elf *elf, hb_carry_marks *out)
{
    memset(out, 0, sizeof(*out));
    GElf_Shdr sh;
    Elf_Scn *scn = find_section(elf, HB_CARRY_MARK_SECTION, &sh);
    if (!scn || sh.sh_type != SHT_PROGBITS)
        return 0; /* no marks */
    out->lo = sh.sh_addr;
    out->hi = sh.sh_addr + sh.sh_size;
    size_t n = sh.sh_size / SLOT;
    if (n > HB_CARRY_MAX_MARKS)
        n = HB_CARRY_MAX_MARKS;
    if (n && !(out->addr = calloc(n, sizeof(*out->addr))))
        return -ENOMEM;
    Elf_Data *d = elf_getdata(scn, NULL);
    for (size_t i = 0; i < n; i++) {
        uint64_t slot = sh.sh_addr + i * SLOT, v = 0;
        if (!relocated(elf, slot, &v) && d && d->d_buf && (i + 1) * SLOT <= d->d_size)
            memcpy(&v, (const char *)d->d_buf + i * SLOT, SLOT);
        if (v)
            out->addr[out->n++] = v;
    }
    return 0;
}

char *hb__carry_mark_name(Elf *elf, uint64_t addr)
{
    for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn; scn = elf_nextscn(elf, scn)) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize)
            continue;
        Elf_Data *d = elf_getdata(scn, NULL);
        for (size_t i = 0; d && i < sh.sh_size / sh.sh_entsize; i++) {
            GElf_Sym s;
            const char *n;
            if (gelf_getsym(d, (int)i, &s) && s.st_value == addr &&
                GELF_ST_TYPE(s.st_info) == STT_OBJECT &&
                (n = elf_strptr(elf, sh.sh_link, s.st_name)) && n[0])
                return strdup(n);
        }
    }
    return NULL;
}
