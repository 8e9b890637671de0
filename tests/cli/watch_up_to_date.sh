#!/bin/sh
# hotbox watch --json: a save that does not compile is reported; going back
# to the live version's source then says the plugin is fine again
# ("up-to-date") in the JSON stream. Waits by reading the command's output
# (no sleeps); the test's timeout is the failure path.
set -u
hb=$1
src=$2
. "$(dirname "$0")/lib_watch.sh"
watch_tmp watch
mkdir -p "$tmp/plugins"
cp -r "$src/examples/plugins/counter" "$tmp/plugins/counter"
cp "$tmp/plugins/counter/counter.c" "$tmp/good.c"

watch_start --json --no-selftests "$tmp/plugins"
fail=0
wait_for '"event":"watching"' || { echo "FAIL: no watching event"; fail=1; }
echo 'int broken( {' >>"$tmp/plugins/counter/counter.c"
wait_for '"event":"compile-failed"' || { echo "FAIL: no compile-failed event"; fail=1; }
cp "$tmp/good.c" "$tmp/plugins/counter/counter.c"
wait_for '"event":"up-to-date"' || { echo "FAIL: no up-to-date event after the revert"; fail=1; }
grep -q '"event":"up-to-date","plugin":"counter","version":1' "$tmp/log" ||
  { echo "FAIL: up-to-date does not name counter v1"; fail=1; }
watch_stop
rc=$?
[ $rc = 0 ] || { echo "FAIL: watch exited $rc after SIGINT"; fail=1; }
watch_finish "watch up-to-date"
