#!/bin/sh
# hotbox watch (the plain view): a swap of a plugin without hooks lists
# what became of each static under its event line, with the reason of a
# reset (docs/state.md). Waits by reading the command's output (no
# sleeps); the test's timeout is the failure path.
set -u
hb=$1
. "$(dirname "$0")/lib_watch.sh"
watch_tmp watch-carry
mkdir -p "$tmp/plugins/stats"
write() {
  cat >"$tmp/plugins/stats/.s.c" <<SRC
#include <hotbox/plugin.h>
struct stats { $1 };
static long count;
static struct stats counters;
long bump(void) { counters.hits++; return ++count; }
HB_PLUGIN("stats", 1, 0, 0, 0, 0);
SRC
  mv "$tmp/plugins/stats/.s.c" "$tmp/plugins/stats/stats.c"
}
write "long hits; long misses;"
watch_start --no-selftests "$tmp/plugins"
fail=0
wait_for '[watching]' || { echo "FAIL: no watching line"; fail=1; }
write "long misses; long hits;"
wait_for 'reset: `struct stats counters`: member `hits` moved from offset 0 to 8' ||
  { echo "FAIL: no reset line naming the member"; fail=1; }
grep -q '^\[swapped\] .*statics: 1 carried, 1 reset, 0 new' "$tmp/log" ||
  { echo "FAIL: the swapped line does not sum up the statics"; fail=1; }
grep -q '^    carried: `long int count`' "$tmp/log" ||
  { echo "FAIL: count is not listed as carried"; fail=1; }
watch_stop
watch_finish "watch carry"
