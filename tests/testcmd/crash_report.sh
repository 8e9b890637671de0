#!/bin/sh
# Symbolized crash reports (issue 18) in `hotbox test`: a test that
# dereferences NULL in foo() at a known line fails with the signal, foo and
# its file:line and a backtrace, in the text output, the JUnit <failure>
# and --json.
set -u
hb=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hb-crashrep-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME="$tmp/cache"
fail=0
bad() { echo "FAIL: $*"; fail=1; }
mkdir -p "$tmp/nullp"
cat > "$tmp/nullp/nullp.c" <<'SRC'
#include <hotbox/plugin.h>
#include <stdint.h>
int *volatile nowhere;
__attribute__((noinline)) int foo(int k)
{
    return *nowhere + k;
}
int hb_test_null(void) { return foo(1) == 0 ? 1 : 2; }
HB_PLUGIN("nullp", 1, 0, 0, NULL, NULL);
SRC
at="at foo ($tmp/nullp/nullp.c:6)"
f0="#0 foo ($tmp/nullp/nullp.c:6) in nullp v1"
f1="#1 hb_test_null ($tmp/nullp/nullp.c:8) in nullp v1"
"$hb" --state-dir "$tmp/s" test --junit "$tmp/j.xml" "$tmp/nullp" >"$tmp/out" 2>&1
[ $? -eq 1 ] || bad "exit status: want 1"
for want in "SIGSEGV" "$at" "$f0" "$f1"; do
  grep -qF -- "$want" "$tmp/out" || bad "text output lacks: $want"
  grep -qF -- "$want" "$tmp/j.xml" || bad "JUnit lacks: $want"
done
grep -qF '<failure message="hb_test_null crashed: ' "$tmp/j.xml" || bad "no <failure> for the crash"
"$hb" --state-dir "$tmp/s" test --json "$tmp/nullp" >"$tmp/j.jsonl" 2>/dev/null
grep '"status":"fail"' "$tmp/j.jsonl" >"$tmp/end" || bad "no failed test in --json"
for want in "$at" "backtrace:\\n  $f0" "$f1"; do
  grep -qF -- "$want" "$tmp/end" || bad "--json lacks: $want"
done
if [ $fail -ne 0 ]; then
  echo "--- output:"; cat "$tmp/out"; echo "--- json:"; cat "$tmp/j.jsonl"
fi
[ $fail -eq 0 ] && echo "crash report ok"
exit $fail
