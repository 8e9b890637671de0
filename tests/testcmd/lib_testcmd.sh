# tests/testcmd/lib_testcmd.sh - sourced by the `hotbox test` shell tests,
# which are run as NAME.sh HOTBOX SOURCE_DIR CASE:
#   testcmd_open PREFIX "$@"   sets hb, src, case_name, plugins (the test
#                              plugins in tests/testcmd/plugins) and work
#                              (a new temporary directory named after
#                              PREFIX, removed at exit unless HB_TEST_KEEP)
testcmd_open() {
  hb=$2
  src=$3
  case_name=$4
  plugins=$src/tests/testcmd/plugins
  work=$(mktemp -d "${TMPDIR:-/tmp}/hb-$1-XXXXXX")
  trap '[ -n "${HB_TEST_KEEP:-}" ] || rm -rf "$work"' EXIT
}
