#!/bin/bash
# --cflags is split with shell quoting: -DG="hi there" is one argument;
# command substitution is refused with an error naming --cflags (issue 19).
set -u
hb=$1
. "$(dirname "$0")/lib.sh"
mkdir -p "$tmp/gp"
cat > "$tmp/gp/gp.c" <<'SRC'
#include <hotbox/plugin.h>
#define S_(x) #x
#define S(x) S_(x)
HB_EXPORT_FN const char *greeting(void) { return S(G); }
HB_PLUGIN("gp", 1, 0, 0, 0, 0);
SRC
out=$("$hb" -q --state-dir "$tmp/state" --cflags '-O2 -DG="hi there"' call "$tmp/gp" -- gp greeting ')Z' 2>"$tmp/err")
check "quoted define kept whole (got '$out')" test "$out" = "hi there"
"$hb" -q --state-dir "$tmp/state" --cflags '-DG=$(touch '"$tmp"'/ran)' call "$tmp/gp" -- gp greeting ')Z' >/dev/null 2>"$tmp/err2"
rc=$?
check "command substitution refused (exit $rc)" test $rc != 0
check "the error names --cflags" grep -q -- '--cflags.*command substitution' "$tmp/err2"
check "nothing was run" test ! -e "$tmp/ran"
[ $fail = 0 ] || cat "$tmp/err" "$tmp/err2"
exit $fail
