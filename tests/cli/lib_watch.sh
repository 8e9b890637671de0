# tests/cli/lib_watch.sh - sourced by the hotbox watch tests: run `hotbox
# watch` with its output on a FIFO and wait for lines (no sleeps; the
# test's timeout is the failure path). Needs $hb and $tmp.
#   watch_start ARGS...   starts `hotbox --state-dir $tmp/state watch ARGS`
#   wait_for TEXT         reads lines (kept in $tmp/log) until one holds TEXT
#   watch_stop            SIGINT, drains the output, waits for the exit
watch_start() {
  mkfifo "$tmp/fifo"
  "$hb" --state-dir "$tmp/state" watch "$@" >"$tmp/fifo" 2>"$tmp/err" &
  watch_pid=$!
  exec 3<"$tmp/fifo"
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
