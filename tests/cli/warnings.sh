#!/bin/sh
# Issue 11.12: a compile that succeeds with warnings shows them, structured,
# in `hotbox build` (exit 0) and in `hotbox watch --json` (a "warning" event
# with a "diagnostics" array), and the build does not fail.
set -u
hb=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hb-warn-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/plugins/w"
src() { printf '#include <hotbox/plugin.h>\n#warning hotbox-test-warning\nint val(void) { return %s; }\nHB_PLUGIN("w", 1, 0, 0, 0, 0);\n' "$1" > "$tmp/plugins/w/w.c"; }
src 1
fail=0
"$hb" --state-dir "$tmp/state" build "$tmp/plugins/w" >"$tmp/out" 2>&1 || { echo "FAIL: build with a warning failed"; fail=1; }
grep -q "w.c:2:[0-9]*: warning: .*hotbox-test-warning" "$tmp/out" || { echo "FAIL: build does not show the warning"; cat "$tmp/out"; fail=1; }

src 2
mkfifo "$tmp/fifo"
"$hb" --state-dir "$tmp/state" watch --json --once "$tmp/plugins" >"$tmp/fifo" 2>"$tmp/err" &
pid=$!
exec 3<"$tmp/fifo"
while IFS= read -r line <&3; do
  printf "%s\n" "$line" >>"$tmp/log"
  case "$line" in *'"event":"watching"'*) break ;; esac
done
src 3
while IFS= read -r line <&3; do printf "%s\n" "$line" >>"$tmp/log"; done
exec 3<&-
wait $pid
grep -q '"event":"warning".*"diagnostics":\[{.*"line":2.*"severity":"warning"' "$tmp/log" ||
  grep -q '"event":"warning".*"diagnostics":\[{.*"severity":"warning".*"line":2' "$tmp/log" ||
  { echo "FAIL: no structured warning in the JSON stream"; cat "$tmp/log" "$tmp/err"; fail=1; }
[ $fail = 0 ] && echo "PASS warnings"
exit $fail
