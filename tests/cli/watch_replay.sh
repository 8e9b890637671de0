#!/bin/sh
# `hotbox watch --replay` (docs/replay.md): calls into the live session are
# recorded; after an edit and its swap the recording is replayed on the old
# and the new version in shadow workers, and the replay event names exactly
# the call whose result changed; the live sandbox keeps its state. Waits by
# reading the JSON event stream; the test's timeout is the failure path.
set -u
hb=$1
src=$2
. "$(dirname "$0")/lib_watch.sh"
watch_tmp wreplay
cp -r "$src/examples/replay/tally" "$tmp/tally"
st="$tmp/state"
fail=0
check() { # what got want
  if [ "$2" = "$3" ]; then echo "ok: $1"; else echo "FAIL: $1: got '$2', want '$3'"; fail=1; fi
}
call() { "$hb" --state-dir "$st" -q call "$tmp/tally" -- tally "$@" 2>>"$tmp/callerr"; }

hb_start --isolation local watch --json --no-selftests --replay --replay-exclude stamp "$tmp/tally"
expect '"event":"watching"'
check "add 5" "$(call add 'l)l' 5)" 5
check "add 2" "$(call add 'l)l' 2)" 7
check "score 4" "$(call score 'i)i' 4)" 8
call stamp ')L' >/dev/null
sed 's/return x \* 2;/return x * 3;/' "$tmp/tally/tally.c" >"$tmp/t.c" && mv "$tmp/t.c" "$tmp/tally/tally.c"
expect '"event":"swapped"'
expect '"event":"replay"'
echo "$last" | grep -q '"old_version":1,"new_version":2' || { echo "FAIL: versions: $last"; fail=1; }
echo "$last" | grep -q '"calls":4,"excluded":1' || { echo "FAIL: counts: $last"; fail=1; }
echo "$last" | grep -q '"diffs":\[{"index":2,[^]]*"function":"score","signature":"i)i","args":"(4)","old":"8","new":"12"}\]' ||
  { echo "FAIL: exactly the score call: $last"; fail=1; }
check "the live sandbox kept its state" "$(call add 'l)l' 1)" 8
check "and serves the new code" "$(call score 'i)i' 4)" 12
watch_stop
watch_finish "watch replay"
