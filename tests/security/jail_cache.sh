#!/usr/bin/env bash
# The jail probe's verdict kept across processes (security/jail_cache.h),
# through a bwrap stand-in that logs each run's last argument (a probe's is
# `true`) and fails while $work/fail exists:
#   reuse    a second process does not probe; doctor says the verdict is cached
#   rekey    a changed key (bwrap's identity) probes again
#   nofail   a failing probe is never kept: each process probes
#   stale    a kept "works" that then fails at a worker's start is probed
#            again, dropped, and the worker starts as an uncached run would
#            (with the fallback's warning, naming bwrap's failure)
#   compile  the same for a compile under a requested namespace backend:
#            it fails, naming bwrap's failure; it never runs unjailed
# jail_cache.sh HOTBOX SOURCE_DIR CASE
set -u
hb=$1
src=$2
case_=$3
real=$(command -v bwrap) || { echo "SKIP: bwrap not installed"; exit 77; }
work=$(mktemp -d "${TMPDIR:-/tmp}/hb-jailcache-XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
chmod 755 "$work"
cat >"$work/bwrap" <<SH
#!/bin/sh
for a; do last=\$a; done
echo "\$last" >>"$work/log"
if [ -e "$work/fail" ]; then echo "bwrap: simulated failure" >&2; exit 1; fi
exec "$real" "\$@"
SH
chmod 755 "$work/bwrap"
export HOTBOX_BWRAP=$work/bwrap XDG_CACHE_HOME=$work/cache
cache=$work/cache/hotbox/jail-probe
probes() { grep -cx '/usr/bin/true\|/bin/true' "$work/log" 2>/dev/null || true; }
doctor() { : >"$work/log"; "$hb" --state-dir "$work/state" doctor >"$work/doctor" 2>&1; }

doctor
grep -q 'bubblewrap namespaces: yes' "$work/doctor" ||
  { echo "SKIP: bubblewrap cannot jail here: $(grep bubblewrap "$work/doctor")"; exit 77; }
[ "$(probes)" = 1 ] || fail "first process: $(probes) probes, want 1"
grep -qx works "$cache" || fail "no kept verdict: $(cat "$cache" 2>&1)"

case $case_ in
reuse)
  doctor
  [ "$(probes)" = 0 ] || fail "second process probed ($(probes) probes)"
  grep -q 'bubblewrap namespaces: yes.*\[cached verdict\]' "$work/doctor" ||
    fail "doctor does not say the verdict is cached: $(grep bubblewrap "$work/doctor")"
  ;;
rekey)
  touch -d '2000-01-01' "$work/bwrap"
  doctor
  [ "$(probes)" = 1 ] || fail "a new bwrap identity: $(probes) probes, want 1"
  doctor
  [ "$(probes)" = 0 ] || fail "the new key was not kept ($(probes) probes)"
  ;;
nofail)
  rm -f "$cache"
  touch "$work/fail"
  for i in 1 2; do
    doctor
    [ "$(probes)" = 1 ] || fail "run $i of a failing bwrap: $(probes) probes, want 1"
    grep -q 'bubblewrap namespaces: no.*simulated failure' "$work/doctor" ||
      fail "run $i: $(grep bubblewrap "$work/doctor")"
    [ ! -e "$cache" ] || fail "a failing verdict was kept: $(cat "$cache")"
  done
  ;;
stale)
  # Build first (warm), so the worker is the first jailed process.
  "$hb" --state-dir "$work/state" build "$src/examples/plugins/counter" >"$work/out" 2>&1 ||
    fail "build: $(cat "$work/out")"
  touch "$work/fail"
  : >"$work/log"
  "$hb" --state-dir "$work/state" call --no-session "$src/examples/plugins/counter" -- \
    counter get ')l' >"$work/out" 2>&1 || fail "call: $(cat "$work/out")"
  [ "$(probes)" = 1 ] || fail "a worker failing under a kept verdict: $(probes) probes, want 1"
  grep -q 'namespaces unavailable: .*simulated failure' "$work/out" ||
    fail "the fallback is not said: $(cat "$work/out")"
  [ ! -e "$cache" ] || fail "the stale verdict was kept: $(cat "$cache")"
  ;;
compile)
  touch "$work/fail"
  : >"$work/log"
  if "$hb" --state-dir "$work/state" --isolation namespace build "$src/examples/plugins/counter" \
    >"$work/out" 2>&1; then
    fail "a compile ran without its jail: $(cat "$work/out")"
  fi
  grep -q 'simulated failure' "$work/out" ||
    fail "the failure does not name bwrap's: $(cat "$work/out")"
  [ "$(probes)" = 1 ] || fail "a compile failing under a kept verdict: $(probes) probes, want 1"
  [ ! -e "$cache" ] || fail "the stale verdict was kept: $(cat "$cache")"
  ;;
*)
  fail "unknown case $case_"
  ;;
esac
echo "PASS: $case_"
