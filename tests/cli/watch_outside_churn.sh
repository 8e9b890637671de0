#!/bin/sh
# A plugin whose header outside the watched roots changes during every one
# of its builds, more times in a row than watch mode rebuilds at once (5):
# the watch must not sit pending with nothing armed. Before the fix,
# hb_watch_pending stayed 1 after the fifth build while nothing would make
# hb_watch_fd readable (the header is not watched), so `watch --once` never
# exited. Now the header is followed (file events bring the watch back) or,
# where it cannot be, a retry timer does: the plugin is built
# again until a build sees its files unchanged, and --once exits 0 with the
# final content swapped. The compiler (--cc) is a wrapper that appends to
# the header at each link while $tmp/churn counts down. A hang fails in
# 60 s with the log (watch_limit), not at the CTest timeout.
set -u
hb=$1
. "$(dirname "$0")/lib_watch.sh"
watch_tmp churn
real_cc=$(command -v "${CC:-cc}")
mkdir -p "$tmp/p/churn" "$tmp/inc"
echo '#define CHURN_BASE 40' > "$tmp/inc/outside.h"
cat > "$tmp/churn-cc.sh" <<SH
#!/bin/sh
'$real_cc' "\$@" || exit \$?
job=
for a in "\$@"; do
  case "\$a" in -ffile-prefix-map=*) job=\${a#-ffile-prefix-map=}; job=\${job%=.};; esac
done
[ -n "\$job" ] || exit 0
grep -qxF "\$job" '$tmp/jobs' 2>/dev/null && exit 0
echo "\$job" >> '$tmp/jobs'
n=\$(cat '$tmp/churn' 2>/dev/null || echo 0)
if [ "\$n" -gt 0 ]; then
  echo "/* build \$n */" >> '$tmp/inc/outside.h'
  echo \$((n - 1)) > '$tmp/churn'
fi
exit 0
SH
chmod +x "$tmp/churn-cc.sh"
churn() {
  printf '#include <hotbox/plugin.h>\n#include "%s"\nint says(void) { return CHURN_BASE + %s; }\nHB_PLUGIN("churn", 1, 0, 0, 0, 0);\n' \
    "$tmp/inc/outside.h" "$1"
}
churn 1 > "$tmp/p/churn/churn.c"
fail=0
watch_cc="$tmp/churn-cc.sh" watch_limit=60 watch_start --json --once --no-selftests "$tmp/p"
wait_for '"event":"watching"' || { echo "FAIL: no watching event"; cat "$tmp/log" "$tmp/err"; exit 1; }
# Seven builds in a row change the header: five in the first round, two
# more only if the watch comes back by itself.
echo 7 > "$tmp/churn"
churn 2 > "$tmp/p/churn/churn.c.tmp"
mv "$tmp/p/churn/churn.c.tmp" "$tmp/p/churn/churn.c"
watch_end
[ $watch_rc != 124 ] || { echo "FAIL: watch --once still pending 60 s after the save (nothing armed to build again)"; fail=1; }
[ $watch_rc = 0 ] || [ $watch_rc = 124 ] || { echo "FAIL: watch --once exited $watch_rc (want 0)"; fail=1; }
[ "$(cat "$tmp/churn")" = 0 ] || { echo "FAIL: only $((7 - $(cat "$tmp/churn"))) of the 7 churning builds ran"; fail=1; }
# Watch mode now follows a header its build read outside the roots, so the
# churn usually comes back as file events; the retry timer (with its notice)
# is the way back when that header could not be followed. Either way it is
# said: a retry notice, or no "is not watched" warning for the header.
if ! grep -q 'kept changing during every build' "$tmp/log" &&
   grep -q 'outside.h, which its build read, is not watched' "$tmp/log"; then
  echo "FAIL: the header was not followed and no retry was noticed"; fail=1
fi
grep -q '"event":"swapped","plugin":"churn"' "$tmp/log" || { echo "FAIL: churn was not swapped"; fail=1; }
watch_finish "watch retries a plugin whose outside header changes during every build"
