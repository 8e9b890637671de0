#!/usr/bin/env bash
# Installs hotbox into a private prefix, then builds the example test suite
# against it twice, as outside users would: with pkg-config and with
# find_package(hotbox) in CMake. Runs both binaries. The worker must be found
# next to the installed library, so HOTBOX_WORKER is unset.
set -euo pipefail
build_dir=$1
src_dir=$2
extra_cflags=${3:-}  # e.g. the sanitizer flags the library was built with
work=$(mktemp -d "${TMPDIR:-/tmp}/hb-install-XXXXXX")
trap 'rm -rf "$work"' EXIT
unset HOTBOX_WORKER

cmake --install "$build_dir" --prefix "$work/stage" >/dev/null
test -x "$work/stage/bin/hotbox"
test -x "$work/stage/libexec/hotbox/hotbox-worker"
test -f "$work/stage/include/hotbox/hotbox.h"
test -f "$work/stage/include/hotbox/plugin.h"
test -f "$work/stage/lib/pkgconfig/hotbox.pc"
test -f "$work/stage/lib/cmake/hotbox/hotboxConfig.cmake"

# No empty element in any RUNPATH (a leading, trailing or doubled ':'): the
# loader reads it as the current directory. The build tree's hotbox once
# ended in ':' (CMake's room for an in-place rewrite at install).
for f in "$build_dir/bin/hotbox" "$work/stage/bin/hotbox" "$work/stage/lib/libhotbox.so" \
         "$work/stage/libexec/hotbox/hotbox-worker"; do
  rp=$(readelf -d "$f" | sed -n 's/.*R\(UN\)\{0,1\}PATH.*\[\(.*\)\]/\2/p')
  case ":$rp:" in
    *::*) if [ -n "$rp" ]; then echo "FAIL: $f: RUNPATH '$rp' has an empty element" >&2; exit 1; fi ;;
  esac
done

# Only the public API is exported from the shared library.
if nm -D --defined-only "$work/stage/lib/libhotbox.so" | awk '{print $3}' | grep -v '^hb_' | grep -v '^_' | grep -v '^HOTBOX_' | grep -q .; then
  echo "FAIL: libhotbox.so exports non-hb_ symbols:" >&2
  nm -D --defined-only "$work/stage/lib/libhotbox.so" | awk '{print $3}' | grep -v '^hb_' >&2
  exit 1
fi
if nm -D --defined-only "$work/stage/lib/libhotbox.so" | awk '{print $3}' | grep -q '^hb__'; then
  echo "FAIL: libhotbox.so exports internal hb__ symbols" >&2
  exit 1
fi

# pkg-config consumer
export PKG_CONFIG_PATH="$work/stage/lib/pkgconfig"
cc -std=c11 -Wall -Werror $extra_cflags -o "$work/suite-pc" "$src_dir/examples/test-suite/counter_test.c" \
  $(pkg-config --cflags --libs hotbox) -Wl,-rpath,"$work/stage/lib"
cp -r "$src_dir/examples/plugins/counter" "$work/counter"
(cd "$work" && ./suite-pc "$work/counter")

# CMake consumer
cmake -S "$src_dir/examples/test-suite" -B "$work/cmake-build" -G Ninja \
  -DCMAKE_PREFIX_PATH="$work/stage" -DCMAKE_C_FLAGS="$extra_cflags" >/dev/null
cmake --build "$work/cmake-build" >/dev/null
rm -rf "$work/counter" && cp -r "$src_dir/examples/plugins/counter" "$work/counter"
(cd "$work" && "$work/cmake-build/counter_test" "$work/counter")

# The installed CLI works too.
"$work/stage/bin/hotbox" --state-dir "$work/cli-state" call "$src_dir/examples/plugins/mathx" -- mathx add 'ii)i' 40 2 | grep -qx 42
echo "PASS install"
