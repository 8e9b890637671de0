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
real_cc=$(command -v "${CC:-cc}")
mkdir -p "$tmp/p/talky"
mkfifo "$tmp/compiled" "$tmp/go" "$tmp/fifo"
cat > "$tmp/slow-cc.sh" <<SH
#!/bin/sh
'$real_cc' "\$@" || exit \$?
case "\$*" in *plugin.so*)
  if [ -e '$tmp/block' ]; then rm -f '$tmp/block'; echo compiled > '$tmp/compiled'; read x < '$tmp/go'; fi;;
esac
exit 0
SH
chmod +x "$tmp/slow-cc.sh"
talky() {
  printf '#include <hotbox/plugin.h>\nint says(void) { return %s; }\nHB_PLUGIN("talky", 1, 0, 0, 0, 0);\n' "$1"
}
talky 1 > "$tmp/p/talky/talky.c"
fail=0
timeout -k 10 60 "$hb" --state-dir "$tmp/state" --isolation local --cc "$tmp/slow-cc.sh" \
  watch --json --once --no-selftests "$tmp/p" >"$tmp/fifo" 2>"$tmp/err" &
pid=$!
exec 3<"$tmp/fifo"
while IFS= read -r line <&3; do
  echo "$line" >>"$tmp/log"
  case "$line" in *'"event":"watching"'*) break ;; esac
done
# Open without truncating (no event) and write the whole new content in one
# write(2), longer than the old: one IN_MODIFY, no close yet.
exec 4<>"$tmp/p/talky/talky.c"
: > "$tmp/block"
printf '%s\n' "$(talky 22)" >&4
timeout 60 sh -c "read x < '$tmp/compiled'" || { echo "FAIL: the compiler never ran"; kill $pid; cat "$tmp/log" "$tmp/err"; exit 1; }
exec 4>&-                                 # the save's close, mid-build
timeout 60 sh -c "echo go > '$tmp/go'" || { echo "FAIL: the compiler stopped waiting"; kill $pid; exit 1; }
while IFS= read -r line <&3; do echo "$line" >>"$tmp/log"; done
exec 3<&-
wait $pid
rc=$?
[ $rc != 124 ] || { echo "FAIL: watch --once did not exit within 60 s of the save"; fail=1; }
[ $rc = 0 ] || [ $rc = 124 ] || { echo "FAIL: watch --once exited $rc (want 0)"; fail=1; }
grep -q '"event":"swapped","plugin":"talky"' "$tmp/log" || { echo "FAIL: talky was not swapped"; fail=1; }
[ $fail = 0 ] && echo "PASS watch --once exits when the save's close settles nothing new"
[ $fail = 0 ] || cat "$tmp/log" "$tmp/err"
exit $fail
