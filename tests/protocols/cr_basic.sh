#!/bin/bash
# cr.h (fungos/cr) test protocol, ported to hotbox: a reload keeps the
# statics (cr.h: CR_STATE) and runs the new code; the retired version's
# fini runs (cr.h: CR_UNLOAD), and the last version's at close (CR_CLOSE);
# each loaded version ran its init once, before its statics were carried.
. "$(dirname "$0")/lib.sh"
proto_start crbasic
want "v1 bump" 1 "$(hbcall bump ')l')"
want "v1 bump" 2 "$(hbcall bump ')l')"
want "v1 code" 1 "$(hbcall code_version ')i')"
edit crbasic.c 's/#define VERSION 1/#define VERSION 2/'
event '"event":"swapped","plugin":"crbasic","version":2'
want "the counter survived the reload" 3 "$(hbcall bump ')l')"
want "the new code runs" 2 "$(hbcall code_version ')i')"
# cr.h runs CR_LOAD after the state transfer, so a counter of loads kept
# in state reaches 2; hotbox copies the statics after the new init
# (include/hotbox/plugin.h), so init's write is replaced by v1's value.
want "carried statics are copied after init" 1 "$(hbcall init_count ')l')"
grep -q 'crbasic: init v2' "$tmp/log" || { echo "FAIL: v2's init did not run"; fail=1; }
grep -q 'crbasic: fini v1' "$tmp/log" || { echo "FAIL: v1's fini did not run at the reload"; fail=1; }
edit crbasic.c 's/#define VERSION 2/#define VERSION 3/'
event '"event":"swapped","plugin":"crbasic","version":3'
want "still counting after a second reload" 4 "$(hbcall bump ')l')"
watch_stop
grep -q 'crbasic: fini v2' "$tmp/log" || { echo "FAIL: v2's fini did not run at its reload"; fail=1; }
grep -q 'crbasic: fini v3' "$tmp/log" || { echo "FAIL: the last version's fini did not run at close"; fail=1; }
want "fini v1 ran once" 1 "$(grep -c 'crbasic: fini v1' "$tmp/log")"
watch_finish "cr.h basic protocol"
