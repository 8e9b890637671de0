# tests/cli/lib_watch.sh - sourced by the hotbox watch tests: run `hotbox
# watch` with its output on a FIFO and wait for lines (no sleeps; the
# test's timeout is the failure path). Needs $hb.
#   watch_tmp NAME        makes $tmp (removed, and the watch killed, at exit)
#   watch_start ARGS...   starts `hotbox --state-dir $tmp/state watch ARGS`
#   hb_start ARGS...      the same for `hotbox --state-dir $tmp/state ARGS`
#                         (global options before the command); its output
#                         is read through fd 3, stderr goes to $tmp/err
#   wait_for TEXT         reads lines (kept in $tmp/log) until one holds TEXT
#                         (then in $last); 1 if the output ends first
#   expect TEXT           wait_for, and a FAIL (fail=1) if the output ends
#   watch_drain           reads the rest of the output, waits for the exit;
#                         returns the command's exit status
#   watch_stop            SIGINT, then watch_drain
#   watch_finish NAME     prints PASS NAME, or the log and stderr; exits $fail
#   watch_end             watch_drain, its status in $watch_rc
#   blocking_cc           writes $tmp/slow-cc.sh (see below)
# Optional: watch_cc=PATH runs it with --isolation local --cc PATH;
# watch_limit=N runs it under timeout(1): a hang ends after N s (exit 124).
watch_pid=
last=
watch_tmp() {
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/hb-$1-XXXXXX")
  trap '[ -n "$watch_pid" ] && kill -KILL $watch_pid 2>/dev/null; [ -n "${HB_TEST_KEEP:-}" ] || rm -rf "$tmp"' EXIT
}
hb_start() {
  rm -f "$tmp/fifo"
  mkfifo "$tmp/fifo"
  ${watch_limit:+timeout -k 10 "$watch_limit"} "$hb" --state-dir "$tmp/state" \
    ${watch_cc:+--isolation local --cc "$watch_cc"} "$@" >"$tmp/fifo" 2>>"$tmp/err" &
  watch_pid=$!
  exec 3<"$tmp/fifo"
}
watch_start() {
  hb_start watch "$@"
}
wait_for() {
  while IFS= read -r line <&3; do
    printf '%s\n' "$line" >>"$tmp/log"
    case "$line" in *"$1"*) last=$line; return 0 ;; esac
  done
  return 1
}
expect() {
  wait_for "$1" && return 0
  echo "FAIL: the output ended before $1"
  fail=1
  return 1
}
watch_drain() {
  while IFS= read -r line <&3; do printf '%s\n' "$line" >>"$tmp/log"; done
  exec 3<&-
  wait $watch_pid
  set -- $?
  watch_pid=
  return $1
}
watch_end() {
  watch_drain
  watch_rc=$?
}
# A compiler for --cc that holds one build at the script's word: it compiles
# with the real one, then, at the link of plugin.so while $tmp/block exists,
# removes it, says "compiled" on the FIFO $tmp/compiled and waits for a line
# on the FIFO $tmp/go.
blocking_cc() {
  real_cc=$(command -v "${CC:-cc}")
  mkfifo "$tmp/compiled" "$tmp/go"
  cat > "$tmp/slow-cc.sh" <<SH
#!/bin/sh
'$real_cc' "\$@" || exit \$?
case "\$*" in *plugin.so*)
  if [ -e '$tmp/block' ]; then rm -f '$tmp/block'; echo compiled > '$tmp/compiled'; read x < '$tmp/go'; fi;;
esac
exit 0
SH
  chmod +x "$tmp/slow-cc.sh"
}
watch_stop() {
  kill -INT $watch_pid
  watch_drain
}
watch_finish() {
  if [ $fail = 0 ]; then
    echo "PASS $1"
    [ -n "${HB_TEST_VERBOSE:-}" ] && cat "$tmp/log"
  else
    cat "$tmp/log" "$tmp/err" 2>/dev/null
  fi
  exit $fail
}
