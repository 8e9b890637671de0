#!/bin/sh
# Issue 17's done-when command: `hotbox --worker microvm call
# examples/plugins/mathx -- mathx add 'ii)i' 2 3` prints 5, from a worker
# inside a microVM guest (the notice names the guest pid and how the VM
# started). SKIPs (77) with the reason when this machine has no guest kernel
# or no QEMU.
hb=$1
src=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hb-cli-microvm-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$hb" --state-dir "$tmp/state" --worker microvm call "$src/examples/plugins/mathx" -- \
  mathx add 'ii)i' 2 3 >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc != 0 ] && grep -Eq "guest kernel not found|needs qemu-system-x86_64|initramfs not found" "$tmp/err"; then
  echo "SKIP: $(grep -E 'microVM worker' "$tmp/err" | head -1)"
  exit 77
fi
fail=0
[ $rc = 0 ] || { echo "FAIL: hotbox exited $rc"; fail=1; }
grep -qx 5 "$tmp/out" || { echo "FAIL: did not print 5"; fail=1; }
grep -Eq "microVM worker: .*worker pid [0-9]+ in the guest" "$tmp/out" "$tmp/err" ||
  { echo "FAIL: no notice of the guest worker"; fail=1; }
[ $fail = 0 ] || cat "$tmp/out" "$tmp/err"
exit $fail
