#!/bin/bash
# A C++ plugin (examples/plugins/wordbag: std::string, std::vector, std::map)
# builds with the C++ compiler and answers; an exception escaping a plugin
# function is a failed call with its what(), not a crashed worker (issue 19).
set -u
hb=$1 src=$2
. "$(dirname "$0")/lib.sh"
command -v "${CXX:-c++}" >/dev/null || { echo "SKIP: no C++ compiler (apt-get install g++)"; exit 77; }
cp -r "$src/examples/plugins/wordbag" "$tmp/wordbag"
out=$("$hb" -q --state-dir "$tmp/state" call "$tmp/wordbag" -- wordbag add 'Z)i' 'to be or not to be' 2>"$tmp/err")
rc=$?
check "call exits 0 (got $rc)" test $rc = 0
check "4 distinct words (got '$out')" test "$out" = 4
"$hb" -q --state-dir "$tmp/state" call "$tmp/wordbag" -- wordbag top ')i' >"$tmp/out" 2>"$tmp/err2"
rc=$?
check "an escaping exception fails the call with exit 1, not 4 (crash) (got $rc)" test $rc = 1
check "the error carries what()" grep -q 'C++ exception escaped it: wordbag is empty' "$tmp/err2"
check "the worker did not abort" bash -c "! grep -qi 'SIGABRT\|terminate called' '$tmp/err2'"
[ $fail = 0 ] || cat "$tmp/err" "$tmp/err2"
exit $fail
