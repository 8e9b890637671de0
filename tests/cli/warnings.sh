#!/bin/sh
# Issue 11.12: a compile that succeeds with warnings shows them, structured,
# in `hotbox build` (exit 0) and in `hotbox watch --json` (a "warning" event
# with a "diagnostics" array), and the build does not fail.
set -u
hb=$1
. "$(dirname "$0")/lib_watch.sh"
watch_tmp warn
mkdir -p "$tmp/plugins/w"
src() { printf '#include <hotbox/plugin.h>\n#warning hotbox-test-warning\nint val(void) { return %s; }\nHB_PLUGIN("w", 1, 0, 0, 0, 0);\n' "$1" > "$tmp/plugins/w/w.c"; }
src 1
fail=0
"$hb" --state-dir "$tmp/state" build "$tmp/plugins/w" >"$tmp/out" 2>&1 || { echo "FAIL: build with a warning failed"; fail=1; }
grep -q "w.c:2:[0-9]*: warning: .*hotbox-test-warning" "$tmp/out" || { echo "FAIL: build does not show the warning"; cat "$tmp/out"; fail=1; }

src 2
watch_start --json --once "$tmp/plugins"
wait_for '"event":"watching"'
src 3
watch_drain
grep -q '"event":"warning".*"diagnostics":\[{.*"line":2.*"severity":"warning"' "$tmp/log" ||
  grep -q '"event":"warning".*"diagnostics":\[{.*"severity":"warning".*"line":2' "$tmp/log" ||
  { echo "FAIL: no structured warning in the JSON stream"; cat "$tmp/log" "$tmp/err"; fail=1; }
[ $fail = 0 ] && echo "PASS warnings"
exit $fail
