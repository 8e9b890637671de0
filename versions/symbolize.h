/*
 * versions/symbolize.h - addresses in a stored plugin object to function,
 * source file and line, with libdw (elfutils). Used for crash reports:
 * the worker sends raw pcs and load bases (proto FAULT), the harness
 * looks each up in the object the store holds for that version.
 */
#ifndef HB_VERSIONS_SYMBOLIZE_H
#define HB_VERSIONS_SYMBOLIZE_H

#include <stdint.h>

typedef struct hb_symbol {
    char func[160]; /* innermost function, inlined ones included; "" unknown */
    char file[256]; /* source file as recorded in DWARF ("./" dropped); "" unknown */
    int line;       /* 0 when unknown */
} hb_symbol;

/* Looks addr (an address of the ELF file at object_path, i.e. pc - load
 * base) up. 0 when at least the function is known; a negative errno
 * otherwise (*out then holds what was found, maybe nothing). */
int hb__symbolize(const char *object_path, uint64_t addr, hb_symbol *out);

#endif
