#!/bin/sh
# Crash reports and sanitizers of plugin code in `hotbox test` (issue 18);
# run as: instrument.sh HOTBOX CASE.
#  crash_report  a test that dereferences NULL in foo() at a known line
#                fails with the signal, foo and its file:line and a
#                backtrace, in the text output, the JUnit <failure> and --json
#  sanitize      a signed overflow passes unsanitized and fails under
#                --sanitize undefined with the UBSan report as the failure
#                text; an unsupported sanitizer is refused by name
#  asan          --sanitize address (standard profile): a heap overflow
#                and a use-after-free fail their own tests with the ASan
#                report (kind, file:line, function) in the text output,
#                JUnit <failure> and --json; the clean test between them
#                passes (the worker restarts); without the flag all pass.
#                SKIP (77) when the compiler cannot build with ASan.
#  coverage      --coverage DIR (standard profile, two jobs = two workers
#                writing the same counters): the lcov tracefile and the
#                .gcov text count each line as the tests ran it (a branch
#                never taken and a function never called show 0); a second
#                run from the compile cache reports the same counts, not
#                twice them; the summary line is printed; along --upgrade
#                only the new build's counts are reported (the old build's
#                are of other contents) and its swap-out wrote them.
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
  grep -qF -- "--sanitize address,bogus: supported sanitizers: address, undefined" "$tmp/refused" ||
    bad "refusal does not name the sanitizer"
  [ $fail -eq 0 ] || {
    for f in plain out refused; do echo "--- $f:"; cat "$tmp/$f"; done
  }
}

asan() {
  mkdir -p "$tmp/asp"
  cat > "$tmp/asp/asp.c" <<'SRC'
#include <hotbox/plugin.h>
#include <stdlib.h>
#include <string.h>
char *volatile keep;
__attribute__((noinline)) int overflow(int n)
{
    char *p = malloc(8);
    memset(p, 1, 8);
    int v = p[n];
    free(p);
    return v;
}
__attribute__((noinline)) int after_free(void)
{
    keep = malloc(16);
    free(keep);
    return keep[3];
}
int hb_test_a_overflow(void) { return overflow(8) == 1 ? 0 : 0; }
int hb_test_b_clean(void) { return overflow(7) == 1 ? 0 : 1; }
int hb_test_c_use_after_free(void) { return after_free() == 7; }
HB_PLUGIN("asp", 1, 0, 0, NULL, NULL);
SRC
  "$hb" --state-dir "$tmp/s" test -j1 "$tmp/asp" >"$tmp/plain" 2>&1 || bad "unsanitized run failed"
  "$hb" --state-dir "$tmp/s" test -j1 --sanitize address --junit "$tmp/j.xml" "$tmp/asp" \
    >"$tmp/out" 2>&1
  st=$?
  if grep -qF "cannot build with -fsanitize=address" "$tmp/out"; then
    echo "SKIP: the compiler cannot build with AddressSanitizer:"; cat "$tmp/out"; exit 77
  fi
  [ $st -eq 1 ] || bad "--sanitize address: want exit 1, got $st"
  ov="heap-buffer-overflow $tmp/asp/asp.c:9 in overflow"
  uaf="heap-use-after-free $tmp/asp/asp.c:17 in after_free"
  grep -qF "FAIL asp.hb_test_a_overflow" "$tmp/out" || bad "the overflow test did not fail"
  grep -qF "PASS asp.hb_test_b_clean" "$tmp/out" || bad "the clean test did not pass"
  grep -qF "FAIL asp.hb_test_c_use_after_free" "$tmp/out" || bad "the use-after-free test did not fail"
  grep -qF "hb_test_a_overflow: sanitizer finding: AddressSanitizer: $ov" "$tmp/out" ||
    bad "output lacks the overflow's summary"
  grep -qF "hb_test_c_use_after_free: sanitizer finding: AddressSanitizer: $uaf" "$tmp/out" ||
    bad "output lacks the use-after-free's summary"
  grep -qF "#0 " "$tmp/out" || bad "output lacks the report's stack"
  grep -qF "1 passed, 2 failed" "$tmp/out" || bad "want 1 passed, 2 failed"
  grep -F '<failure message=' "$tmp/j.xml" | grep -qF "$ov" || bad "JUnit <failure> lacks the overflow"
  grep -F '<failure message=' "$tmp/j.xml" | grep -qF "in overflow $tmp/asp/asp.c:9" ||
    bad "JUnit <failure> text lacks the faulting frame"
  grep -qF 'Shadow byte legend' "$tmp/out" && grep -F '<failure' "$tmp/j.xml" | grep -qF 'Shadow byte' &&
    bad "the failure text keeps the shadow map"
  "$hb" --state-dir "$tmp/s" test -j1 --sanitize address --json "$tmp/asp" >"$tmp/j.jsonl" 2>/dev/null
  grep '"status":"fail"' "$tmp/j.jsonl" | grep -qF "$uaf" || bad "--json lacks the use-after-free"
  [ $fail -eq 0 ] || {
    for f in plain out j.jsonl; do echo "--- $f:"; cat "$tmp/$f"; done
  }
}

