/*
 * compiler/diag.h - private: diagnostics parsing shared by compiler.c and
 * the diag fuzz target.
 */
#ifndef HB_COMPILER_DIAG_H
#define HB_COMPILER_DIAG_H

#include <stdbool.h>
#include <stddef.h>

#include "compiler.h"

/* Parses compiler output that may mix GCC's -fdiagnostics-format=json
 * arrays (each starting at the beginning of a line) with ordinary text
 * lines ("compilation terminated.", driver and linker messages). Text lines
 * that look like diagnostics are parsed too. *rendered receives a human
 * readable version: JSON diagnostics as "file:line:col: severity: message",
 * other lines verbatim. All outputs written only on success. */
int hb__parse_mixed_diagnostics(const char *text, size_t len, hb_diag **out, size_t *n,
                                char **rendered);

#endif
