#!/bin/sh
# hotbox watch: a plugin that marks one static with HB_CARRY carries only
# that one and says the other was not marked ("carried (marked)"); with
# --no-carry nothing is carried and the view says why once. Waits by
# reading the command's output (no sleeps); the test's timeout is the
# failure path.
set -u
hb=$1
. "$(dirname "$0")/lib_watch.sh"
watch_tmp watch-marks
mkdir -p "$tmp/plugins/stats"
write() {
  cat >"$tmp/plugins/stats/.s.c" <<SRC
#include <hotbox/plugin.h>
static long count;
HB_CARRY(count);
static long other;
long bump(void) { other += $1; return ++count; }
HB_PLUGIN("stats", 1, 0, 0, 0, 0);
SRC
  mv "$tmp/plugins/stats/.s.c" "$tmp/plugins/stats/stats.c"
}
fail=0
run() { # $1: extra option
  rm -f "$tmp/log" "$tmp/err"
  write 1
  watch_start --no-selftests $1 "$tmp/plugins"
  wait_for '[watching]' || { echo "FAIL$1: no watching line"; fail=1; }
}

run ""
write 2
wait_for 'reset: `long int other`: not marked with HB_CARRY' ||
  { echo "FAIL: no reset line for the unmarked static"; fail=1; }
grep -q '^    carried (marked): `long int count`' "$tmp/log" ||
  { echo "FAIL: count is not listed as carried (marked)"; fail=1; }
grep -q '^\[swapped\] .*statics: 1 carried (marked), 1 reset, 0 new' "$tmp/log" ||
  { echo "FAIL: the swapped line does not sum up the marked statics"; fail=1; }
watch_stop
[ $fail = 0 ] || cat "$tmp/log" "$tmp/err"

run "--no-carry"
write 3
wait_for '[swapped]' || { echo "FAIL --no-carry: no swap"; fail=1; }
write 4
wait_for '[swapped]' || { echo "FAIL --no-carry: no second swap"; fail=1; }
watch_stop
[ "$(grep -c 'carry is off for this sandbox' "$tmp/log")" = 1 ] ||
  { echo "FAIL --no-carry: the view does not say once that carry is off"; fail=1; }
grep -q '^    carried' "$tmp/log" && { echo "FAIL --no-carry: something was carried"; fail=1; }
watch_finish "watch carry marks"
