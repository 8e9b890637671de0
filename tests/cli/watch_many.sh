#!/bin/sh
# hotbox watch on more plugins than a sandbox holds by default (64): every
# plugin is loaded, and an edit to one builds that one only. Waits by
# reading the JSON stream (no sleeps); the test's timeout is the failure path.
set -u
hb=$1
n=${HB_WATCH_MANY:-80}
. "$(dirname "$0")/lib_watch.sh"
watch_tmp many
i=0
while [ $i -lt $n ]; do
  mkdir -p "$tmp/plugins/p$i"
  printf '#include <hotbox/plugin.h>\nint val(void) { return %d; }\nHB_PLUGIN("p%d", 1, 0, 0, 0, 0);\n' $i $i >"$tmp/plugins/p$i/p.c"
  i=$((i + 1))
done
hb_start --isolation local watch --json --once --no-selftests "$tmp/plugins"
fail=0
wait_for '"event":"watching"'
grep -q "\"watching $n plugins ($n loaded)" "$tmp/log" ||
  { echo "FAIL: not every plugin loaded: $(grep '"watching"' "$tmp/log")"; fail=1; }
printf '#include <hotbox/plugin.h>\nint val(void) { return 1000; }\nHB_PLUGIN("p7", 1, 0, 0, 0, 0);\n' >"$tmp/plugins/p7/p.c"
watch_drain
rc=$?
[ $rc = 0 ] || { echo "FAIL: watch --once exited $rc"; fail=1; }
grep -q '"event":"swapped","plugin":"p7"' "$tmp/log" || { echo "FAIL: p7 not swapped"; fail=1; }
c=$(grep -c '"event":"compiled"' "$tmp/log")
[ "$c" = 1 ] || { echo "FAIL: $c builds after one edit (want 1)"; fail=1; }
[ $fail = 0 ] && echo "PASS watch $n plugins"
[ $fail = 0 ] || { tail -5 "$tmp/log"; cat "$tmp/err"; }
exit $fail
