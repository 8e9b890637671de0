#!/bin/sh
# hotbox watch --json --once on a copy of the example plugins: waits for the
# "watching" event by reading the command's output (no sleeps), edits
# counter.c, and expects a swap with the state carried; then a second run is
# stopped with SIGINT and must leave no worker behind.
set -u
hb=$1
src=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hb-watch-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp -r "$src/examples/plugins" "$tmp/plugins"
mkfifo "$tmp/fifo"

"$hb" --state-dir "$tmp/state" watch --json --once "$tmp/plugins" >"$tmp/fifo" 2>"$tmp/err" &
pid=$!
exec 3<"$tmp/fifo"
while IFS= read -r line <&3; do
  echo "$line" >>"$tmp/log"
  case "$line" in *'"event":"watching"'*) break ;; esac
done
sed -i 's/count += 1;/count += 10;/' "$tmp/plugins/counter/counter.c"
while IFS= read -r line <&3; do echo "$line" >>"$tmp/log"; done
exec 3<&-
wait $pid
rc=$?
fail=0
[ $rc = 0 ] || { echo "FAIL: watch --once exited $rc"; fail=1; }
grep -q '"event":"swapped".*"plugin":"counter".*state carried' "$tmp/log" || { echo "FAIL: no swapped event with state carried"; fail=1; }
grep -q '"detect_ms"' "$tmp/log" || { echo "FAIL: no stage timings"; fail=1; }
grep -q '"event":"selftest".*passed' "$tmp/log" || { echo "FAIL: self-tests did not run"; fail=1; }

# Ctrl-C: clean shutdown, no worker left.
"$hb" --state-dir "$tmp/state" watch --json "$tmp/plugins" >"$tmp/fifo" 2>"$tmp/err2" &
pid=$!
exec 3<"$tmp/fifo"
while IFS= read -r line <&3; do
  case "$line" in *'"event":"watching"'*) break ;; esac
done
workers=$(pgrep -P $pid)
[ -n "$workers" ] || { echo "FAIL: no worker process under watch"; fail=1; }
kill -INT $pid
while IFS= read -r line <&3; do :; done
exec 3<&-
wait $pid
rc=$?
[ $rc = 0 ] || { echo "FAIL: watch exited $rc after SIGINT"; cat "$tmp/err2"; fail=1; }
for w in $workers; do
  if kill -0 "$w" 2>/dev/null; then echo "FAIL: worker $w outlived watch"; fail=1; fi
done
[ $fail = 0 ] && echo "PASS watch"
[ $fail = 0 ] || cat "$tmp/log" "$tmp/err"
exit $fail
