#!/bin/sh
# hotbox watch: saving plugin.json with a changed runtime section takes
# effect on the reload it causes: the worker restarts under the new
# settings (the restarted line says what changed) before the swap, and the
# plugin sees its new environment. Waits by reading the command's output
# (no sleeps); the test's timeout is the failure path.
set -u
hb=$1
. "$(dirname "$0")/lib_watch.sh"
watch_tmp watch-runtime
mkdir -p "$tmp/plugins/greet"
write() { # the version number, then plugin.json's text
  cat >"$tmp/plugins/greet/.g.c" <<SRC
#include <hotbox/plugin.h>
#include <stdlib.h>
#include <string.h>
int hb_test_greeting(void) { const char *g = getenv("GREETING"); return $1 == 1 ? g != 0 : !(g && !strcmp(g, "hello")); }
HB_PLUGIN("greet", 1, 0, 0, 0, 0);
SRC
  printf '%s\n' "$2" >"$tmp/plugins/greet/.plugin.json"
  mv "$tmp/plugins/greet/.plugin.json" "$tmp/plugins/greet/plugin.json"
  mv "$tmp/plugins/greet/.g.c" "$tmp/plugins/greet/greet.c"
}
write 1 '{}'
watch_start "$tmp/plugins"
fail=0
wait_for '[watching]' || { echo "FAIL: no watching line"; fail=1; }
write 2 '{"runtime": {"env": {"GREETING": "hello"}, "limits": {"max_fds": 64}}}'
wait_for '[selftest] greet v2: hb_test_greeting passed' ||
  { echo "FAIL: v2's self-test did not see GREETING=hello"; fail=1; }
grep -q '^\[swapped\] greet v1 -> v2' "$tmp/log" || { echo "FAIL: no swapped line"; fail=1; }
grep -q '^\[restarted\] .*other plugin.json runtime settings (greet: limit fds 256 -> 64, env, data or allow-list)' "$tmp/log" ||
  { echo "FAIL: no restarted line naming the changed settings"; fail=1; }
watch_stop
watch_finish "watch runtime"
