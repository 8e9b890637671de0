#!/bin/sh
# --trust-plugin-runtime: a plugin whose plugin.json asks for permissive
# stays under standard (its AF_INET socket() is a seccomp denial: exit 4,
# the notice says the sandbox keeps standard); with the flag it runs
# permissive and the socket is made (prints 1).
hb=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hb-cli-trust-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail=0
mkdir "$tmp/net"
cat > "$tmp/net/net.c" <<'SRC'
#include <hotbox/plugin.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>
int64_t inet(void) { int fd = socket(AF_INET, SOCK_STREAM, 0); if (fd < 0) return -1; close(fd); return 1; }
HB_PLUGIN("net", 1, 0, 0, 0, 0);
SRC
printf '{"runtime": {"profile": "permissive"}}\n' > "$tmp/net/plugin.json"
"$hb" --state-dir "$tmp/state" call --no-session "$tmp/net" -- net inet ')l' >"$tmp/u" 2>"$tmp/u.err"
got=$?
[ "$got" = 4 ] || { echo "FAIL: untrusted: exit $got, want 4"; cat "$tmp/u" "$tmp/u.err"; fail=1; }
grep -q "socket" "$tmp/u.err" || { echo "FAIL: untrusted: no denial named"; cat "$tmp/u.err"; fail=1; }
grep -q "keeps standard" "$tmp/u" "$tmp/u.err" ||
  { echo "FAIL: untrusted: no notice that the sandbox keeps standard"; cat "$tmp/u" "$tmp/u.err"; fail=1; }
"$hb" --state-dir "$tmp/state" --trust-plugin-runtime call --no-session "$tmp/net" -- net inet ')l' \
  >"$tmp/t" 2>"$tmp/t.err"
got=$?
[ "$got" = 0 ] || { echo "FAIL: trusted: exit $got, want 0"; cat "$tmp/t" "$tmp/t.err"; fail=1; }
grep -qx 1 "$tmp/t" || { echo "FAIL: trusted: did not print 1"; cat "$tmp/t" "$tmp/t.err"; fail=1; }
exit $fail
