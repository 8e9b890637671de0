#!/usr/bin/env bash
# End-to-end tests of `hotbox test` and `hotbox report merge`, one case per
# CTest test: testcmd.sh HOTBOX SOURCE_DIR CASE. Every case works in its own
# temporary directory with its own state directory.
set -u
. "$(dirname "$0")/lib_testcmd.sh"
testcmd_open testcmd "$@"
cd "$work" || exit 1
fails=0

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# run WANT_STATUS ARGS...: runs hotbox, output in $work/out (stdout) and
# $work/err (stderr), checks the exit status.
run() {
  local want=$1; shift
  "$hb" --state-dir "$work/state" "$@" >"$work/out" 2>"$work/err"
  local got=$?
  if [ "$got" != "$want" ]; then
    fail "hotbox $* exited $got, want $want"
    echo "--- stdout"; cat "$work/out"; echo "--- stderr"; cat "$work/err"
  fi
}
runany() { # like run, any exit status but 2 (usage)
  "$hb" --state-dir "$work/state" "$@" >"$work/out" 2>"$work/err"
  [ $? != 2 ] || { fail "hotbox $* was a usage error"; cat "$work/err"; }
}
has() { # has FILE REGEX
  grep -qE -- "$2" "$1" || { fail "$1 lacks /$2/"; echo "--- $1:"; head -c 4000 "$1"; echo; }
}
hasnt() {
  if grep -qE -- "$2" "$1"; then fail "$1 has /$2/"; fi
}
last_line_is() { # FILE TEXT
  local got; got=$(tail -n 1 "$1")
  [ "$got" = "$2" ] || fail "last line of $1 is '$got', want '$2'"
}
xml_ok() { # FILE: well-formed, checked by xmllint when installed and by our own reader
  if command -v xmllint >/dev/null 2>&1; then
    xmllint --noout "$1" || fail "xmllint rejects $1"
  fi
  "$hb" report merge "$work/reread.xml" "$1" >/dev/null || fail "hotbox report merge cannot read $1"
}
ids() { # TAP output -> test ids, one per line, sorted
  grep -E '^(not )?ok [0-9]+ - ' "$1" | sed -E 's/^(not )?ok [0-9]+ - //; s/ # .*$//' | sort
}

case $case_name in
counts)
  run 1 test "$plugins/tpass" "$plugins/tfail"
  last_line_is "$work/out" "12 passed, 1 failed"
  has "$work/out" "^FAIL tfail.hb_test_returns_three .*returned 3"
  has "$work/out" "about to fail"
  run 0 test "$plugins/tpass"
  last_line_is "$work/out" "11 passed, 0 failed"
  # stderr of a test is captured (and only its own output)
  run 0 test -v -k 'tpass.hb_test_stderr' "$plugins/tpass"
  has "$work/out" "to stderr <&>"
  last_line_is "$work/out" "1 passed, 0 failed"
  ;;
filters)
  run 0 test -k '*.hb_test_p[12]' --repeat 3 -j 1 "$plugins/tpass"
  last_line_is "$work/out" "6 passed, 0 failed"
  has "$work/out" "hb_test_p1#3"
  # a -k that matches nothing is a failure (a typo must not pass CI) ...
  run 1 test -k 'nomatch*' "$plugins/tpass"
  has "$work/err" "no tests found matching -k"
  # ... unless the run allows it
  run 0 test --allow-empty -k 'nomatch*' "$plugins/tpass"
  last_line_is "$work/out" "0 passed, 0 failed"
  # fail-fast: one job, the first failure stops the rest
  run 1 test -x -j 1 "$plugins/tfail" "$plugins/tpass"
  has "$work/out" "skipped$"
  has "$work/out" "fail-fast"
  ;;
hang)
  start=$(date +%s)
  run 1 test --timeout 1 "$plugins/thang"
  end=$(date +%s)
  has "$work/out" "^FAIL thang.hb_test_forever .*timed out after 1000 ms"
  has "$work/out" "^PASS thang.hb_test_after"
  last_line_is "$work/out" "1 passed, 1 failed"
  [ $((end - start)) -lt 30 ] || fail "a 1 s time limit took $((end - start)) s"
  ;;
