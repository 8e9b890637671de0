#!/usr/bin/env bash
# The fixed cost of `hotbox test` (issue 14):
#   builds  a warm run builds each plugin once (a cold run twice: the first
#           pass settles inter-plugin links), counted by HOTBOX_TEST_STAGES;
#   ahead   at -j 1 the next plugin's sandbox is started and loaded while
#           the current plugin's test runs: its "load" stage is reported
#           before that test ends (the test takes 3 s; a load takes ms);
#   same    the pipeline changes no result: a suite of passing, failing,
#           crashing and hanging plugins at -j 1 gives the same cases,
#           statuses and JUnit as each plugin run alone.
# pipeline.sh HOTBOX SOURCE_DIR CASE
set -u
. "$(dirname "$0")/lib_testcmd.sh"
testcmd_open pipeline "$@"
fail() { echo "FAIL: $*"; exit 1; }
# One line per case: plugin, name and the start of its failure or skip
# (machine addresses left out).
cases() {
  tr '\n' ' ' <"$1" | grep -o '<testcase [^>]*>\( *<failure message="[^"]*"\| *<skipped[^>]*>\)\?' |
    sed 's/ time="[^"]*"//; s/ (pc [^)]*)//g; s/&#10;.*"/"/'
}
builds_of() { sed -n 's/.*hotbox test stages (ms):.* builds=\([0-9]*\).*/\1/p' "$1"; }

case $case_name in
builds)
  mkdir "$work/suite"
  cp -r "$plugins/tpass" "$work/suite/"
  HOTBOX_TEST_STAGES=1 "$hb" --state-dir "$work/state" -q test -j 1 "$work/suite" \
    >"$work/out1" 2>"$work/err1" || fail "cold run failed: $(cat "$work/err1")"
  HOTBOX_TEST_STAGES=1 "$hb" --state-dir "$work/state" -q test -j 1 "$work/suite" \
    >"$work/out2" 2>"$work/err2" || fail "warm run failed: $(cat "$work/err2")"
  cold=$(builds_of "$work/err1")
  warm=$(builds_of "$work/err2")
  [ -n "$cold" ] && [ -n "$warm" ] || fail "no stage line: $(cat "$work/err1" "$work/err2")"
  [ "$cold" = 2 ] || fail "cold run: $cold builds of one plugin, want 2 (both passes)"
  [ "$warm" = 1 ] || fail "warm run: $warm builds of one plugin, want 1"
  grep -q '11 passed, 0 failed' "$work/out2" || fail "warm run: $(cat "$work/out2")"
  ;;
ahead)
  mkdir -p "$work/suite/a_slow" "$work/suite/b_next"
  cat >"$work/suite/a_slow/a_slow.c" <<'C'
#include <hotbox/plugin.h>
#include <time.h>
HB_EXPORT_FN int hb_test_slow(void)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do
        clock_gettime(CLOCK_MONOTONIC, &t);
    while (t.tv_sec - t0.tv_sec < 3);
    return 0;
}
HB_PLUGIN("a_slow", 1, 0, 0, 0, 0);
C
  cat >"$work/suite/b_next/b_next.c" <<'C'
#include <hotbox/plugin.h>
HB_EXPORT_FN int hb_test_quick(void) { return 0; }
HB_PLUGIN("b_next", 1, 0, 0, 0, 0);
C
  "$hb" --state-dir "$work/state" test -j 1 --json "$work/suite" >"$work/out" 2>"$work/err" ||
    fail "run failed: $(cat "$work/out" "$work/err")"
  load=$(grep -n '"stage": *"load".*"plugin": *"b_next"' "$work/out" | cut -d: -f1)
  end=$(grep -n '"event": *"end".*"test": *"hb_test_slow"' "$work/out" | cut -d: -f1)
  [ -n "$load" ] && [ -n "$end" ] || fail "missing events: $(cat "$work/out")"
  [ "$load" -lt "$end" ] ||
    fail "b_next was loaded only after a_slow's test ended (line $load, end at $end)"
  grep -q '"event": *"summary".*"passed": *2' "$work/out" || fail "summary: $(tail -1 "$work/out")"
  ;;
same)
  mkdir "$work/suite"
  for p in tpass tfail tcrash thang tsetup tnotests; do cp -r "$plugins/$p" "$work/suite/"; done
  "$hb" --state-dir "$work/state" test -j 1 --timeout 2 --junit "$work/all.xml" "$work/suite" \
    >"$work/all.out" 2>&1
  rc=$?
  [ "$rc" = 1 ] || fail "exit status $rc, want 1: $(cat "$work/all.out")"
  : >"$work/alone"
  for p in tpass tfail tcrash thang tsetup; do
    "$hb" --state-dir "$work/state" test -j 1 --timeout 2 --junit "$work/$p.xml" "$work/suite/$p" \
      >/dev/null 2>&1
    cases "$work/$p.xml" >>"$work/alone"
  done
  sort -o "$work/alone" "$work/alone"
  cases "$work/all.xml" | sort >"$work/together"
  n=$(wc -l <"$work/together")
  [ "$n" -ge 15 ] || fail "only $n cases in the JUnit file: $(cat "$work/all.out")"
  diff "$work/alone" "$work/together" >"$work/diff" ||
    fail "results differ between one run and one plugin at a time: $(cat "$work/diff")"
  ;;
*)
  fail "unknown case $case_name"
  ;;
esac
echo "PASS pipeline_$case_name"
