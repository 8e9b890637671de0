#!/bin/sh
# Issue 11.4: reverting an edit reuses the version built before it from the
# compile cache (any stored version with the same input hash, not only the
# newest), even when the edit changed which headers the plugin reads.
set -u
hb=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hb-revert-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/p"
printf '#define TWO 2\n' > "$tmp/p/two.h"
a() { printf '#include <hotbox/plugin.h>\nint val(void) { return 1; }\nHB_PLUGIN("p", 1, 0, 0, 0, 0);\n' > "$tmp/p/p.c"; }
b() { printf '#include <hotbox/plugin.h>\n#include "two.h"\nint val(void) { return TWO; }\nHB_PLUGIN("p", 1, 0, 0, 0, 0);\n' > "$tmp/p/p.c"; }
build() { "$hb" --state-dir "$tmp/state" build "$tmp/p" >"$tmp/out" 2>&1 || { echo "FAIL: build"; cat "$tmp/out"; exit 1; }; }
fail=0
a; build
grep -q 'p v1 built' "$tmp/out" || { echo "FAIL: first build"; cat "$tmp/out"; fail=1; }
b; build
grep -q 'p v2 built' "$tmp/out" || { echo "FAIL: second build"; cat "$tmp/out"; fail=1; }
a; build
grep -q 'p v1 is up to date (cache hit)' "$tmp/out" || { echo "FAIL: revert did not reuse v1 from the cache"; cat "$tmp/out"; fail=1; }
[ $fail = 0 ] && echo "PASS cache revert"
exit $fail
