#!/bin/bash
# Watch mode and plugin.json (issue 19): an unknown key, then a wrong type,
# are compile failures naming the key and the file while the last good
# version keeps serving (the next good save swaps from it, state carried);
# saving plugin.json alone triggers that rebuild.
set -u
hb=$1
. "$(dirname "$0")/lib.sh"
mkdir -p "$tmp/plugins/ctr"
cat > "$tmp/plugins/ctr/ctr.c" <<'SRC'
#include <hotbox/plugin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifndef STEP
#define STEP 1
#endif
static int64_t count;
HB_EXPORT_FN int64_t increment(void) { return count += STEP; }
static int save(void **d, size_t *n) { int64_t *p = malloc(8); if (!p) return -1; *p = count; *d = p; *n = 8; return 0; }
static int migrate(const void *d, size_t n, uint32_t s) { if (s != 1 || n != 8) return -1; memcpy(&count, d, 8); return 0; }
HB_PLUGIN("ctr", 1, 0, 0, save, migrate);
SRC
mkfifo "$tmp/fifo"
"$hb" --state-dir "$tmp/state" watch --json --no-selftests "$tmp/plugins" >"$tmp/fifo" 2>"$tmp/err" &
pid=$!
exec 3<"$tmp/fifo"
must_event "watch starts" '*"event":"watching"*'

printf '{\n  "defines": {"STEP": 5},\n  "cflag": ["-O2"]\n}\n' >"$tmp/plugins/ctr/plugin.json"
must_event "unknown key: compile-failed" '*"event":"compile-failed","plugin":"ctr"*'
check "... naming file, line:col and key" grep -q 'plugin.json:3:3: key \\"cflag\\": unknown key' <<<"$line"

printf '{"defines": 5}\n' >"$tmp/plugins/ctr/plugin.json.new" && mv "$tmp/plugins/ctr/plugin.json.new" "$tmp/plugins/ctr/plugin.json"
must_event "wrong type: compile-failed" '*"event":"compile-failed","plugin":"ctr"*'
check "... naming file and key" grep -q 'plugin.json:1:2: key \\"defines\\"' <<<"$line"

printf '{"defines": {"STEP": 5}}\n' >"$tmp/plugins/ctr/plugin.json"
must_event "saving plugin.json swaps in a new version" '*"event":"swapped","plugin":"ctr"*'
check "... from the last good version, state carried" grep -q 'state carried' <<<"$line"
kill -INT $pid
while IFS= read -t 60 -r line <&3; do echo "$line" >>"$tmp/log"; done
exec 3<&-
wait $pid
check "no version was loaded from the bad settings" bash -c "! grep -q '\"event\":\"\(loaded\|swapped\)\",\"plugin\":\"ctr\",\"version\":[3-9]' '$tmp/log'"
[ $fail = 0 ] || cat "$tmp/log" "$tmp/err"
exit $fail
