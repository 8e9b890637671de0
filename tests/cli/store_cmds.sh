#!/bin/sh
# The store and information commands, run as a user would: build twice,
# versions, rollback (pin), verify, gc, status, audit, doctor, --profile and
# hotbox.json defaults.
hb=$1
src=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hb-store-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { # check DESCRIPTION COMMAND... (must exit 0)
  d=$1; shift
  if ! "$@" >"$tmp/out" 2>&1; then echo "FAIL: $d"; cat "$tmp/out"; fail=1; fi
}
expect_out() { # expect_out REGEX
  grep -Eq "$1" "$tmp/out" || { echo "FAIL: output lacks /$1/"; cat "$tmp/out"; fail=1; }
}
cd "$tmp" || exit 1
cp -r "$src/examples/plugins/counter" counter
S="--state-dir $tmp/st"
check "build v1" "$hb" $S build counter
check "run v1" "$hb" $S -q call counter -- counter increment ')l'
expect_out "^1$"
sed -i 's/count += 1;/count += 2;/' counter/counter.c
check "run v2" "$hb" $S -q call counter -- counter increment ')l'
expect_out "^2$"
check "versions" "$hb" $S versions counter
expect_out "^v2 "
check "rollback" "$hb" $S rollback counter
expect_out "pinned to v1"
check "versions after rollback" "$hb" $S versions counter
expect_out "^v2 +rolled-back"
check "the pinned version loads while the source is unchanged" "$hb" $S -q call counter -- counter increment ')l'
expect_out "^1$"
check "verify" "$hb" $S verify
expect_out "consistent"
check "gc" "$hb" $S gc --keep 1
expect_out "removed"
check "verify after gc" "$hb" $S verify
check "status" "$hb" $S status
expect_out "^counter "
check "call under strict" "$hb" $S --profile strict -q call counter -- counter increment ')l'
expect_out "^1$"
check "audit" "$hb" $S audit
expect_out "load"
# hotbox.json defaults; a bad one is a usage error naming the file
printf '{"profile": "permissive", "isolation": "local"}\n' > hotbox.json
check "call with hotbox.json" "$hb" $S call counter -- counter increment ')l'
expect_out "permissive profile contains nothing"
printf '{"profile": "sideways"}\n' > hotbox.json
"$hb" $S versions counter >"$tmp/out" 2>&1
[ $? = 2 ] || { echo "FAIL: a bad hotbox.json is not a usage error"; fail=1; }
expect_out "hotbox.json"
rm hotbox.json
"$hb" $S --profile sideways versions counter >/dev/null 2>&1
[ $? = 2 ] || { echo "FAIL: --profile sideways is not a usage error"; fail=1; }
check "doctor" "$hb" $S doctor
expect_out "namespace"
expect_out "seccomp"
# A catalogue emptied by accident is refused with its name and the way out,
# never recreated empty; `hotbox store recover` keeps the damaged file.
: > "$tmp/st/hotbox.db"
"$hb" $S versions counter >"$tmp/out" 2>&1
[ $? = 1 ] || { echo "FAIL: a 0-byte hotbox.db did not fail"; fail=1; }
expect_out "hotbox.db is empty \(0 bytes\)"
expect_out "hotbox store recover"
[ -s "$tmp/st/hotbox.db" ] && { echo "FAIL: the 0-byte hotbox.db was rewritten"; fail=1; }
"$hb" $S verify >"$tmp/out" 2>&1 && { echo "FAIL: verify accepts a 0-byte hotbox.db"; fail=1; }
check "store recover" "$hb" $S store recover
expect_out "kept the damaged catalogue as .*hotbox.db.damaged-"
expect_out "stored objects have no catalogue row"
ls "$tmp/st"/hotbox.db.damaged-* >/dev/null 2>&1 || { echo "FAIL: no damaged copy kept"; fail=1; }
check "verify after recover" "$hb" $S verify
expect_out "consistent"
"$hb" $S store recover >"$tmp/out" 2>&1 && { echo "FAIL: recover of a healthy store did something"; fail=1; }
expect_out "not damaged"
check "store --help" "$hb" store --help
expect_out "hotbox store recover"
[ $fail = 0 ] && echo "PASS store commands"
exit $fail
