#!/bin/bash
# A plugin linking Lua through plugin.json's "pkg": ["lua5.4"] builds and
# answers `hotbox call` (issue 19). SKIP where pkg-config has no lua5.4.
set -u
hb=$1 src=$2
. "$(dirname "$0")/lib.sh"
pkg-config --exists lua5.4 2>/dev/null || { echo "SKIP: pkg-config has no lua5.4 (apt-get install liblua5.4-dev)"; exit 77; }
cp -r "$src/examples/lua/luacalc" "$tmp/luacalc"
out=$("$hb" -q --state-dir "$tmp/state" call "$tmp/luacalc" -- luacalc eval 'Z)l' '6*7' 2>"$tmp/err")
rc=$?
check "call exits 0 (got $rc)" test $rc = 0
check "Lua answers 42 (got '$out')" test "$out" = 42
# the self-test uses Lua's math library
out=$("$hb" -q --state-dir "$tmp/state" call "$tmp/luacalc" -- luacalc hb_test_lua_math ')i' 2>>"$tmp/err")
check "self-test passes (got '$out')" test "$out" = 0
# the needed library is visible in `hotbox versions` and `hotbox verify`
"$hb" --state-dir "$tmp/state" versions luacalc >"$tmp/versions" 2>&1
check "versions shows liblua as needed" grep -q '^ *needs: .*liblua5\.4' "$tmp/versions"
check "versions shows the Lua imports" grep -q '^ *imports: .*luaL_newstate' "$tmp/versions"
"$hb" --state-dir "$tmp/state" verify >"$tmp/verify" 2>&1
check "verify shows liblua as needed" grep -q '^luacalc v1 needs: .*liblua5\.4' "$tmp/verify"
check "verify still says consistent" grep -q 'is consistent' "$tmp/verify"
[ $fail = 0 ] || cat "$tmp/err" "$tmp/versions" "$tmp/verify"
exit $fail
