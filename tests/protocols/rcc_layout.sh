#!/bin/bash
# RCC++ / Live++ struct-layout protocol, ported to hotbox: the state struct
# gains a member. With state_schema unchanged the reload is refused and the
# old version keeps serving with its state; with the schema bumped, migrate
# converts the old bytes and the new member starts at zero.
. "$(dirname "$0")/lib.sh"
proto_start layout
want "v1 hit" 99 "$(hbcall hit ')l')"
want "v1 hit" 98 "$(hbcall hit ')l')"
edit layout.c 's/#define LAYOUT 1/#define LAYOUT 2/'
event '"event":"swap-failed","plugin":"layout"'
case $last in *'state_schema is still 1'*) echo "ok: refused, says the schema" ;;
  *) echo "FAIL: the refusal does not say why: $last"; fail=1 ;; esac
want "v1 keeps serving with its state" 97 "$(hbcall hit ')l')"
want "v1's code" -1 "$(hbcall xp ')l')"
edit layout.c 's/#define SCHEMA 1/#define SCHEMA 2/'
event '"event":"swapped","plugin":"layout"'
want "migrated: hp carried" 96 "$(hbcall hit ')l')"
want "the new member starts at zero" 10 "$(hbcall xp ')l')"
watch_stop
watch_finish "RCC++ struct layout protocol"
