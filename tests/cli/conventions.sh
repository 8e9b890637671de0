#!/bin/sh
# The command-line conventions of issue 19, run as a user would: "did you
# mean", help CMD, getopt forms, read-only commands that create nothing,
# doctor --json, failures printed once, machine notices once per machine.
hb=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hb-conv-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
# run WANT ARGS...: output in $tmp/out and $tmp/err
run() {
  want=$1; shift
  "$@" >"$tmp/out" 2>"$tmp/err"
  got=$?
  [ "$got" = "$want" ] || { bad "'$*' exited $got, want $want"; cat "$tmp/out" "$tmp/err"; }
}
has() { grep -qE -- "$2" "$1" || { bad "$1 lacks /$2/"; cat "$1"; }; }
hasnt() { if grep -qE -- "$2" "$1"; then bad "$1 has /$2/"; cat "$1"; fi; }
once() { # FILE REGEX: exactly one line matches
  n=$(grep -cE -- "$2" "$1")
  [ "$n" = 1 ] || { bad "$1 has /$2/ $n times, want once"; cat "$1"; }
}
export XDG_CACHE_HOME="$tmp/cache"

# "did you mean": commands, global and command options, subcommands
run 2 "$hb" tset
once "$tmp/err" 'unknown command "tset"; did you mean "test"\?'
[ "$(wc -l < "$tmp/err")" = 1 ] || bad "a usage error is printed more than once"
run 2 "$hb" --stat-dir x status
has "$tmp/err" "did you mean --state-dir\?"
run 2 "$hb" gc --kep 3
has "$tmp/err" "gc: unknown option --kep; did you mean --keep\?"
run 2 "$hb" report merg a b c
has "$tmp/err" 'did you mean "merge"\?'
run 2 "$hb" help tset
has "$tmp/err" 'did you mean "test"\?'

# help CMD is the command's --help
run 0 "$hb" help test
cp "$tmp/out" "$tmp/help1"
run 0 "$hb" test --help
cmp -s "$tmp/out" "$tmp/help1" || bad "hotbox help test differs from hotbox test --help"
has "$tmp/out" "^usage: hotbox test"
run 0 "$hb" help
has "$tmp/out" "^usage: hotbox"

# getopt forms of the global options: --opt=V, and -- before the command
mkdir "$tmp/empty" && cd "$tmp/empty" || exit 1
run 0 "$hb" --state-dir="$tmp/nostate" -- status
has "$tmp/out" "no state directory"

# read-only commands create nothing in an empty directory
for c in status verify audit "audit --json" "doctor --json"; do
  # shellcheck disable=SC2086
  run 0 "$hb" $c
  left=$(ls -A)
  [ -z "$left" ] || bad "hotbox $c created: $left"
done
[ ! -e "$tmp/nostate" ] || bad "status created the --state-dir"
# doctor --json is one JSON object with the report's sections
run 0 "$hb" doctor --json
has "$tmp/out" '^\{"event":"doctor".*"sections":\{'
if command -v jq >/dev/null 2>&1; then
  jq -e '.ok == true and (.sections | has("compiler isolation"))' "$tmp/out" >/dev/null ||
    bad "doctor --json: $(head -c 300 "$tmp/out")"
fi
cd "$tmp" || exit 1

# machine notices: once per machine (the cache), always in doctor
rm -rf "$tmp/cache"
mkdir -p "$tmp/p/m"
cat > "$tmp/p/m/m.c" <<'SRC'
#include <hotbox/plugin.h>
HB_EXPORT_FN int two(void) { return 2; }
HB_EXPORT_FN double tenth(void) { return 0.1; }
HB_EXPORT_FN float third(void) { return 1.0f / 3.0f; }
HB_EXPORT_FN int boom(void) { *(volatile int *)0 = 1; return 0; }
HB_PLUGIN("m", 1, 0, 0, 0, 0);
SRC
run 0 "$hb" --state-dir "$tmp/s" call "$tmp/p/m" -- m two ')i'
has "$tmp/err" "compiler isolation: |compiles run with NO isolation"
run 0 "$hb" --state-dir "$tmp/s" call "$tmp/p/m" -- m two ')i'
hasnt "$tmp/err" "compiler isolation: |compiles run with NO isolation|resource limits: "
run 0 "$hb" --state-dir "$tmp/s" doctor
has "$tmp/out" "compiler isolation"
has "$tmp/out" "resource limits"

# a failure is printed once
mkdir -p "$tmp/p/broken"
printf '#include <hotbox/plugin.h>\nint f(void) { return x; }\nHB_PLUGIN("broken", 1, 0, 0, 0, 0);\n' > "$tmp/p/broken/b.c"
run 3 "$hb" --state-dir "$tmp/s" build "$tmp/p/broken"
once "$tmp/err" "compile failed"
once "$tmp/err" "b.c:2:[0-9]+: error: .x. undeclared"

run 4 "$hb" --state-dir "$tmp/s" call "$tmp/p/m" -- m boom ')i'
once "$tmp/err" "SIGSEGV"

# doubles and floats print in their shortest exact form
run 0 "$hb" -q --state-dir "$tmp/s" call "$tmp/p/m" -- m tenth ')d'
[ "$(cat "$tmp/out")" = "0.1" ] || bad "0.1 printed as $(cat "$tmp/out")"
run 0 "$hb" -q --state-dir "$tmp/s" call "$tmp/p/m" -- m third ')f'
[ "$(cat "$tmp/out")" = "0.33333334" ] || bad "1/3f printed as $(cat "$tmp/out")"
exit $fail
