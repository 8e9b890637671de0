#!/bin/sh
# hotbox watch --json under a storm of saves made the ways tools make them
# (in place, temp + rename, sed -i, delete + create) on three plugins at
# once, with no pause between saves. Afterwards `hotbox build` names the
# version each plugin's final content is (a cache hit when watch built it);
# the JSON stream must end with each plugin live on exactly that version and
# say nothing after it that contradicts it. Waits by reading the stream; the
# test's timeout is the failure path.
set -u
hb=$1
. "$(dirname "$0")/lib_watch.sh"
watch_tmp storm
src() { # plugin value
  printf '#include <hotbox/plugin.h>\nint val(void) { return %d; }\nHB_PLUGIN("%s", 1, 0, 0, 0, 0);\n' "$2" "$1"
}
for p in p0 p1 p2; do mkdir -p "$tmp/plugins/$p"; src $p 0 >"$tmp/plugins/$p/main.c"; done
hb_start --isolation local watch --json --no-selftests "$tmp/plugins"
wait_for '"event":"watching"'
k=1
while [ $k -le 90 ]; do
  p=p$((k % 3)); f="$tmp/plugins/$p/main.c"
  case $((k % 4)) in
    0) src $p $k >"$f" ;;
    1) src $p $k >"$tmp/plugins/$p/.main.c.tmp" && mv "$tmp/plugins/$p/.main.c.tmp" "$f" ;;
    2) sed -i "s/return [0-9]*;/return $k;/" "$f" ;;
    3) rm -f "$f"; src $p $k >"$f" ;;
  esac
  k=$((k + 1))
done
fail=0
for p in p0 p1 p2; do
  out=$("$hb" --state-dir "$tmp/state" --isolation local -q build "$tmp/plugins/$p" 2>&1)
  v=$(echo "$out" | sed -n 's/.* v\([0-9][0-9]*\).*/\1/p' | head -1)
  [ -n "$v" ] || { echo "FAIL: hotbox build $p said: $out"; fail=1; }
  eval "want_$p=\${v:-0}"
done
live() { # plugin: the version the stream last said is live
  grep "\"plugin\":\"$1\"" "$tmp/log" | grep -E '"event":"(loaded|swapped|up-to-date|rolled-back)"' |
    tail -1 | sed -n 's/.*"version":\([0-9]*\).*/\1/p'
}
settled() {
  [ "$(live p0)" = "$want_p0" ] && [ "$(live p1)" = "$want_p1" ] && [ "$(live p2)" = "$want_p2" ]
}
settled || while IFS= read -r line <&3; do
  echo "$line" >>"$tmp/log"
  settled && break
done
settled || { echo "FAIL: the stream never said p0 v$want_p0, p1 v$want_p1, p2 v$want_p2 are live"; fail=1; }
watch_stop
rc=$?
[ $rc = 0 ] || { echo "FAIL: watch exited $rc after SIGINT"; fail=1; }
settled || { echo "FAIL: after the end of the stream p0 v$(live p0), p1 v$(live p1), p2 v$(live p2) are live; want v$want_p0, v$want_p1, v$want_p2"; fail=1; }
for p in p0 p1 p2; do
  last=$(grep "\"plugin\":\"$p\"" "$tmp/log" | grep -E '"event":"(loaded|swapped|up-to-date|compile-failed|swap-failed)"' | tail -1)
  case "$last" in *'"event":"compile-failed"'*|*'"event":"swap-failed"'*)
    echo "FAIL: the last word on $p is a failure: $last"; fail=1 ;; esac
done
builds=$(grep -c '"event":"compiled"' "$tmp/log")
[ $fail = 0 ] && echo "PASS watch storm: 90 saves, $builds builds reported"
[ $fail = 0 ] || { cat "$tmp/log" "$tmp/err"; }
exit $fail
