#!/bin/bash
# A plugin with an assembly source (*.S, the shape of zlib's or OpenSSL's
# hand-written routines): it is assembled and linked in, and its function
# answers. Before, *.S was skipped and the load failed with "imports
# asm_add3, which no loaded plugin or library provides". One without the
# .note.GNU-stack section is refused with the reason.
set -u
hb=$1
. "$(dirname "$0")/lib.sh"
mkdir -p "$tmp/asm"
cat >"$tmp/asm/add3.S" <<'SRC'
#define NAME asm_add3
    .text
    .globl NAME
    .type NAME, @function
NAME:
    leal (%rdi,%rsi), %eax
    addl %edx, %eax
    ret
    .size NAME, .-NAME
    .section .note.GNU-stack,"",@progbits
SRC
cat >"$tmp/asm/asm.c" <<'SRC'
#include <hotbox/plugin.h>
int asm_add3(int, int, int);
HB_EXPORT_FN int32_t add3(int32_t a, int32_t b, int32_t c) { return asm_add3(a, b, c); }
HB_PLUGIN("asm", 1, 0, 0, 0, 0);
SRC
[ "$(uname -m)" = x86_64 ] || { echo "SKIP: the assembly is x86-64"; exit 77; }
out=$("$hb" -q --state-dir "$tmp/state" call "$tmp/asm" -- asm add3 'iii)i' 1 2 39 2>"$tmp/err")
rc=$?
check "call exits 0 (got $rc)" test $rc = 0
check "the assembly function answers 42 (got '$out')" test "$out" = 42
grep -v 'GNU-stack' "$tmp/asm/add3.S" >"$tmp/asm/.t" && mv "$tmp/asm/.t" "$tmp/asm/add3.S"
"$hb" -q --state-dir "$tmp/state" call "$tmp/asm" -- asm add3 'iii)i' 1 2 3 >"$tmp/out" 2>"$tmp/err2"
rc=$?
check "without .note.GNU-stack the load is refused (exit $rc)" test $rc != 0
check "the error says executable stack" grep -q 'executable stack' "$tmp/err2"
[ $fail = 0 ] || cat "$tmp/err" "$tmp/err2"
exit $fail
