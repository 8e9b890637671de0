#!/bin/sh
# hotbox watch --json --once on a copy of the example plugins: waits for the
# "watching" event by reading the command's output (no sleeps), edits
# counter.c, and expects a swap with the state carried; then a second run is
# stopped with SIGINT and must leave no worker behind.
set -u
hb=$1
src=$2
. "$(dirname "$0")/lib_watch.sh"
watch_tmp watch
cp -r "$src/examples/plugins" "$tmp/plugins"

watch_start --json --once "$tmp/plugins"
wait_for '"event":"watching"'
sed -i 's/count += 1;/count += 10;/' "$tmp/plugins/counter/counter.c"
watch_drain
rc=$?
fail=0
[ $rc = 0 ] || { echo "FAIL: watch --once exited $rc"; fail=1; }
grep -q '"event":"swapped".*"plugin":"counter".*state carried' "$tmp/log" || { echo "FAIL: no swapped event with state carried"; fail=1; }
grep -q '"detect_ms"' "$tmp/log" || { echo "FAIL: no stage timings"; fail=1; }
grep -q '"event":"selftest".*passed' "$tmp/log" || { echo "FAIL: self-tests did not run"; fail=1; }

# Ctrl-C: clean shutdown, no worker left.
watch_start --json "$tmp/plugins"
wait_for '"event":"watching"'
workers=$(pgrep -P $watch_pid)
[ -n "$workers" ] || { echo "FAIL: no worker process under watch"; fail=1; }
watch_stop
rc=$?
[ $rc = 0 ] || { echo "FAIL: watch exited $rc after SIGINT"; fail=1; }
for w in $workers; do
  if kill -0 "$w" 2>/dev/null; then echo "FAIL: worker $w outlived watch"; fail=1; fi
done
watch_finish watch
