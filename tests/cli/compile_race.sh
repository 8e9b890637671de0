#!/bin/sh
# Issue 11.1 through the command: a save while `hotbox build` compiles must
# not leave a stale object cached under the new content's hash. The compiler
# (--cc) is a wrapper that compiles, reports on a FIFO and waits on another
# until this script has rewritten the source; the next `hotbox call` must run
# the new content. FIFO waits are bounded by `timeout`. The FIFOs live in
# the plugin directory: an isolated compile is shown the compiler's own
# file, not its directory (docs/threat-model.md).
set -u
hb=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hb-race-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
real_cc=$(command -v "${CC:-cc}")
mkdir -p "$tmp/race"
sync=$tmp/race
mkfifo "$sync/compiled" "$sync/go"
: > "$sync/block"
cat > "$tmp/slow-cc.sh" <<SH
#!/bin/sh
'$real_cc' "\$@" || exit \$?
case "\$*" in *plugin.so*)
  if [ -e '$sync/block' ]; then echo compiled > '$sync/compiled'; read x < '$sync/go'; fi;;
esac
exit 0
SH
chmod +x "$tmp/slow-cc.sh"
src() {
  cat > "$tmp/race/r.c" <<SRC
#include <hotbox/plugin.h>
int val(void) { return $1; }
HB_PLUGIN("race", 1, 0, 0, 0, 0);
SRC
}
src 1
fail=0
"$hb" --state-dir "$tmp/state" --cc "$tmp/slow-cc.sh" build "$tmp/race" >"$tmp/build.out" 2>&1 &
pid=$!
timeout 60 sh -c "read x < '$sync/compiled'" || { echo "FAIL: the compiler never ran"; cat "$tmp/build.out"; kill $pid; exit 1; }
src 2                       # the user saves while the compiler still runs
rm -f "$sync/block"
timeout 60 sh -c "echo go > '$sync/go'" || { echo "FAIL: the compiler stopped waiting"; exit 1; }
wait $pid
rc=$?
[ $rc = 0 ] || { echo "FAIL: hotbox build exited $rc"; cat "$tmp/build.out"; fail=1; }
out=$("$hb" --state-dir "$tmp/state" --cc "$tmp/slow-cc.sh" -q call "$tmp/race" -- race val ')i' 2>&1)
[ "$out" = 2 ] || { echo "FAIL: hotbox call ran stale code: got '$out', want 2"; fail=1; }
[ $fail = 0 ] && echo "PASS compile race"
exit $fail
