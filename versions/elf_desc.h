/* versions/elf_desc.h - private to elf.c and elf_desc.c: the plugin name
 * in an object's descriptor (see hb_elf_info.descriptor_name). */
#ifndef HB_ELF_DESC_H
#define HB_ELF_DESC_H

#include <libelf.h>
#include <stddef.h>
#include <stdint.h>

/* The NUL-terminated string the `name` member of the descriptor at
 * virtual address desc points to, malloc'ed; NULL when the file does not
 * say. img (len bytes) is the image e parses, its tables checked. */
char *hb__elf_descriptor_name(Elf *e, const unsigned char *img, size_t len, uint64_t desc);

#endif /* HB_ELF_DESC_H */
