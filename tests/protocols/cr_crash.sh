#!/bin/bash
# cr.h (fungos/cr) crash protocol, ported to hotbox: a new version that
# crashes in its first call is rolled back, the previous version serves
# again with the state it had when the new one came in, and the failure is
# reported (cr.h: CR_SEGFAULT, rollback to the last good version). Fixing
# the source reloads it with that state.
. "$(dirname "$0")/lib.sh"
proto_start crhooks
want "v1 bump" 1 "$(hbcall bump ')l')"
want "v1 bump" 2 "$(hbcall bump ')l')"
want "v1 bump" 3 "$(hbcall bump ')l')"
edit crhooks.c 's/#define CRASH 0/#define CRASH 1/'
event '"event":"swapped","plugin":"crhooks","version":2'
out=$(hbcall bump ')l')
rc=$?
want "the crashing call fails with exit 4 (crash)" 4 "$rc"
event '"event":"rolled-back","plugin":"crhooks","version":1'
want "v1 serves again with the state it had at the swap" 4 "$(hbcall bump ')l')"
"$hb" -q --state-dir "$tmp/state" versions crhooks >"$tmp/versions" 2>&1
grep -q 'v2 .*bad' "$tmp/versions" || { echo "FAIL: v2 is not marked bad"; cat "$tmp/versions"; fail=1; }
edit crhooks.c 's/#define CRASH 1/#define CRASH 0/'
event '"event":"up-to-date","plugin":"crhooks"'
want "back to v1's source: nothing swaps, the state goes on" 5 "$(hbcall bump ')l')"
watch_stop
watch_finish "cr.h crash protocol"
