#!/bin/sh
# hotbox watch: SIGUSR1 pauses auto-reload, SIGUSR2 resumes it and rebuilds
# what changed meanwhile. Waits read the command's --json output (no
# sleeps): the "paused" notice, then an edit, then SIGUSR2: the swap must
# come after the "resumed" notice, never between the two.
set -u
hb=$1
src=$2
. "$(dirname "$0")/lib_watch.sh"
watch_tmp watch-pause
mkdir "$tmp/plugins"
cp -r "$src/examples/plugins/counter" "$tmp/plugins/counter"
watch_start --json --exclude 'scratch*.c' "$tmp/plugins"
fail=0
wait_for '"event":"watching"' || { echo "FAIL: never watching"; fail=1; }
kill -USR1 $watch_pid
wait_for 'auto-reload paused' || { echo "FAIL: no paused notice"; fail=1; }
echo "-- edited" >>"$tmp/log"
sed -i 's/count += 1;/count += 10;/' "$tmp/plugins/counter/counter.c"
kill -USR2 $watch_pid
wait_for 'auto-reload resumed' || { echo "FAIL: no resumed notice"; fail=1; }
wait_for '"event":"swapped"' || { echo "FAIL: no swap after resuming"; fail=1; }
watch_stop
rc=$?
[ $rc = 0 ] || { echo "FAIL: watch exited $rc"; fail=1; }
# Nothing was swapped between the two notices.
sed -n '/auto-reload paused/,/auto-reload resumed/p' "$tmp/log" | grep -q '"event":"swapped"' &&
  { echo "FAIL: a swap while paused"; fail=1; }
watch_finish watch_pause
