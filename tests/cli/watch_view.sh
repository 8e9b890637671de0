#!/bin/sh
# The watch view (issue 19): plugin output prefixed with the plugin's name,
# compile errors with the source line and a caret, a diagnostic's plugin in
# --json, plain lines (no escape sequences) when stdout is not a terminal,
# and the table redrawn in place (cursor up, clear) when it is one.
# Synchronises on the command's own output through a fifo; no sleeps.
set -u
hb=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hb-wview-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME="$tmp/cache"
fail=0
bad() { echo "FAIL: $*"; fail=1; }
has() { grep -qE -- "$2" "$1" || { bad "$1 lacks /$2/"; cat "$1"; }; }

mkdir -p "$tmp/p/talky" "$tmp/p/oops"
# Saved as editors do (write a new file, rename it into place): with
# `cat > talky.c` a writer stalled between the truncation and the write for
# two quiet windows (a loaded machine) is a save of an empty file, and
# --once rightly ends with that save's failure.
talky() {
  cat > "$tmp/p/talky/talky.c.new" <<SRC
#include <hotbox/plugin.h>
#include <stdio.h>
HB_EXPORT_FN int hb_test_says(void) { printf("$1\\n"); fflush(stdout); return 0; }
HB_PLUGIN("talky", 1, 0, 0, 0, 0);
SRC
  mv "$tmp/p/talky/talky.c.new" "$tmp/p/talky/talky.c"
}
talky "first words"
printf '#include <hotbox/plugin.h>\nint f(void)\n{\n\treturn missing_name;\n}\nHB_PLUGIN("oops", 1, 0, 0, 0, 0);\n' > "$tmp/p/oops/oops.c"

# watch_run LOG ARGS...: starts watch --once with stdout into the fifo,
# reads until the "watching" line, edits talky, reads to the end. The watch
# runs under a watchdog (POSIX sh has no read -t): if it has not exited
# after $limit s it is stopped (SIGTERM: it shuts down and its output ends,
# so the reads below end too) and the run fails with its log.
limit=${HB_TEST_WATCH_LIMIT:-90}
watch_run() {
  log=$1; shift
  rm -f "$tmp/fifo"; mkfifo "$tmp/fifo"
  timeout -k 10 $limit "$@" >"$tmp/fifo" 2>"$log.err" &
  pid=$!
  exec 3<"$tmp/fifo"
  while IFS= read -r line <&3; do
    printf '%s\n' "$line" >>"$log"
    case "$line" in *watching*) break ;; esac
  done
  talky "second words"
  while IFS= read -r line <&3; do printf '%s\n' "$line" >>"$log"; done
  exec 3<&-
  wait $pid
  rc=$?
  if [ $rc = 124 ] || [ $rc = 137 ]; then
    bad "watch --once did not exit within $limit s of the edit: $*"
    echo "--- $log"; cat "$log"; echo "--- $log.err"; cat "$log.err"
  fi
}

# --json: output events carry the plugin; diagnostics too.
talky "first words"
watch_run "$tmp/json.log" "$hb" --state-dir "$tmp/s1" watch --json --once "$tmp/p"
has "$tmp/json.log" '"event":"output","plugin":"talky","text":"second words"'
has "$tmp/json.log" '"event":"diagnostic","plugin":"oops".*missing_name'

# plain lines: prefixed output, GCC-style caret, no escape sequences
talky "first words"
watch_run "$tmp/plain.log" "$hb" --state-dir "$tmp/s2" watch --once "$tmp/p"
has "$tmp/plain.log" '^talky\| first words$'
has "$tmp/plain.log" '^talky\| second words$'
has "$tmp/plain.log" 'oops.c:4:[0-9]+: error: .missing_name. undeclared'
has "$tmp/plain.log" '^ +4 \| 	return missing_name;$'
has "$tmp/plain.log" '^ +\| 	 +\^$'
if grep -q "$(printf '\033')" "$tmp/plain.log"; then bad "escape sequences in plain output"; fi

# a terminal: the table is redrawn in place (cursor up N lines, clear)
if command -v script >/dev/null 2>&1; then
  talky "first words"
  watch_run "$tmp/tty.log" script -qefc "'$hb' --state-dir '$tmp/s3' watch --once '$tmp/p'" /dev/null
  grep -q "$(printf '\033')\[[0-9]*A$(printf '\033')\[J" "$tmp/tty.log" || bad "no in-place redraw on a terminal"
  n=$(grep -c -- "── plugins" "$tmp/tty.log")
  [ "$n" -ge 2 ] || bad "the table was drawn $n times"
else
  echo "note: no script(1); the terminal part is not checked"
fi
[ $fail = 0 ] && echo "PASS watch view"
exit $fail
