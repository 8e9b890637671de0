#!/usr/bin/env bash
# The fixed cost of one `hotbox test` run (issue 14), counted through the
# stage line that HOTBOX_TEST_STAGES=1 prints:
#   pool_one  a run over one plugin starts no pooled worker: with a single
#             sandbox, one would only be started, waited for and killed at
#             exit (pool_idle counts pooled workers never used).
# fixedcost.sh HOTBOX SOURCE_DIR CASE
set -u
hb=$1
src=$2
case_=$3
plugins=$src/tests/testcmd/plugins
work=$(mktemp -d "${TMPDIR:-/tmp}/hb-fixedcost-XXXXXX")
trap 'rm -rf "$work"' EXIT
unset HOTBOX_WORKER_POOL
fail() { echo "FAIL: $*"; exit 1; }
stage() { sed -n "s/.*hotbox test stages (ms):.* $1=\([0-9]*\).*/\1/p" "$2"; }

case $case_ in
pool_one)
  mkdir "$work/suite"
  cp -r "$plugins/tpass" "$work/suite/"
  for run in cold warm; do
    HOTBOX_TEST_STAGES=1 "$hb" --state-dir "$work/state" -q test -j 1 "$work/suite" \
      >"$work/out" 2>"$work/err" || fail "$run run failed: $(cat "$work/err")"
    grep -q '11 passed, 0 failed' "$work/out" || fail "$run run: $(cat "$work/out")"
    idle=$(stage pool_idle "$work/err")
    [ -n "$idle" ] || fail "$run run: no pool_idle on the stage line: $(cat "$work/err")"
    [ "$idle" = 0 ] || fail "$run run: $idle pooled workers started and never used, want 0"
  done
  ;;
*)
  fail "unknown case $case_"
  ;;
esac
echo "PASS fixedcost_$case_"