halfframe)
  # Plugin code writes half a frame on its channel and blocks: every read of
  # the channel has the call's deadline. `timeout` is this test's own bound.
  start=$(date +%s)
  "$hb" --state-dir "$work/state" test -j 1 --timeout 5 "$plugins/thalfframe" >"$work/out" 2>"$work/err" &
  pid=$!
  timeout 60 tail --pid=$pid -f /dev/null
  if kill -0 $pid 2>/dev/null; then
    kill -KILL $pid; fail "hotbox test --timeout 5 still runs after 60 s"
  fi
  wait $pid; got=$?
  end=$(date +%s)
  [ "$got" = 1 ] || { fail "hotbox test exited $got, want 1"; cat "$work/out" "$work/err"; }
  has "$work/out" "^FAIL thalfframe.hb_test_five_bytes .*timed out after 5000 ms"
  has "$work/out" "^FAIL thalfframe.hb_test_header_only .*timed out after 5000 ms"
  has "$work/out" "^PASS thalfframe.hb_test_after"
  [ $((end - start)) -lt 40 ] || fail "two 5 s time limits took $((end - start)) s"
  # hotbox call: the default 10 s call limit, then a clear error
  start=$(date +%s)
  timeout -s KILL 60 "$hb" --state-dir "$work/state" call "$plugins/thalfframe" -- thalfframe five_bytes ')i' >"$work/out" 2>"$work/err"
  got=$?
  end=$(date +%s)
  [ "$got" != 137 ] || fail "hotbox call still ran after 60 s"
  [ "$got" != 0 ] || fail "hotbox call of a hanging function succeeded"
  has "$work/err" "did not answer within 10000 ms.*unfinished frame"
  [ $((end - start)) -lt 40 ] || fail "a 10 s call limit took $((end - start)) s"
  ;;
crash)
  run 1 test -j 1 "$plugins/tcrash"
  # (a sanitizer build's worker reports the SEGV itself, then exits 1)
  has "$work/out" "^FAIL tcrash.hb_test_a_segv .*crashed"
  has "$work/out" "SIGSEGV|AddressSanitizer: SEGV"
  has "$work/out" "^PASS tcrash.hb_test_b_after_crash"
  last_line_is "$work/out" "1 passed, 1 failed"
  ;;
abort)
  run 1 test "$plugins/tabort"
  has "$work/out" "^FAIL tabort.hb_test_aborts .*SIGABRT"
  last_line_is "$work/out" "0 passed, 1 failed"
  ;;
exit)
  run 1 test -j 1 "$plugins/texit"
  # (in a sanitizer build LeakSanitizer's exit-time thread is what the
  # worker's seccomp profile stops)
  has "$work/out" "^FAIL texit.hb_test_exits .*(exited with status 0|LeakSanitizer|called clone)"
  has "$work/out" "^PASS texit.hb_test_z_after_exit"
  ;;
bigout)
  run 0 test --junit "$work/big.xml" --json "$plugins/tbigout"
  size=$(stat -c %s "$work/big.xml")
  [ "$size" -lt 200000 ] || fail "JUnit report of an 8 MiB test output is $size bytes"
  has "$work/big.xml" "FIRST LINE"
  has "$work/big.xml" "bytes of output omitted"
  has "$work/big.xml" "LAST LINE"
  size=$(stat -c %s "$work/out")
  [ "$size" -lt 200000 ] || fail "JSON output of an 8 MiB test output is $size bytes"
  xml_ok "$work/big.xml"
  ;;
notests)
  # no tests at all: exit 1 with one clear error (issue 19), once
  run 1 test "$plugins/tnotests"
  has "$work/out" "tnotests v1 exports no hb_test_"
  has "$work/err" "no tests found"
  [ "$(wc -l < "$work/err")" = 1 ] || fail "the error is printed more than once"
  last_line_is "$work/out" "0 passed, 0 failed"
  run 0 test --allow-empty "$plugins/tnotests"
  last_line_is "$work/out" "0 passed, 0 failed"
  run 1 test --require-tests "$plugins/tnotests" "$plugins/tpass"
  has "$work/out" "^FAIL tnotests.tests"
  last_line_is "$work/out" "11 passed, 1 failed"
  mkdir -p empty
  run 1 test empty
  has "$work/out" "no plugins found under empty"
  has "$work/err" "no tests found"
  run 0 test --allow-empty empty
  run 2 test --allow-empty --require-tests empty
  run 1 test --require-tests empty
  run 1 test "$work/missing"
  has "$work/err" "missing: not a directory"
  ;;
