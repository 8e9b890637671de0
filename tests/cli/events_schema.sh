#!/bin/sh
# Every --json event the commands emit matches docs/events.md (issue 19):
# watch --json (loads, a failed build with diagnostics, plugin output, a
# swap, self-tests, metrics), test --json (stages, passes, failures, a
# crash, the summary), report merge of JSON lines, doctor --json.
set -u
hb=$1
check=$2
doc=$3
src=$4
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hb-events-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME="$tmp/cache"
fail=0
bad() { echo "FAIL: $*"; fail=1; }

"$check" "$doc" --names || fail=1

mkdir -p "$tmp/p/talky" "$tmp/p/oops"
printf '#include <hotbox/plugin.h>\n#include <stdio.h>\nHB_EXPORT_FN int hb_test_says(void) { puts("hi"); fflush(stdout); return 0; }\nHB_PLUGIN("talky", 1, 0, 0, 0, 0);\n' > "$tmp/p/talky/talky.c"
printf '#include <hotbox/plugin.h>\nint f(void) { return nope; }\nHB_PLUGIN("oops", 1, 0, 0, 0, 0);\n' > "$tmp/p/oops/oops.c"
mkfifo "$tmp/fifo"
"$hb" --state-dir "$tmp/s" watch --json --once "$tmp/p" >"$tmp/fifo" 2>"$tmp/watch.err" &
pid=$!
exec 3<"$tmp/fifo"
while IFS= read -r line <&3; do
  printf '%s\n' "$line" >>"$tmp/watch.jsonl"
  case "$line" in *'"event":"watching"'*) break ;; esac
done
sed -i 's/puts("hi")/puts("hello")/' "$tmp/p/talky/talky.c"
while IFS= read -r line <&3; do printf '%s\n' "$line" >>"$tmp/watch.jsonl"; done
exec 3<&-
wait $pid || bad "watch --once failed"
for e in loaded compile-failed diagnostic output swapped selftest watching metrics; do
  grep -q "\"event\":\"$e\"" "$tmp/watch.jsonl" || bad "watch --json emitted no $e event"
done

plugins=$src/tests/testcmd/plugins
"$hb" --state-dir "$tmp/s" test --json "$plugins/tpass" "$plugins/tfail" "$plugins/tcrash" "$plugins/tbroken" >"$tmp/test.jsonl" 2>/dev/null
for e in stage start end summary; do
  grep -q "\"event\":\"$e\"" "$tmp/test.jsonl" || bad "test --json emitted no $e event"
done
"$hb" report merge "$tmp/merged.jsonl" "$tmp/test.jsonl" "$tmp/test.jsonl" >/dev/null || bad "report merge failed"
grep -q '"merged":2' "$tmp/merged.jsonl" || bad "merged summary lacks merged"
"$hb" --state-dir "$tmp/s" doctor --json >"$tmp/doctor.jsonl" 2>/dev/null || bad "doctor --json failed"

"$check" "$doc" "$tmp/watch.jsonl" "$tmp/test.jsonl" "$tmp/merged.jsonl" "$tmp/doctor.jsonl" || fail=1
# no float noise in any number
if grep -qE '[0-9]\.[0-9]{7,}' "$tmp/watch.jsonl" "$tmp/test.jsonl" "$tmp/merged.jsonl"; then
  bad "numbers with more than 6 decimals: $(grep -ohE '[0-9]+\.[0-9]{7,}' "$tmp/watch.jsonl" "$tmp/test.jsonl" | head -3)"
fi
exit $fail
