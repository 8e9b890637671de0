# tests/protocols/lib.sh - sourced by the ports of other hot-reload tools'
# test protocols: a copy of one plugin of plugins/ in $tmp, `hotbox watch
# --json` on it (tests/cli/lib_watch.sh: no sleeps, the test's timeout is the
# failure path), calls into that live session, edits with sed.
#   proto_start NAME [GLOBAL OPTS]  copies plugins/NAME, runs the script's
#                                   proto_before_start if any, starts the
#                                   watch, waits for "watching"
#   hbcall SYMBOL SIG [ARGS]        `hotbox call` into the live session
#   edit FILE SED-EXPR              rewrites plugins/NAME/FILE like an editor
#   want DESC EXPECTED ACTUAL       a check (fail=1 when they differ)
#   event TEXT                      waits for a watch line holding TEXT
set -u
hb=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli/lib_watch.sh"
fail=0
proto_start() {
  name=$1
  shift
  watch_tmp "proto-$name"
  cp -r "$here/plugins/$name" "$tmp/$name"
  ! declare -F proto_before_start >/dev/null || proto_before_start
  hb_start "$@" watch --json --no-selftests "$tmp/$name"
  expect '"event":"watching"' || watch_finish "$name"
}
hbcall() {
  "$hb" -q --state-dir "$tmp/state" call "$tmp/$name" -- "$name" "$@" 2>>"$tmp/err"
}
edit() {
  sed "$2" "$tmp/$name/$1" >"$tmp/$name/.$1.tmp" && mv "$tmp/$name/.$1.tmp" "$tmp/$name/$1"
}
want() {
  if [ "$2" = "$3" ]; then echo "ok: $1 ($3)"; else echo "FAIL: $1: wanted '$2', got '$3'"; fail=1; fi
}
event() {
  if wait_for "$1"; then echo "ok: event $1"; else echo "FAIL: no event $1"; fail=1; watch_finish "$name"; fi
}