broken)
  run 1 test --junit "$work/b.xml" "$plugins/tbroken" "$plugins/tpass"
  has "$work/out" "^FAIL tbroken.build"
  has "$work/out" "this_is_not_declared"
  last_line_is "$work/out" "11 passed, 1 failed"
  has "$work/b.xml" 'classname="tbroken" name="build"'
  has "$work/b.xml" "tbroken.c:4:[0-9]+: error"
  xml_ok "$work/b.xml"
  ;;
usage)
  for s in 0/3 4/3 x/y 1/0 1/ /3 1/3/3 -1/3 ""; do
    run 2 test --shard "$s" "$plugins/tpass"
    has "$work/err" "--shard wants I/N"
  done
  run 2 test --tap --json "$plugins/tpass"
  run 2 test --timeout 0 "$plugins/tpass"
  run 2 test -j x "$plugins/tpass"
  run 2 test
  run 2 report merge
  # an unwritable report path fails before anything runs
  run 2 test --junit "$work/no/such/dir/r.xml" "$plugins/tpass"
  has "$work/err" "cannot write the JUnit report .*r.xml"
  [ ! -e "$work/state" ] || fail "the state directory was created although the report path is bad"
  run 2 report merge "$work/no/such/dir/m.xml" "$src/tests/testcmd/CMakeLists.txt"
  has "$work/err" "cannot write .*m.xml"
  run 2 report merge "$work/m.xml" "$work/missing.xml"
  has "$work/err" "cannot read .*missing.xml"
  run 1 report merge "$work/m.xml" "$src/tests/testcmd/CMakeLists.txt"
  has "$work/err" "not well-formed XML"
  # getopt_long conventions: --opt=V, -jN, and -- ends the options
  run 0 test --junit="$work/eq.xml" -j2 --timeout=5 -- "$plugins/tpass"
  [ -s "$work/eq.xml" ] || fail "--junit=FILE wrote nothing"
  last_line_is "$work/out" "11 passed, 0 failed"
  run 0 test -j 2 --junit "$work/sp.xml" "$plugins/tpass"
  [ -s "$work/sp.xml" ] || fail "--junit FILE wrote nothing"
  # a mistyped option: one error with a suggestion, exit 2
  run 2 test --jnuit=x.xml "$plugins/tpass"
  has "$work/err" "unknown option --jnuit; did you mean --junit\\?"
  [ "$(wc -l < "$work/err")" = 1 ] || fail "the usage error is printed more than once"
  run 2 test --junit
  has "$work/err" "option --junit wants a value"
  ;;
shards)
  run 1 test --tap "$plugins"
  ids "$work/out" > all
  [ "$(wc -l < all)" -ge 20 ] || fail "full run has only $(wc -l < all) tests"
  : > union
  for i in 1 2 3; do
    runany test --tap --shard $i/3 --junit "s$i.xml" --timeout 2 "$plugins"
    ids "$work/out" > "s$i"
    [ -s "s$i" ] || echo "note: shard $i/3 is empty"
    cat "s$i" >> union
  done
  sort union > union.sorted
  if ! cmp -s all union.sorted; then
    fail "shards 1/3, 2/3, 3/3 do not cover every test exactly once"
    diff all union.sorted
  fi
  # the same shard twice is the same set (stable hash)
  "$hb" --state-dir "$work/state" test --tap --shard 2/3 --timeout 2 "$plugins" > again 2>/dev/null
  ids again > s2again
  cmp -s s2 s2again || fail "shard 2/3 differs between runs"
  # merged JUnit has every test once
  "$hb" report merge merged.xml s1.xml s2.xml s3.xml > merge.out || fail "report merge failed"
  xml_ok merged.xml
  n=$(grep -c '<testcase ' merged.xml)
  [ "$n" = "$(wc -l < all)" ] || fail "merged JUnit has $n testcases, want $(wc -l < all)"
  has merge.out "passed, [0-9]+ failed"
  ;;
