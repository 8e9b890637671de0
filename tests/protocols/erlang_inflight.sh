#!/bin/bash
# Erlang-style code swap protocol, ported to hotbox: a call in flight when
# the new version is saved finishes on the old version; the swap waits for
# it, and the next call is served by the new version. slow() blocks on a
# FIFO (the test's open for writing returns once slow() has it open) (shown to the worker by plugin.json's runtime "allow") until the
# test writes.
. "$(dirname "$0")/lib.sh"
proto_before_start() {
  gate_dir=$tmp/gate.d
  mkdir "$gate_dir"
  chmod 755 "$tmp" "$gate_dir"
  mkfifo -m 666 "$gate_dir/gate"
  printf '{"runtime": {"allow": {"read": ["%s"]}}}\n' "$gate_dir" >"$tmp/$name/plugin.json"
}
proto_start inflight
want "v1 reply" 1 "$(hbcall reply ')i')"
hbcall slow 'Z)i' "$gate_dir/gate" >"$tmp/slow.out" &
slow_pid=$!
exec 5>"$gate_dir/gate" # returns once slow() opened the FIFO: the call is in flight
edit inflight.c 's/#define REPLY 1/#define REPLY 2/'
echo x >&5
exec 5>&-
wait $slow_pid
want "the in-flight call finished on v1" 1 "$(cat "$tmp/slow.out")"
event '"event":"swapped","plugin":"inflight","version":2'
want "the next call is served by v2" 2 "$(hbcall reply ')i')"
watch_stop
watch_finish "Erlang in-flight swap protocol"