coverage() {
  mkdir -p "$tmp/cv"
  cat > "$tmp/cv/cv.c" <<'SRC'
#include <hotbox/plugin.h>
int volatile knob = 1;
int branchy(int x)
{
    if (x > 100)
        return x * 2;
    return x + 1;
}
int never_called(void)
{
    return 42;
}
int hb_test_one(void) { return branchy(knob) == 2 ? 0 : 1; }
int hb_test_two(void) { return branchy(knob + 1) == 3 ? 0 : 1; }
HB_PLUGIN("cv", 1, 0, 0, NULL, NULL);
SRC
  for run in 1 2; do
    rm -rf "$tmp/rep"
    "$hb" --state-dir "$tmp/s" test -j2 --coverage "$tmp/rep" "$tmp/cv" >"$tmp/out" 2>&1 ||
      bad "run $run: --coverage failed"
    grep -qF "coverage: lines 62.5% (5 of 8), functions 75.0% (3 of 4) in 1 file" "$tmp/out" ||
      bad "run $run: summary line"
    info="$tmp/rep/coverage.info"
    grep -qxF "SF:$tmp/cv/cv.c" "$info" || bad "run $run: no SF record for cv.c"
    for want in DA:5,2 DA:6,0 DA:7,2 DA:9,0 DA:11,0 DA:13,1 DA:14,1 FNDA:2,branchy \
                FNDA:0,never_called LF:8 LH:5; do
      grep -qxF "$want" "$info" || bad "run $run: coverage.info lacks $want"
    done
    grep -qE '^ +#####: +6: +return x \* 2;$' "$tmp/rep/cv.c.gcov" ||
      bad "run $run: cv.c.gcov does not show line 6 unexecuted"
    grep -qE '^ +2: +7: +return x \+ 1;$' "$tmp/rep/cv.c.gcov" ||
      bad "run $run: cv.c.gcov does not count line 7 twice"
    [ $fail -eq 0 ] || break
  done
  # A new build tested along the upgrade path: the old build's counters are
  # of other contents (left out, said so); the new build's counters come
  # from its swap-out (rollback) as much as from the worker's exit.
  if [ $fail -eq 0 ]; then
    echo 'int hb_test_three(void) { return branchy(knob + 199) == 400 ? 0 : 1; }' >>"$tmp/cv/cv.c"
    rm -rf "$tmp/rep"
    "$hb" --state-dir "$tmp/s" test -j1 --upgrade --coverage "$tmp/rep" "$tmp/cv" >"$tmp/out" 2>&1 ||
      bad "--upgrade --coverage failed"
    grep -qF "coverage: 1 source left out of older builds" "$tmp/out" || bad "no note of the older build"
    for want in DA:5,3 DA:6,1 DA:7,2 DA:13,1 DA:14,1 DA:16,1 FNDA:3,branchy; do
      grep -qxF "$want" "$tmp/rep/coverage.info" || bad "--upgrade: coverage.info lacks $want"
    done
  fi
  [ $fail -eq 0 ] || {
    echo "--- output:"; cat "$tmp/out"; echo "--- coverage.info:"; cat "$tmp/rep/coverage.info"
    cat "$tmp/rep/cv.c.gcov"
  }
}

case "$case_" in
  coverage) coverage ;;
  crash_report) crash_report ;;
  sanitize) sanitize ;;
  asan) asan ;;
  *) echo "unknown case $case_"; exit 2 ;;
esac
[ $fail -eq 0 ] && echo "$case_ ok"
exit $fail