reports)
  run 1 test --junit "$work/r.xml" "$plugins/tpass" "$plugins/tfail" "$plugins/tcrash"
  xml_ok "$work/r.xml"
  has "$work/r.xml" '<testsuite name="tfail" tests="2" failures="1"'
  has "$work/r.xml" '<failure message="hb_test_returns_three returned 3"'
  # control characters the test printed are escaped, never raw
  has "$work/r.xml" 'to stderr &lt;&amp;&gt; \\x01\\x1b\[0m'
  if LC_ALL=C grep -q $'\x1b' "$work/r.xml"; then fail "raw ESC in the JUnit report"; fi
  # what hotbox says during a case (the restart after the crash) is a
  # property of the case, never part of the plugin's captured output
  has "$work/r.xml" '<property name="hotbox-event" value="worker restarted'
  hasnt "$work/r.xml" '<system-out>[^<]*worker restarted'
  hasnt "$work/r.xml" '\[event\]'
  hasnt "$work/r.xml" 'hotbox-event" value="resource limits'
  # real durations: each suite has its start and wall-clock span, and the
  # run's time is not the sum of parallel suites
  has "$work/r.xml" '<testsuite name="tpass" tests="11" failures="0" errors="0" skipped="0" timestamp="[0-9-]+T[0-9:]+" time="[0-9.]+"'
  has "$work/r.xml" '<testsuites name="hotbox" [^>]*timestamp="[0-9-]+T[0-9:]+" time="[0-9.]+"'
  "$hb" report merge "$work/rm.xml" "$work/r.xml" > /dev/null || fail "JUnit merge failed"
  has "$work/rm.xml" '<property name="hotbox-event" value="worker restarted'
  has "$work/rm.xml" '<testsuite name="tpass" [^>]*timestamp='
  # another tool's JUnit (read with libxml2): errors, CDATA, entities, nesting
  cat > "$work/other.xml" <<'XML'
<?xml version="1.0"?>
<!-- written by some other tool -->
<testsuites><testsuite name="outer"><testsuite name="inner" timestamp="2024-01-02T03:04:05" time="2.5">
  <testcase classname="lib" name="a&amp;b" time="0.5"><error message="boom"><![CDATA[x < y]]></error></testcase>
  <testcase classname="lib" name="c" time="1"><system-err>to &#x3c;stderr&#x3e;</system-err></testcase>
</testsuite></testsuite></testsuites>
XML
  "$hb" report merge "$work/om.xml" "$work/other.xml" > "$work/om.out" || fail "foreign JUnit not merged"
  has "$work/om.out" "^1 passed, 1 failed$"
  has "$work/om.xml" 'name="a&amp;b"'
  has "$work/om.xml" '<failure message="boom" type="failure">x &lt; y</failure>'
  has "$work/om.xml" 'to &lt;stderr&gt;'
  has "$work/om.xml" '<testsuite name="lib" [^>]*timestamp="2024-01-02T03:04:05" time="2.500"'
  run 1 test --tap "$plugins/tfail"
  has "$work/out" "^TAP version 13$"
  has "$work/out" "^1\.\.2$"
  has "$work/out" "^not ok [12] - tfail.hb_test_returns_three$"
  has "$work/out" "^ok [12] - tfail.hb_test_ok$"
  has "$work/out" "^  message: \"hb_test_returns_three returned 3\"$"
  run 1 test --json "$plugins/tfail"
  has "$work/out" '"event":"stage","stage":"build","plugin":"tfail"'
  has "$work/out" '"event":"stage","stage":"load"'
  has "$work/out" '"event":"start","plugin":"tfail","test":"hb_test_ok"'
  has "$work/out" '"event":"end","plugin":"tfail","test":"hb_test_returns_three","status":"fail"'
  has "$work/out" '"event":"summary","passed":1,"failed":1'
  cp "$work/out" a.jsonl
  run 0 test --json "$plugins/tpass"
  cp "$work/out" b.jsonl
  "$hb" report merge m.jsonl a.jsonl b.jsonl > /dev/null || fail "JSON merge failed"
  has m.jsonl '"event":"summary","passed":12,"failed":1'
  [ "$(grep -c '"event":"summary"' m.jsonl)" = 1 ] || fail "merged JSON has several summaries"
  ;;
