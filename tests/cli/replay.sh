#!/bin/sh
# Differential replay from the command line (docs/replay.md): record with
# `hotbox call --record`, replay unchanged (exit 0), edit one function's
# body (exit 1, exactly that call, old and new side by side; --json and
# --junit say the same), exclude it (exit 0), a corrupt recording (exit 2,
# the file and byte offset named).
set -u
hb=$1
src=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hb-replay-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp -r "$src/examples/replay/tally" "$tmp/tally"
st="$tmp/state"
fail=0
run() { "$hb" --state-dir "$st" -q "$@"; }
say() { echo "FAIL: $1"; shift; for f in "$@"; do cat "$f"; done; fail=1; }
run call --record "$tmp/tally" -- tally add "l)l" 5 >/dev/null || say "call add"
run call --record "$tmp/tally" -- tally score "i)i" 4 >/dev/null || say "call score"
run call --record "$tmp/tally" -- tally shout "w)i" abc >/dev/null || say "call shout"
rec="$st/recordings/tally.hbrec"
[ -s "$rec" ] || say "no recording at $rec"

run replay "$tmp/tally" >"$tmp/out" 2>&1
rc=$?
[ $rc = 0 ] || say "unchanged sources: exit $rc, want 0" "$tmp/out"
grep -q '3 calls replayed on v1 and v1' "$tmp/out" || say "unchanged summary" "$tmp/out"

sed 's/return x \* 2;/return x * 3;/' "$tmp/tally/tally.c" >"$tmp/t.c" && mv "$tmp/t.c" "$tmp/tally/tally.c"
run replay "$tmp/tally" >"$tmp/out" 2>&1
rc=$?
[ $rc = 1 ] || say "edited score: exit $rc, want 1" "$tmp/out"
[ "$(grep -c '^call #' "$tmp/out")" = 1 ] || say "want exactly one differing call" "$tmp/out"
grep -q "^call #2 (.*tally.hbrec:[0-9]*) score(4)" "$tmp/out" || say "the score call named" "$tmp/out"
grep -q '^    v1 *8$' "$tmp/out" || say "old result 8" "$tmp/out"
grep -q '^    v2 *12$' "$tmp/out" || say "new result 12" "$tmp/out"

run replay --json --junit "$tmp/r.xml" "$tmp/tally" >"$tmp/json" 2>"$tmp/err"
rc=$?
[ $rc = 1 ] || say "--json: exit $rc, want 1" "$tmp/json" "$tmp/err"
grep -q '"diffs":\[{"index":1,"offset":[0-9]*,"function":"score","signature":"i)i","args":"(4)","old":"8","new":"12"}\]' "$tmp/json" ||
    say "--json diffs" "$tmp/json"
grep -q '<failure message="score(4): v1 8, v2 12"' "$tmp/r.xml" || say "--junit failure" "$tmp/r.xml"

run replay --exclude score "$tmp/tally" >"$tmp/out" 2>&1
rc=$?
[ $rc = 0 ] || say "--exclude score: exit $rc, want 0" "$tmp/out"
grep -q '(1 excluded' "$tmp/out" || say "--exclude counted" "$tmp/out"

size=$(wc -c <"$rec")
head -c $((size - 3)) "$rec" >"$tmp/bad.hbrec"
run replay --recording "$tmp/bad.hbrec" "$tmp/tally" >"$tmp/out" 2>&1
rc=$?
[ $rc = 2 ] || say "corrupt recording: exit $rc, want 2" "$tmp/out"
grep -q "bad.hbrec:[0-9][0-9]*: record runs past the end of the file" "$tmp/out" ||
    say "corrupt recording: file and offset" "$tmp/out"
# hotbox test --record: the self-tests' calls are the recording.
cp -r "$src/examples/plugins/mathx" "$tmp/mathx"
run test --record "$tmp/mathx" >"$tmp/out" 2>&1 || say "test --record" "$tmp/out"
sed 's/return a + b; }/return a + b + 1; }/' "$tmp/mathx/mathx.c" >"$tmp/m.c" && mv "$tmp/m.c" "$tmp/mathx/mathx.c"
run replay "$tmp/mathx" >"$tmp/out" 2>&1
rc=$?
[ $rc = 1 ] || say "test --record, edited add: exit $rc, want 1" "$tmp/out"
[ "$(grep -c '^call #' "$tmp/out")" = 1 ] && grep -q '^call #[0-9]* (.*) hb_test_add()' "$tmp/out" ||
    say "test --record: exactly hb_test_add differs" "$tmp/out"
# Current sources that do not compile: exit 3, the compiler's message.
printf 'int broken(void) { return }\n' >>"$tmp/tally/tally.c"
run replay "$tmp/tally" >"$tmp/out" 2>&1
rc=$?
[ $rc = 3 ] || say "sources that do not compile: exit $rc, want 3" "$tmp/out"
grep -q 'building its current sources failed' "$tmp/out" || say "compile failure named" "$tmp/out"
[ $fail = 0 ] && echo "PASS replay"
exit $fail
