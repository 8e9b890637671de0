#!/usr/bin/env bash
# A cancelled CI job still gets its reports: `hotbox test` killed with
# SIGTERM (or SIGINT) while a test hangs stops its workers, writes the JUnit
# file and the --json summary for what ran (the hanging test and those not
# started reported as skipped, "cancelled by ..."), and exits 128+signal,
# long before the test's own time limit.
# cancel.sh HOTBOX SOURCE_DIR TERM|INT
set -u
hb=$1
src=$2
sig=$3
plugins=$src/tests/testcmd/plugins
work=$(mktemp -d "${TMPDIR:-/tmp}/hb-cancel-XXXXXX")
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$work"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

mkdir "$work/suite"
cp -r "$plugins/tpass" "$work/suite/a_pass"
cp -r "$plugins/thang" "$work/suite/b_hang"
# -j1 and a time limit far beyond the test's: only the signal can end it.
# Its --json output comes through a FIFO, read line by line (kept in
# $work/out) until the hanging test has started: no polling, and read's
# -t 120 is the deadline of each line.
mkfifo "$work/fifo"
"$hb" --state-dir "$work/state" test -j 1 --timeout 600 --json --junit "$work/junit.xml" \
  "$work/suite" >"$work/fifo" 2>"$work/err" &
pid=$!
exec 3<"$work/fifo"
: >"$work/out"
while IFS= read -r -t 120 line <&3; do
  printf '%s\n' "$line" >>"$work/out"
  grep -q '"test": *"hb_test_forever"' "$work/out" && break
done
grep -q '"test": *"hb_test_forever"' "$work/out" || { fail "hb_test_forever never started"; cat "$work/out" "$work/err"; exit 1; }
start=$(date +%s%N)
kill -"$sig" "$pid"
cat <&3 >>"$work/out"
exec 3<&-
wait "$pid"
rc=$?
pid=
ms=$(( ($(date +%s%N) - start) / 1000000 ))
want=$((128 + $(kill -l "$sig")))
[ "$rc" = "$want" ] || fail "exit status $rc, want $want (128+SIG$sig)"
[ "$ms" -lt 30000 ] || fail "took $ms ms after SIG$sig to exit"
echo "exited $rc, $ms ms after SIG$sig"
[ -s "$work/junit.xml" ] || { fail "no JUnit file"; cat "$work/err"; exit 1; }
grep -q '<testcase[^>]*name="hb_test_forever"' "$work/junit.xml" || fail "JUnit lacks hb_test_forever"
grep -q 'cancelled by' "$work/junit.xml" || fail "JUnit does not say the run was cancelled"
# The tests that ran before the signal are there, passed (no failure in them).
npass=$(grep -c '<testcase[^>]*classname="a_pass"' "$work/junit.xml")
[ "$npass" -ge 1 ] || fail "JUnit lacks the passed tests of a_pass"
grep -q '<failure' "$work/junit.xml" && fail "a cancelled test is reported as a failure"
grep -q '"event": *"summary"' "$work/out" || fail "no --json summary"
if command -v xmllint >/dev/null 2>&1; then
  xmllint --noout "$work/junit.xml" || fail "xmllint rejects the JUnit file"
fi
grep -q 'stopping the workers' "$work/err" || fail "no word on stderr about the signal"
[ "$fails" = 0 ] || { echo "--- junit"; cat "$work/junit.xml"; echo "--- stderr"; cat "$work/err"; exit 1; }
echo "PASS cancel_$sig"
