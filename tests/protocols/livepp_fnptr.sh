#!/bin/bash
# Live++ / jet-live function-pointer protocol, ported to hotbox: after a
# reload, a static function pointer into the plugin's own code is reset to
# the new version's initializer (it would point into the old object; the
# event names it) while the value it works on carries; a heap-held pointer
# to the old code keeps working and runs the old code (the old object stays
# mapped; before, the call died of SIGSEGV).
. "$(dirname "$0")/lib.sh"
proto_start fnptr
want "v1 apply" 1 "$(hbcall apply ')l')"
want "v1 apply" 2 "$(hbcall apply ')l')"
want "v1 saved callback" 1 "$(hbcall apply_saved ')l')"
edit fnptr.c 's/#define STEP 1/#define STEP 10/'
event '"event":"swapped","plugin":"fnptr","version":2'
case $last in *'reset: `function * op`: the pointer at offset 0 points into v1'*) echo "ok: op reset, named" ;;
  *) echo "FAIL: the swap event does not name op's reset: $last"; fail=1 ;; esac
want "the static pointer names the new code, the value carried" 12 "$(hbcall apply ')l')"
want "the heap-held pointer still runs v1's code" 1 "$(hbcall apply_saved ')l')"
watch_stop
watch_finish "Live++ function pointer protocol"
