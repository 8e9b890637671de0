#!/bin/sh
# --worker: process serves the call; auto serves it (from a guest where one
# boots under KVM, else from a process) and says why; microvm where no guest
# can run (no guest kernel) is refused (exit 1, the reason on stderr, no
# result printed);
# an unknown kind is a usage error, from the command line or hotbox.json.
hb=$1
src=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hb-cli-worker-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail=0
run() { # want_status outfile args...
  want=$1; out=$2; shift 2
  "$hb" --state-dir "$tmp/state" "$@" >"$out" 2>"$out.err"
  got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL: hotbox $* exited $got, want $want"; cat "$out" "$out.err"; fail=1
  fi
}
call="call $src/examples/plugins/mathx -- mathx add ii)i 2 3"
run 0 "$tmp/p" --worker process $call
grep -qx 5 "$tmp/p" || { echo "FAIL: --worker process did not print 5"; cat "$tmp/p"; fail=1; }
run 0 "$tmp/a" --worker auto $call
grep -qx 5 "$tmp/a" || { echo "FAIL: --worker auto did not print 5"; cat "$tmp/a"; fail=1; }
grep -Eq "worker (process: auto picks|microvm: auto picked a guest)" "$tmp/a" "$tmp/a.err" ||
  { echo "FAIL: --worker auto did not say why it picked process"; cat "$tmp/a" "$tmp/a.err"; fail=1; }
mkdir "$tmp/nokernel"
HOTBOX_KERNEL_DIR=$tmp/nokernel run 1 "$tmp/m" --worker microvm $call
grep -q 5 "$tmp/m" && { echo "FAIL: --worker microvm printed a result"; fail=1; }
grep -q "microVM worker: guest kernel not found" "$tmp/m.err" ||
  { echo "FAIL: --worker microvm did not say why it was refused"; cat "$tmp/m.err"; fail=1; }
run 2 "$tmp/b" --worker bogus $call
grep -q 'unknown worker "bogus"' "$tmp/b.err" || { echo "FAIL: no message for a bad kind"; fail=1; }
mkdir "$tmp/cfg"
printf '{"worker": "vm"}\n' > "$tmp/cfg/hotbox.json"
(cd "$tmp/cfg" && "$hb" --state-dir "$tmp/state" $call >"$tmp/j" 2>"$tmp/j.err")
[ $? = 2 ] || { echo "FAIL: hotbox.json worker \"vm\" was not a usage error"; fail=1; }
grep -q 'hotbox.json: unknown worker "vm"' "$tmp/j.err" || { echo "FAIL: no hotbox.json message"; cat "$tmp/j.err"; fail=1; }
exit $fail
