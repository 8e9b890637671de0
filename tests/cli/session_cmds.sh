#!/bin/sh
# `hotbox snapshot save|restore|list|delete`, `hotbox restart [PLUGIN]` and
# the sandboxes in `hotbox status` (issue 18). Without a live session:
# snapshots work in a fresh sandbox (said), restart says there is nothing to
# restart. With `hotbox watch` running: a snapshot of the live state is
# restored into it; status shows the sandbox's state, worker, crashes,
# restarts and last crash; restart gives it a new worker. Waits by reading
# the JSON event stream; the test's timeout is the failure path.
set -u
hb=$1
src=$2
. "$(dirname "$0")/lib_watch.sh"
watch_tmp session
cp -r "$src/examples/plugins/counter" "$tmp/counter"
# A function that crashes the worker, for the crash and restart counters.
sed -i 's/^HB_EXPORT_FN int32_t version(void)/HB_EXPORT_FN int crash(void) { volatile int *p = 0; return *p; }\n&/' "$tmp/counter/counter.c"
st="$tmp/state"
fail=0
check() { # what got want
  if [ "$2" = "$3" ]; then echo "ok: $1"; else echo "FAIL: $1: got '$2', want '$3'"; fail=1; fi
}
hbq() { "$hb" --state-dir "$st" --isolation local "$@"; }
call() { hbq -q call "$tmp/counter" -- counter "$@" 2>>"$tmp/callerr"; }

# ---- no live session
out=$(hbq snapshot list counter 2>&1); rc=$?
check "list without a session" "$rc:$(echo "$out" | grep -c 'counter has no snapshots')" 0:1
out=$(hbq snapshot save counter s0 2>&1); rc=$?
check "save without session or DIR: refused, says why" "$rc:$(echo "$out" | grep -c "no live session.*give counter's directory")" 1:1
out=$(hbq snapshot save counter s0 "$tmp/counter" 2>&1); rc=$?
check "save in a fresh sandbox, said" "$rc:$(echo "$out" | grep -c 'in a fresh sandbox: no live session')" 0:1
out=$(hbq snapshot restore counter s0 "$tmp/counter" 2>&1); rc=$?
check "restore in a fresh sandbox, said" "$rc:$(echo "$out" | grep -c 'in a fresh sandbox (no live session)')" 0:1
out=$(hbq restart 2>&1); rc=$?
check "restart without a session" "$rc:$(echo "$out" | grep -c 'no live session.*nothing to restart')" 1:1
check "status without a session" "$(hbq status | grep -c 'live session: none')" 1
out=$(hbq snapshot frobnicate counter 2>&1); rc=$?
check "unknown action: usage" "$rc" 2

# ---- a live session
hb_start --isolation local watch --json --no-selftests "$tmp/counter"
expect '"event":"watching"'
call increment ')l' >/dev/null; call increment ')l' >/dev/null
check "live state" "$(call increment ')l')" 3
out=$(hbq snapshot save counter three 2>&1); rc=$?
check "save takes the live state" "$rc:$(echo "$out" | grep -c 'saved the live state of counter v1 as snapshot three (live session')" 0:1
call increment ')l' >/dev/null
check "state moves on" "$(call increment ')l')" 5
out=$(hbq snapshot restore counter three 2>&1); rc=$?
check "restore into the live session" "$rc:$(echo "$out" | grep -c 'restored snapshot three into counter v1 in the live session')" 0:1
check "the live state is the snapshot's" "$(call get ')l')" 3
check "list --json" "$(hbq snapshot list --json counter)" '{"plugin":"counter","snapshots":["s0","three"],"session":true}'
out=$(hbq snapshot restore counter nosuch 2>&1); rc=$?
check "restore of a missing snapshot" "$rc:$(echo "$out" | grep -c 'no snapshot named nosuch')" 1:1
check "a refused restore changed nothing" "$(call get ')l')" 3
hbq snapshot delete counter s0 >/dev/null
out=$(hbq snapshot delete counter s0 2>&1); rc=$?
check "delete twice" "$rc:$(echo "$out" | grep -c 'no snapshot named s0')" 1:1

out=$(hbq status)
check "status: the sandbox, running, no crash" "$(echo "$out" | grep -c 'sandbox watch: running, worker pid [1-9][0-9]*, 0 crashes, 0 restarts')" 1
pid1=$(echo "$out" | sed -n 's/.*sandbox watch: running, worker pid \([0-9]*\).*/\1/p')
call crash ')i' >/dev/null 2>&1
out=$(hbq status)
check "status: one crash, restarted" "$(echo "$out" | grep -c 'sandbox watch: running, worker pid [1-9][0-9]*, 1 crash, 1 restart$')" 1
check "status: the last crash names the signal" "$(echo "$out" | grep -c 'last crash (.* UTC): .*SIGSEGV')" 1
pid2=$(echo "$out" | sed -n 's/.*sandbox watch: running, worker pid \([0-9]*\).*/\1/p')
check "a new worker after the crash" "$([ "$pid2" != "$pid1" ] && echo new)" new
out=$(hbq restart counter 2>&1); rc=$?
check "restart counter" "$rc:$(echo "$out" | grep -c 'restarted sandbox watch of the live session: worker pid')" 0:1
pid3=$(echo "$out" | sed -n 's/.*worker pid \([0-9]*\).*/\1/p')
check "restart: a new worker" "$([ -n "$pid3" ] && [ "$pid3" != "$pid2" ] && echo new)" new
check "status: two restarts" "$(hbq status | grep -c "sandbox watch: running, worker pid $pid3, 1 crash, 2 restarts")" 1
out=$(hbq restart nosuch 2>&1); rc=$?
check "restart of a plugin not loaded" "$rc:$(echo "$out" | grep -c 'nosuch is not loaded in the live session')" 1:1
# the restart resumed from the last checkpoint (the restored snapshot)
got=$(call get ')l'); case "$got" in 3) got=ok ;; esac
check "state after restart: the checkpoint" "$got" ok

watch_stop
[ $fail = 0 ] || { echo "--- watch stderr"; cat "$tmp/err"; echo "--- call stderr"; cat "$tmp/callerr" 2>/dev/null; }
exit $fail
