# tests/cli/lib_watch.sh - sourced by the hotbox watch tests: run `hotbox
# watch` with its output on a FIFO and wait for lines (no sleeps; the
# test's timeout is the failure path). Needs $hb and $tmp.
#   watch_start ARGS...   starts `hotbox --state-dir $tmp/state watch ARGS`
#   wait_for TEXT         reads lines (kept in $tmp/log) until one holds TEXT
#   watch_stop            SIGINT, drains the output, waits for the exit
#   watch_end             drains the output, waits for the exit: $watch_rc
#   blocking_cc           writes $tmp/slow-cc.sh (see below)
# Optional: watch_cc=PATH runs it with --isolation local --cc PATH;
# watch_limit=N runs it under timeout(1): a hang ends after N s (exit 124).
watch_start() {
  mkfifo "$tmp/fifo"
  ${watch_limit:+timeout -k 10 "$watch_limit"} "$hb" --state-dir "$tmp/state" \
    ${watch_cc:+--isolation local --cc "$watch_cc"} watch "$@" >"$tmp/fifo" 2>"$tmp/err" &
  watch_pid=$!
  exec 3<"$tmp/fifo"
}
watch_end() {
  while IFS= read -r line <&3; do echo "$line" >>"$tmp/log"; done
  exec 3<&-
  wait $watch_pid
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
wait_for() {
  while IFS= read -r line <&3; do
    echo "$line" >>"$tmp/log"
    case "$line" in *"$1"*) return 0 ;; esac
  done
  return 1
}
watch_stop() {
  kill -INT $watch_pid
  while IFS= read -r line <&3; do echo "$line" >>"$tmp/log"; done
  exec 3<&-
  wait $watch_pid
}
