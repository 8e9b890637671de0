#!/usr/bin/env bash
# A project that includes cmake/hotboxFunctions.cmake registers `hotbox test`
# runs in its own CTest: a passing set must pass, a failing one must fail.
set -eu
hb=$1 src=$2 cmake=$3 ctest=$4
work=$(mktemp -d "${TMPDIR:-/tmp}/hb-cmakefn-XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/proj"
cat > "$work/proj/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.16)
project(consumer NONE)
enable_testing()
set(HOTBOX_EXECUTABLE "$hb")
include("$src/cmake/hotboxFunctions.cmake")
hotbox_add_plugin(mathx "$src/examples/plugins/mathx")
hotbox_add_tests(good_plugins mathx "$src/examples/plugins/counter" ARGS -j 2)
hotbox_add_tests(bad_plugins "$src/tests/testcmd/plugins/tfail" ARGS -k "*returns*")
CM
"$cmake" -S "$work/proj" -B "$work/build" >/dev/null
cd "$work/build"
"$ctest" -R 'hotbox_build_mathx|good_plugins' --output-on-failure
if "$ctest" -R bad_plugins >/dev/null; then
  echo "FAIL: bad_plugins passed"; exit 1
fi
test -f "$work/build/good_plugins.junit.xml"
grep -q 'name="hb_test_add"' "$work/build/good_plugins.junit.xml"
echo "cmake functions: passed"
