/*
 * versions/elf_desc.c - the plugin name an object's hb_plugin descriptor
 * carries, read from the file without loading it.
 *
 * The descriptor's `name` member is a pointer: in a position-independent
 * object the file holds a dynamic relocation for it (R_*_RELATIVE with the
 * string's address as addend, or an absolute relocation against a defined
 * symbol), or, when the linker applied it, the address in place. The
 * address is mapped to a file offset through the PT_LOAD segments and the
 * string read from there, bounded. Called by elf.c's analysis after every
 * section and segment was checked against the image length.
 */
#include <gelf.h>
#include <libelf.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "elf.h"
#include "hotbox/plugin.h"

#if defined(__x86_64__)
#define REL_RELATIVE R_X86_64_RELATIVE
#define REL_ABS64 R_X86_64_64
#elif defined(__aarch64__)
#define REL_RELATIVE R_AARCH64_RELATIVE
#define REL_ABS64 R_AARCH64_ABS64
#endif

/* The file offset of virtual address addr and how many file bytes follow
 * it in its segment; 0 when no PT_LOAD holds it in the file. */
static size_t file_bytes_at(Elf *e, size_t len, uint64_t addr, uint64_t *off)
{
    size_t phnum = 0;
    if (elf_getphdrnum(e, &phnum) != 0)
        return 0;
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD)
            continue;
        if (addr < ph.p_vaddr || addr - ph.p_vaddr >= ph.p_filesz)
            continue;
        uint64_t o = ph.p_offset + (addr - ph.p_vaddr);
        if (o >= len)
            return 0;
        *off = o;
        uint64_t left = ph.p_filesz - (addr - ph.p_vaddr);
        return left < len - o ? (size_t)left : len - o;
    }
    return 0;
}

/* The value of symbol idx of the symbol table linked from a relocation
 * section, when it is defined. */
static bool symbol_value(Elf *e, const GElf_Shdr *rsh, size_t idx, uint64_t *value)
{
    Elf_Scn *ss = elf_getscn(e, rsh->sh_link);
    GElf_Shdr sh;
    Elf_Data *d = ss && gelf_getshdr(ss, &sh) ? elf_getdata(ss, NULL) : NULL;
    GElf_Sym sym;
    if (!d || sh.sh_entsize != sizeof(Elf64_Sym) || idx >= sh.sh_size / sizeof(Elf64_Sym) ||
        !gelf_getsym(d, (int)idx, &sym) || sym.st_shndx == SHN_UNDEF)
        return false;
    *value = sym.st_value;
    return true;
}

/* What the dynamic relocations put at addr, if one does. */
static bool relocated_value(Elf *e, uint64_t addr, uint64_t *value)
{
    for (Elf_Scn *scn = NULL; (scn = elf_nextscn(e, scn));) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA ||
            sh.sh_entsize != sizeof(Elf64_Rela))
            continue;
        Elf_Data *d = elf_getdata(scn, NULL);
        size_t n = d && d->d_size >= sh.sh_size ? sh.sh_size / sizeof(Elf64_Rela) : 0;
        for (size_t i = 0; i < n; i++) {
            GElf_Rela ra;
            if (!gelf_getrela(d, (int)i, &ra) || ra.r_offset != addr)
                continue;
            uint64_t type = GELF_R_TYPE(ra.r_info), base = 0;
            if (type == REL_RELATIVE) {
                *value = (uint64_t)ra.r_addend;
                return true;
            }
            if (type == REL_ABS64 && symbol_value(e, &sh, GELF_R_SYM(ra.r_info), &base)) {
                *value = base + (uint64_t)ra.r_addend;
                return true;
            }
            return false; /* relocated against something not in this file */
        }
    }
    return false;
}

char *hb__elf_descriptor_name(Elf *e, const unsigned char *img, size_t len, uint64_t desc)
{
    uint64_t at = desc + offsetof(hb_plugin_descriptor, name), off = 0, str = 0;
    if (!relocated_value(e, at, &str)) {
        /* Applied in place (or a prelinked object). */
        if (file_bytes_at(e, len, at, &off) < sizeof(uint64_t))
            return NULL;
        memcpy(&str, img + off, sizeof(str));
    }
    size_t avail = str ? file_bytes_at(e, len, str, &off) : 0;
    if (!avail)
        return NULL;
    const unsigned char *s = img + off;
    size_t max = avail < HB_ELF_MAX_DESC_NAME + 1 ? avail : HB_ELF_MAX_DESC_NAME + 1;
    const unsigned char *nul = memchr(s, 0, max);
    if (!nul || nul == s)
        return NULL;
    return strndup((const char *)s, (size_t)(nul - s));
}