upgrade)
  mkdir -p app/ledger
  cp "$src/examples/broken-migration/ledger_v1.c" app/ledger/ledger.c
  run 0 test app/ledger
  cp "$src/examples/broken-migration/ledger_v2_broken.c" app/ledger/ledger.c
  run 1 test --upgrade --junit up.xml app/ledger
  has "$work/out" "^PASS ledger.hb_test_balance_is_sum_of_entries@v1 "
  has "$work/out" "^PASS ledger.upgrade@v1->v2"
  has "$work/out" "^FAIL ledger.hb_test_balance_is_sum_of_entries@v2-upgraded"
  has "$work/out" "^PASS ledger.rollback@v2->v1"
  has "$work/out" "^PASS ledger.hb_test_seeded_entries_survive@v1-rolled-back"
  xml_ok up.xml
  has "$work/out" "v2 failed its upgrade from v1"
  # without --upgrade the broken v2 passes: its fresh state is fine
  run 0 test app/ledger
  # the commit that fixes the migration (v3) is tested from v1, the last
  # version that upgraded cleanly, not from the broken v2 (issue 11, item 11)
  cp "$src/examples/broken-migration/ledger_v2_fixed.c" app/ledger/ledger.c
  run 0 test --upgrade app/ledger
  has "$work/out" "^PASS ledger.upgrade@v1->v3"
  has "$work/out" "^PASS ledger.hb_test_balance_is_sum_of_entries@v3-upgraded"
  hasnt "$work/out" "v2->v3"
  # and v3 passed, so it is the base of the next upgrade
  cp "$src/examples/broken-migration/ledger_v2_fixed.c" app/ledger/ledger.c
  # a real change (a comment alone now builds the identical object: v3)
  echo '__attribute__((used)) static const char ledger_v4_marker[] = "v4";' >>app/ledger/ledger.c
  run 0 test --upgrade app/ledger
  has "$work/out" "^PASS ledger.upgrade@v3->v4"
  # --from picks the base explicitly, even the broken one
  runany test --upgrade --from 2 app/ledger
  has "$work/out" "upgrade@v2->v4"
  hasnt "$work/out" "later upgrade runs will not start from it"
  run 1 test --upgrade --from 9 app/ledger
  has "$work/out" "^FAIL ledger.build .*cannot be upgraded from --from 9"
  has "$work/out" "--from 9: ledger has no such stored version"
  run 1 test --upgrade --from 4 app/ledger
  has "$work/out" "the base must be older"
  run 2 test --from 1 app/ledger
  # the fixed migration passes the same path (fresh store: v1 then fixed v2)
  rm -rf "$work/state"
  cp "$src/examples/broken-migration/ledger_v1.c" app/ledger/ledger.c
  run 0 build app/ledger
  cp "$src/examples/broken-migration/ledger_v2_fixed.c" app/ledger/ledger.c
  run 0 test --upgrade app/ledger
  has "$work/out" "^PASS ledger.hb_test_balance_is_sum_of_entries@v2-upgraded"
  last_line_is "$work/out" "9 passed, 0 failed"
  # a plugin with no earlier version runs its plain tests
  run 0 test --upgrade "$plugins/tpass"
  has "$work/out" "no earlier good version"
  ;;
examples)
  run 0 test --junit ex.xml "$src/examples"
  has "$work/out" "^PASS mathx.hb_test_add"
  has "$work/out" "^PASS counter.hb_test_count_not_negative"
  xml_ok ex.xml
  ;;
*)
  echo "unknown case $case_name"; exit 2 ;;
esac
if [ "$fails" -ne 0 ]; then
  echo "$case_name: $fails check(s) failed"
  exit 1
fi
echo "$case_name: passed"
