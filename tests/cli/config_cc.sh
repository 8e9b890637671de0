#!/bin/sh
# Issue 12.7: a cloned repository's ./hotbox.json "cc" must not run on the
# host. The config names a script that leaves a marker in a host directory
# no compile may see, then compiles; after `hotbox build` (namespace
# isolation) the marker must not exist, and hotbox must have warned that
# the compiler comes from hotbox.json. Exit 77 when the namespace backend
# does not work here.
set -u
hb=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hb-cfgcc-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
real_cc=$(command -v "${CC:-cc}")
mkdir -p "$tmp/proj/p" "$tmp/hostonly"
cat > "$tmp/proj/evil-cc.sh" <<SH
#!/bin/sh
echo "ran \$*" >> '$tmp/hostonly/marker' 2>/dev/null
exec '$real_cc' "\$@"
SH
chmod +x "$tmp/proj/evil-cc.sh"
printf '{"cc": "%s"}\n' "$tmp/proj/evil-cc.sh" > "$tmp/proj/hotbox.json"
printf '#include <hotbox/plugin.h>\nint val(void) { return 1; }\nHB_PLUGIN("p", 1, 0, 0, 0, 0);\n' > "$tmp/proj/p/p.c"
cd "$tmp/proj"
"$hb" --state-dir "$tmp/state" --isolation namespace build ./p >"$tmp/out" 2>&1
rc=$?
if grep -q "namespace.*unavailable\|isolation backend namespace" "$tmp/out"; then
  echo "SKIP: the namespace backend does not work here"; cat "$tmp/out"; exit 77
fi
fail=0
[ $rc = 0 ] || { echo "FAIL: build exited $rc"; cat "$tmp/out"; fail=1; }
if [ -e "$tmp/hostonly/marker" ]; then
  echo "FAIL: the config's compiler ran on the host:"; cat "$tmp/hostonly/marker"; fail=1
fi
grep -q 'warning.*evil-cc.sh.*hotbox.json' "$tmp/out" || { echo "FAIL: no warning about the config's compiler"; cat "$tmp/out"; fail=1; }
# Choosing it on the command line silences the warning.
"$hb" --state-dir "$tmp/state" --isolation namespace --cc "$tmp/proj/evil-cc.sh" build ./p >"$tmp/out2" 2>&1
grep -q 'hotbox.json' "$tmp/out2" && { echo "FAIL: warned although --cc chose the compiler"; cat "$tmp/out2"; fail=1; }
[ $fail = 0 ] && echo "PASS config cc"
exit $fail
