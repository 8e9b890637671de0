#!/bin/sh
# Each command's options as one table (cli/args.c cli_parse): a bad value
# is named the same way by every command, as the user spelled the option;
# help-only commands get their usage and operand count from the command
# table; the global choices and ./hotbox.json share one list of names.
# Nothing here opens a state directory: every case is a usage error or help.
hb=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hb-opttab-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/cwd" && cd "$tmp/cwd" || exit 1
fail=0
bad() { echo "FAIL: $*"; fail=1; }
# says WANT_RC EXPECTED_STDERR ARGS...: exit code and the whole of stderr
says() {
  want=$1 text=$2; shift 2
  "$hb" "$@" >"$tmp/out" 2>"$tmp/err"
  got=$?
  [ "$got" = "$want" ] || bad "'$*' exited $got, want $want"
  [ "$(cat "$tmp/err")" = "$text" ] || { bad "'$1 $2' said:"; head -c 400 "$tmp/err"; echo "want: $text" | head -c 400; echo; }
}
says 2 'hotbox: gc: --keep wants a number from 1 to 1000000, not "x" (see hotbox gc --help)' gc --keep x
says 2 'hotbox: gc: --keep wants a number from 1 to 1000000, not "0" (see hotbox gc --help)' gc --keep=0
says 2 'hotbox: gc: unexpected argument extra (see hotbox gc --help)' gc extra
says 2 'hotbox: watch: --quiet-ms wants a number of milliseconds (1-60000), not "60001" (see hotbox watch --help)' watch --quiet-ms 60001 d
says 2 'hotbox: watch: --exclude wants a name pattern ("*.tmp", "gen/"), matched against each path component, not "a/b" (see hotbox watch --help)' watch --exclude a/b d
says 2 'hotbox: rollback: --to wants a version number, not "-1" (see hotbox rollback --help)' rollback --to -1 p
says 2 'hotbox: replay: --old wants a version number, not "4294967296" (see hotbox replay --help)' replay --old 4294967296 d
says 2 'hotbox: test: -j wants a number from 1 to 1024, not "0" (see hotbox test --help)' test -j0 d
says 2 'hotbox: test: --jobs wants a number from 1 to 1024, not "1025" (see hotbox test --help)' test --jobs=1025 d
says 2 'hotbox: test: --from wants a stored version number, not "9223372036854775808" (see hotbox test --help)' test --upgrade --from 9223372036854775808 d
says 2 'hotbox: test: option -k wants a value (see hotbox test --help)' test -k
says 2 'hotbox: audit: option --plugin wants a value (see hotbox audit --help)' audit --plugin
says 2 'hotbox: watch: unknown option --jsn; did you mean --json? (see hotbox watch --help)' watch --jsn d
says 2 'hotbox: unknown profile "bad" (strict, standard, permissive)' --profile bad status
says 2 'hotbox: unknown isolation "vm" (auto, local, namespace, microvm)' --isolation=vm status
# A long value is said whole (one line, nothing cut).
long=$(printf '%05000d' 7 | tr 0 x)
says 2 "hotbox: gc: --keep wants a number from 1 to 1000000, not \"$long\" (see hotbox gc --help)" gc --keep "$long"
# Help-only commands: usage on stdout for --help, on stderr with exit 2 for
# a wrong operand count; `hotbox help CMD` is CMD --help.
for c in build versions verify status restart; do
  "$hb" $c --help >"$tmp/h1" 2>&1 || bad "$c --help exited $?"
  "$hb" help $c >"$tmp/h2" 2>&1 || bad "help $c exited $?"
  grep -q "^usage: hotbox $c" "$tmp/h1" || bad "$c --help: $(head -1 "$tmp/h1")"
  cmp -s "$tmp/h1" "$tmp/h2" || bad "help $c differs from $c --help"
done
"$hb" versions a b >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc = 2 ] && grep -q "^usage: hotbox versions PLUGIN" "$tmp/err" && [ ! -s "$tmp/out" ] ||
  bad "versions a b: exit $rc, $(cat "$tmp/err")"
"$hb" build >/dev/null 2>"$tmp/err"; rc=$?
[ $rc = 2 ] && grep -q "^usage: hotbox build DIR" "$tmp/err" || bad "build without DIR: exit $rc"
says 2 'hotbox: status: unknown or ambiguous option --jsn (see hotbox status --help)' status --jsn
# --help lists each table's options from the table, help at one column
# (a label too wide for it is followed by two spaces), continuation lines
# under it, then the text after the list.
"$hb" test --help >"$tmp/out" || bad "test --help exited $?"
grep -qx '  -j, --jobs N       parallel jobs (default: number of cores)' "$tmp/out" || bad "test --help: -j/--jobs line"
grep -qx '  -k PATTERN         run only tests whose id PLUGIN.TEST matches (fnmatch)' "$tmp/out" || bad "test --help: -k line"
grep -qx '  --from-snapshot NAME  every plugin starts from its state snapshot NAME' "$tmp/out" || bad "test --help: a wide label"
grep -qx '                     (hb_snapshot_save; docs/testing.md); a plugin without' "$tmp/out" || bad "test --help: a continuation line"
tail -1 "$tmp/out" | grep -q '2 on a usage error' || bad "test --help: the text after the options"
"$hb" watch --help >"$tmp/out" || bad "watch --help exited $?"
for o in json once quiet-ms no-selftests exclude record replay replay-exclude no-carry; do
  grep -q "^  --$o" "$tmp/out" || bad "watch --help does not list --$o"
done
"$hb" snapshot >/dev/null 2>"$tmp/err"
grep -qx '  --no-session  never use the live session' "$tmp/err" || bad "snapshot usage on stderr lacks its options"
# ./hotbox.json names the same choices as the options.
printf '{"worker": "vm"}\n' >hotbox.json
says 2 'hotbox: hotbox.json: unknown worker "vm" (process, microvm, auto)' status
rm hotbox.json
"$hb" --version | grep -q '^hotbox [0-9]' || bad "--version"
[ -z "$(ls -A)" ] || bad "usage errors created: $(ls -A)"
[ $fail = 0 ] && echo "PASS option table"
exit $fail
