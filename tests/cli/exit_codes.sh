#!/bin/sh
# Checks the documented exit codes of the hotbox command and that every
# command answers --help.
hb=$1
state=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hb-cli-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail=0
expect() {
  want=$1; shift
  "$@" >"$tmp/out" 2>&1
  got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL: '$*' exited $got, want $want"; cat "$tmp/out"; fail=1
  fi
}
expect 2 "$hb"
expect 2 "$hb" frobnicate
expect 2 "$hb" --isolation bogus build x
expect 0 "$hb" --help
expect 0 "$hb" --version
for c in build call versions demo watch test rollback verify gc store status audit doctor report; do expect 0 "$hb" "$c" --help; done
expect 1 "$hb" --state-dir "$state" build "$tmp/missing"
mkdir -p "$tmp/broken"
printf 'int f(void) { return }\n' > "$tmp/broken/b.c"
expect 3 "$hb" --state-dir "$state" build "$tmp/broken"
grep -q "b.c:1:" "$tmp/out" || { echo "FAIL: compile error does not name b.c:1"; cat "$tmp/out"; fail=1; }
expect 2 "$hb" --state-dir "$state" call "$tmp/broken" -- x f 'i)q' 1
mkdir -p "$tmp/crash"
cat > "$tmp/crash/c.c" <<'SRC'
#include <hotbox/plugin.h>
int crash(void) { volatile int *p = 0; return *p; }
HB_PLUGIN("crash", 1, 0, 0, 0, 0);
SRC
expect 4 "$hb" --state-dir "$state" call "$tmp/crash" -- crash crash ')i'
grep -q SIGSEGV "$tmp/out" || { echo "FAIL: crash does not name SIGSEGV"; cat "$tmp/out"; fail=1; }
# Results that cannot be written (a full disk) are a failure, not success.
if [ -w /dev/full ]; then
  "$hb" --state-dir "$state" versions crash >/dev/full 2>"$tmp/out"
  got=$?
  [ "$got" = 1 ] || { echo "FAIL: versions >/dev/full exited $got, want 1"; cat "$tmp/out"; fail=1; }
  grep -q "cannot write the output" "$tmp/out" || { echo "FAIL: no write error named"; cat "$tmp/out"; fail=1; }
fi
[ $fail = 0 ] && echo "PASS exit codes"
exit $fail
