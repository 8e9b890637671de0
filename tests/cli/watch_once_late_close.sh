#!/bin/sh
# hotbox watch --once exits after the change is handled even when the round
# that settles the watch finds nothing new. The save's final bytes are
# written while the file is still open, so they settle (quiet window) and
# build before the save's close. The close lands while that build runs
# (the compiler, --cc, is a wrapper that waits on a FIFO until this script
# has closed the file): it leaves the watch pending after the build, and the
# round that settles it sees content already built and acts on nothing.
# Before the fix --once only looked for quiet after a round that acted, so
# it never exited (the hang of cli_watch_view under load: a shell's
# `cat > f` truncates, writes and closes in three steps). The watch runs
# under a watchdog: a hang fails in 60 s with the log, not at the CTest
# timeout.
set -u
hb=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hb-late-XXXXXX")
trap '[ -n "${HB_TEST_KEEP:-}" ] || rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib_watch.sh"
blocking_cc
mkdir -p "$tmp/p/talky"
talky() {
  printf '#include <hotbox/plugin.h>\nint says(void) { return %s; }\nHB_PLUGIN("talky", 1, 0, 0, 0, 0);\n' "$1"
}
talky 1 > "$tmp/p/talky/talky.c"
fail=0
watch_cc="$tmp/slow-cc.sh" watch_limit=60 watch_start --json --once --no-selftests "$tmp/p"
wait_for '"event":"watching"' || { echo "FAIL: no watching event"; cat "$tmp/log" "$tmp/err"; exit 1; }
# Open without truncating (no event) and write the whole new content in one
# write(2), longer than the old: one IN_MODIFY, no close yet.
exec 4<>"$tmp/p/talky/talky.c"
: > "$tmp/block"
printf '%s\n' "$(talky 22)" >&4
timeout 60 sh -c "read x < '$tmp/compiled'" || { echo "FAIL: the compiler never ran"; kill $watch_pid; cat "$tmp/log" "$tmp/err"; exit 1; }
exec 4>&-                                 # the save's close, mid-build
timeout 60 sh -c "echo go > '$tmp/go'" || { echo "FAIL: the compiler stopped waiting"; kill $watch_pid; exit 1; }
watch_end
[ $watch_rc != 124 ] || { echo "FAIL: watch --once did not exit within 60 s of the save"; fail=1; }
[ $watch_rc = 0 ] || [ $watch_rc = 124 ] || { echo "FAIL: watch --once exited $watch_rc (want 0)"; fail=1; }
grep -q '"event":"swapped","plugin":"talky"' "$tmp/log" || { echo "FAIL: talky was not swapped"; fail=1; }
[ $fail = 0 ] && echo "PASS watch --once exits when the save's close settles nothing new"
[ $fail = 0 ] || cat "$tmp/log" "$tmp/err"
exit $fail
