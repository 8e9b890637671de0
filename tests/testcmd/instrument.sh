#!/bin/sh
# Crash reports and sanitizers of plugin code in `hotbox test` (issue 18);
# run as: instrument.sh HOTBOX CASE.
#  crash_report  a test that dereferences NULL in foo() at a known line
#                fails with the signal, foo and its file:line and a
#                backtrace, in the text output, the JUnit <failure> and --json
#  sanitize      a signed overflow passes unsanitized and fails under
#                --sanitize undefined with the UBSan report as the failure
#                text; an unsupported sanitizer is refused by name
set -u
hb=$1
case_=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hb-instrument-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME="$tmp/cache"
fail=0
bad() { echo "FAIL: $*"; fail=1; }

crash_report() {
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
  [ $fail -eq 0 ] || {
    echo "--- output:"; cat "$tmp/out"; echo "--- json:"; cat "$tmp/j.jsonl"
  }
}

sanitize() {
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
  [ $fail -eq 0 ] || {
    for f in plain out refused; do echo "--- $f:"; cat "$tmp/$f"; done
  }
}

case "$case_" in
  crash_report) crash_report ;;
  sanitize) sanitize ;;
  *) echo "unknown case $case_"; exit 2 ;;
esac
[ $fail -eq 0 ] && echo "$case_ ok"
exit $fail
