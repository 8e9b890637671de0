/*
 * versions/elf.h - ELF analysis of compiled plugins with libelf (gelf).
 *
 * The analyser never executes or maps the object for execution; it reads an
 * in-memory image, so it is safe on hostile input (and fuzzed).
 */
#ifndef HB_ELF_H
#define HB_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hb_elf_info {
    bool is_dyn;               /* ET_DYN */
    bool has_descriptor;       /* defines hb_plugin with the right size */
    uint64_t descriptor_size;
    bool textrel;              /* DT_TEXTREL or DF_TEXTREL */
    bool exec_stack;           /* PT_GNU_STACK with PF_X, or absent */
    bool wx_segment;           /* a PT_LOAD both writable and executable */
    char **exports;            /* defined, global/weak, default-visibility dynamic symbols (NULL-terminated) */
    char **imports;            /* undefined dynamic symbols (NULL-terminated) */
    char **needed;             /* DT_NEEDED (NULL-terminated) */
    char **tests;              /* exports named hb_test_* (NULL-terminated) */
    /* The name the descriptor's `name` member points to, read from the file
     * (elf_desc.c): NULL when the file does not say (the pointer is
     * relocated against another object, or the string is not in the file
     * or longer than HB_ELF_MAX_DESC_NAME bytes). */
    char *descriptor_name;
} hb_elf_info;

#define HB_ELF_MAX_DESC_NAME 127

/* Analyses an image and checks it can be a plugin for this host: ELF64,
 * host machine and byte order, ET_DYN, sane bounds, descriptor present with
 * sizeof(hb_plugin_descriptor), no text relocations, no executable stack, no
 * W+X segment. Returns 0, or HB_EBADELF / HB_ENODESC with *err saying what
 * exactly is wrong ("not an ELF file", "ELF machine is AArch64, host is
 * x86-64", ...). *out is filled (and must be released) only on 0. */
int hb_elf_analyze(const void *image, size_t len, hb_elf_info *out, char **err);
int hb_elf_analyze_file(const char *path, hb_elf_info *out, char **err);
void hb_elf_info_release(hb_elf_info *info);

/* How many images were analysed in this process (tests and benches count
 * analyses per reload with it). */
uint64_t hb_elf_analyses(void);

#endif /* HB_ELF_H */
