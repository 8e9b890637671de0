#!/bin/sh
# hotbox watch --once: a save during the compile of the previous save
# supersedes that build; --once must wait for the build of the final content
# and its exit code must say how that went. Here the final save does not
# compile: exit 1 and a compile-failed event naming the plugin, not exit 0
# after the superseded build. The compiler (--cc) is a wrapper that reports on
# a FIFO and waits on another until this script has saved again. FIFO waits
# are bounded by `timeout`; reading the JSON stream is how this waits.
set -u
hb=$1
. "$(dirname "$0")/lib_watch.sh"
watch_tmp once
blocking_cc
mkdir -p "$tmp/plugins/race"
src() {
  cat > "$tmp/plugins/race/r.c.new" <<SRC
#include <hotbox/plugin.h>
int val(void) { return $1; }
$2
HB_PLUGIN("race", 1, 0, 0, 0, 0);
SRC
  mv "$tmp/plugins/race/r.c.new" "$tmp/plugins/race/r.c"
}
src 1 ""
fail=0
watch_limit=90 hb_start --isolation local --cc "$tmp/slow-cc.sh" watch --json --once --no-selftests "$tmp/plugins"
wait_for '"event":"watching"' || { echo "FAIL: no watching event"; cat "$tmp/log" "$tmp/err"; exit 1; }
: > "$tmp/block"
src 2 ""                                  # a good save: its compile blocks
timeout 60 sh -c "read x < '$tmp/compiled'" || { echo "FAIL: the compiler never ran"; exit 1; }
src 3 "int broken(void) { return }"      # saved again mid-compile: does not compile
timeout 60 sh -c "echo go > '$tmp/go'" || { echo "FAIL: the compiler stopped waiting"; exit 1; }
watch_drain
rc=$?
[ $rc = 1 ] || { echo "FAIL: watch --once exited $rc; the final save does not compile (want 1)"; fail=1; }
grep -q '"event":"compile-failed","plugin":"race"' "$tmp/log" ||
  { echo "FAIL: no compile-failed event for the final content"; fail=1; }
watch_finish "watch --once waits for the final content"
