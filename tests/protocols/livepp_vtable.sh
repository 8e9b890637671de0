#!/bin/bash
# Live++ / RCC++ vtable protocol, ported to hotbox (a C++ plugin): a static
# object with a vtable is reset at a reload (its vtable pointer points into
# the old object; the new version's constructor's value serves, with the
# new code); an object made with new by the old version keeps the old
# vtable and runs the old code, without crashing (before: SIGSEGV).
. "$(dirname "$0")/lib.sh"
command -v "${CXX:-c++}" >/dev/null || { echo "SKIP: no C++ compiler (apt-get install g++)"; exit 77; }
proto_start vtable
want "v1 grows the static square" 4 "$(hbcall grow ')l')"
want "v1 static area" 16 "$(hbcall static_area ')l')"
want "v1 makes a heap square" 25 "$(hbcall make 'l)l' 5)"
edit vtable.cpp 's/#define SCALE 1/#define SCALE 2/'
event '"event":"swapped","plugin":"vtable","version":2'
case $last in *'reset: `struct Square square`: the pointer at offset 0 points into v1'*) echo "ok: square reset, named" ;;
  *) echo "FAIL: the swap event does not name the static object's reset: $last"; fail=1 ;; esac
want "the static object: new constructor, new code" 18 "$(hbcall static_area ')l')"
want "the heap object runs v1's code" 25 "$(hbcall made_area ')l')"
want "a new heap object runs the new code" 50 "$(hbcall make 'l)l' 5)"
watch_stop
watch_finish "Live++ vtable protocol"
