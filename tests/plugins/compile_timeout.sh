#!/bin/bash
# hotbox --compile-timeout MS: the limit of one compile (the default 60 s
# kills a 250k-line amalgamation such as sqlite3.c on a loaded machine, and
# the command line had no way to raise it). A compiler that never finishes
# (it waits on a FIFO nobody writes) is killed at the given limit, and the
# error says how to raise it.
set -u
hb=$1
. "$(dirname "$0")/lib.sh"
mkdir -p "$tmp/p"
printf '#include <hotbox/plugin.h>\nHB_PLUGIN("p", 1, 0, 0, 0, 0);\n' >"$tmp/p/p.c"
mkfifo "$tmp/never"
cat >"$tmp/stuck-cc" <<SH
#!/bin/sh
# probes (--version, -dumpmachine, ...) answer; the compile of p.c never ends
case "\$*" in *p.c*) read x <'$tmp/never' ;; esac
exec cc "\$@"
SH
chmod +x "$tmp/stuck-cc"
start=$SECONDS
"$hb" -q --state-dir "$tmp/state" --isolation local --cc "$tmp/stuck-cc" --compile-timeout 300 \
  build "$tmp/p" >"$tmp/out" 2>"$tmp/err"
rc=$?
check "the stuck compile fails (exit $rc)" test $rc != 0
check "it was killed at the limit given" grep -q 'ran longer than 300 ms and was killed' "$tmp/err"
check "the error says how to raise it" grep -q -- '--compile-timeout' "$tmp/err"
check "well before the default 60 s ($((SECONDS - start)) s)" test $((SECONDS - start)) -lt 50
"$hb" -q --state-dir "$tmp/state" --compile-timeout 0 build "$tmp/p" >"$tmp/out" 2>"$tmp/err2"
rc=$?
check "0 is refused as a usage error (exit $rc)" test $rc = 2
[ $fail = 0 ] || cat "$tmp/err" "$tmp/err2"
exit $fail
