#!/bin/sh
# hotbox watch handles a worker that dies while idle when it dies, not at
# the next call: a new version whose thread crashes the worker 10 ms after
# the swap (no call made) is rolled back at once, with the state saved at
# the swap, and the stream says so; a worker killed from outside is
# restarted at once. Before, nothing was said until the next call, and by
# then probation had passed by time: the crashing version stayed. Waits by
# reading the stream; watch_limit ends a watch that never says it.
set -u
hb=$1
. "$(dirname "$0")/lib_watch.sh"
watch_tmp idlecrash
watch_limit=120
fail=0
mkdir -p "$tmp/p/t1"
src() { # extra-code init-hook
  cat >"$tmp/p/t1/.main.c.new" <<SRC
#include <hotbox/plugin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static int64_t n;
HB_EXPORT_FN int bump(void) { return (int)++n; }
static int save(void **d, size_t *l) { int64_t *p = malloc(8); if (!p) return -1; *p = n; *d = p; *l = 8; return 0; }
static int migrate(const void *d, size_t l, uint32_t s) { if (l != 8) return -1; memcpy(&n, d, 8); return 0; }
$1
HB_PLUGIN("t1", 1, $2, 0, save, migrate);
SRC
  mv "$tmp/p/t1/.main.c.new" "$tmp/p/t1/main.c"
}
call() {
  "$hb" --state-dir "$tmp/state" -q call "$tmp/p/t1" -- t1 bump ')i' 2>&1
}
src "" 0
hb_start --isolation local watch --json --no-selftests "$tmp/p"
expect '"event":"watching"'
for want in 1 2 3; do
  got=$(call); [ "$got" = "$want" ] || { echo "FAIL: bump() said $got, want $want"; fail=1; }
done
src 'static void *boom(void *a) { (void)a; usleep(10000); volatile int *p = 0; *p = 1; return 0; }
static int init(void) { pthread_t t; return pthread_create(&t, 0, boom, 0); }' init
expect '"event":"swapped","plugin":"t1","version":2'
if expect '"event":"rolled-back","plugin":"t1","version":1'; then
  case "$last" in *'v2 crashed during probation'*) ;; *) echo "FAIL: rolled-back says: $last"; fail=1 ;; esac
fi
expect '"event":"restarted"'
got=$(call); [ "$got" = 4 ] || { echo "FAIL: after the rollback bump() said $got, want 4 (v1 with the state of the swap)"; fail=1; }

# A worker killed from outside while idle: restarted when it dies.
pid=$("$hb" --state-dir "$tmp/state" status 2>/dev/null | sed -n 's/.*worker pid \([0-9]*\).*/\1/p;s/.*pid \([0-9][0-9]*\).*/\1/p' | head -1)
if [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; then
  expect '"event":"crashed"'
  expect '"event":"restarted"'
else
  echo "note: no worker pid from hotbox status; the outside kill was not tried"
fi
watch_stop || { echo "FAIL: watch exited $? after SIGINT"; fail=1; }
watch_finish "watch handles a worker that dies while idle"
