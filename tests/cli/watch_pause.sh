#!/bin/sh
# hotbox watch: SIGUSR1 pauses auto-reload, SIGUSR2 resumes it and rebuilds
# what changed meanwhile. Waits read the command's --json output (no
# sleeps): the "paused" notice, then an edit, then SIGUSR2: the swap must
# come after the "resumed" notice, never between the two.
set -u
hb=$1
src=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hb-watch-pause-XXXXXX")
pid=
trap '[ -n "$pid" ] && kill -KILL $pid 2>/dev/null; rm -rf "$tmp"' EXIT
mkdir "$tmp/plugins"
cp -r "$src/examples/plugins/counter" "$tmp/plugins/counter"
mkfifo "$tmp/fifo"
"$hb" --state-dir "$tmp/state" watch --json --exclude 'scratch*.c' "$tmp/plugins" >"$tmp/fifo" 2>"$tmp/err" &
pid=$!
exec 3<"$tmp/fifo"
upto() { # read events into the log until one matches $1
  while IFS= read -r line <&3; do
    echo "$line" >>"$tmp/log"
    case "$line" in *$1*) return 0 ;; esac
  done
  return 1
}
fail=0
upto '"event":"watching"' || { echo "FAIL: never watching"; fail=1; }
kill -USR1 $pid
upto 'auto-reload paused' || { echo "FAIL: no paused notice"; fail=1; }
echo "-- edited" >>"$tmp/log"
sed -i 's/count += 1;/count += 10;/' "$tmp/plugins/counter/counter.c"
kill -USR2 $pid
upto 'auto-reload resumed' || { echo "FAIL: no resumed notice"; fail=1; }
upto '"event":"swapped"' || { echo "FAIL: no swap after resuming"; fail=1; }
kill -INT $pid
while IFS= read -r line <&3; do echo "$line" >>"$tmp/log"; done
exec 3<&-
wait $pid
rc=$?
pid=
[ $rc = 0 ] || { echo "FAIL: watch exited $rc"; fail=1; }
# Nothing was swapped between the two notices.
sed -n '/auto-reload paused/,/auto-reload resumed/p' "$tmp/log" | grep -q '"event":"swapped"' &&
  { echo "FAIL: a swap while paused"; fail=1; }
[ $fail = 0 ] && echo "PASS watch_pause"
[ $fail = 0 ] || cat "$tmp/log" "$tmp/err"
exit $fail
