#!/bin/sh
# Record -> edit -> replay with the tally plugin (README.md here).
set -eu
hb=${HOTBOX:-hotbox}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tally-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp -r "$here/tally" "$tmp/tally"
hbs() { "$hb" --state-dir "$tmp/state" "$@"; }
hbs -q call --record "$tmp/tally" -- tally add 'l)l' 5
hbs -q call --record "$tmp/tally" -- tally score 'i)i' 4
hbs -q call --record "$tmp/tally" -- tally shout 'w)i' hello
hbs -q call --record "$tmp/tally" -- tally stamp ')L'
echo "== replay, nothing edited"
hbs -q replay --exclude stamp "$tmp/tally" && echo "exit 0: nothing changed"
echo "== edit score(): x * 2 becomes x * 3"
sed 's/return x \* 2;/return x * 3;/' "$tmp/tally/tally.c" >"$tmp/t.c" && mv "$tmp/t.c" "$tmp/tally/tally.c"
echo "== replay"
if hbs -q replay --exclude stamp "$tmp/tally"; then
  echo "unexpected: nothing changed"; exit 1
else
  echo "exit $?: the score call changed"
fi
