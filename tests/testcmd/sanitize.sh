#!/bin/sh
# hotbox test --sanitize undefined (issue 18): a signed overflow passes
# unsanitized and fails with the UBSan report as the failure text (text
# output and JUnit <failure>); an unsupported sanitizer is refused by name.
set -u
hb=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hb-sanitize-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME="$tmp/cache"
fail=0
bad() { echo "FAIL: $*"; fail=1; }
mkdir -p "$tmp/ubp"
cat > "$tmp/ubp/ubp.c" <<'SRC'
#include <hotbox/plugin.h>
#include <limits.h>
int volatile big = INT_MAX;
int hb_test_overflow(void) { int x = big + 1; return x == 0; }
HB_PLUGIN("ubp", 1, 0, 0, NULL, NULL);
SRC
"$hb" --state-dir "$tmp/s" test "$tmp/ubp" >"$tmp/plain" 2>&1 || bad "unsanitized run failed"
"$hb" --state-dir "$tmp/s" test --sanitize undefined --junit "$tmp/j.xml" "$tmp/ubp" >"$tmp/out" 2>&1
[ $? -eq 1 ] || bad "--sanitize undefined: want exit 1"
want="ubp.c:4:34: runtime error: signed integer overflow"
grep -qF "FAIL ubp.hb_test_overflow" "$tmp/out" || bad "no FAIL line"
grep -qF "sanitizer finding: $tmp/ubp/$want" "$tmp/out" || bad "output lacks the report"
grep -F '<failure message=' "$tmp/j.xml" | grep -qF "$want" || bad "JUnit <failure> lacks the report"
"$hb" --state-dir "$tmp/s" test --sanitize address,bogus "$tmp/ubp" >"$tmp/refused" 2>&1
[ $? -ne 0 ] || bad "an unsupported sanitizer was accepted"
grep -qF -- "--sanitize address,bogus: supported sanitizers: undefined" "$tmp/refused" ||
  bad "refusal does not name the sanitizer"
if [ $fail -ne 0 ]; then
  for f in plain out refused; do echo "--- $f:"; cat "$tmp/$f"; done
fi
[ $fail -eq 0 ] && echo "sanitize ok"
exit $fail
