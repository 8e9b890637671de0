#!/usr/bin/env bash
# tools/reload-files.sh - which shipped .c files one reload crosses (issue 13).
#
#   tools/reload-files.sh [PLUGIN_DIR]      (default: examples/plugins/counter)
#
# Builds hotbox with --coverage in its own build directory ($BUILD, default
# build-cov; only the driver and the worker), then runs tools/reload_driver:
# a manager, a sandbox and a watch on a copy of the plugin (local backend,
# standard profile, as `hotbox watch` runs), the first version live, the
# counters reset, one saved edit, and the counters written from inside the
# SWAPPED event's callback. So the manager side is exactly save -> swapped.
#
# The worker is another process and writes its counters when it exits; its
# side is the difference between a run that loads and exits and a run that
# loads, reloads and exits (both permissive: the standard profile's jail
# cannot write the counters into the build tree). Lines run more often in
# the second are the reload's.
#
# Prints, per side and grouped by module, each .c file with lines executed
# during the reload, the count of those lines and the functions hit; then
# the count by the rule of docs/architecture.md ("The path of one reload"):
# manager-side .c files outside util/. Needs gcc's gcov and python3.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-cov}
PLUGIN=$(cd "${1:-$ROOT/examples/plugins/counter}" && pwd)
OUT=$(mktemp -d /tmp/hb-reload-files-XXXXXX)
trap 'rm -rf "$OUT"' EXIT

say() { printf '%s\n' "$*" >&2; }

if [[ ! -f $BUILD/build.ninja ]]; then
    say "configuring $BUILD (--coverage, -O0)"
    cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DHOTBOX_RELOAD_TOOL=ON \
        -DBUILD_TESTING=OFF -DCMAKE_C_FLAGS=--coverage -DCMAKE_EXE_LINKER_FLAGS=--coverage \
        -DCMAKE_SHARED_LINKER_FLAGS=--coverage >"$OUT/cmake.log" ||
        { cat "$OUT/cmake.log" >&2; exit 1; }
fi
cmake --build "$BUILD" --target reload_driver hotbox-worker >"$OUT/build.log" ||
    { cat "$OUT/build.log" >&2; exit 1; }
export HOTBOX_WORKER=$BUILD/libexec/hotbox/hotbox-worker
DRIVER=$BUILD/bin/reload_driver

clear_counts() { find "$BUILD" -name '*.gcda' -delete; }
# Moves the counters left in the build tree (the worker's) to $1, keeping paths.
take_counts() {
    mkdir -p "$1"
    (cd / && find "$BUILD" -name '*.gcda' -print0 | while IFS= read -r -d '' f; do
        mkdir -p "$1$(dirname "$f")" && mv "$f" "$1$f"
    done)
}
# One run of the driver: $1 reload|load, $2 profile, $3 the manager's prefix.
drive() {
    local work
    work=$(mktemp -d "$OUT/work-XXXXXX")
    GCOV_PREFIX=$3 "$DRIVER" "$PLUGIN" "$work" "$1" "$2" >&2
}
# gcov's JSON for every counter file under $1 (a GCOV_PREFIX tree), one per line.
gcov_json() {
    local tree=$1 f
    (cd / && find "$tree" -name '*.gcda' -print0 | while IFS= read -r -d '' f; do
        local orig=${f#"$tree"}
        cp "${orig%.gcda}.gcno" "${f%.gcda}.gcno"
        (cd "$(dirname "$f")" && gcov --json-format --stdout "$f" 2>/dev/null)
    done)
}

say "manager side: one reload (standard profile)"
clear_counts
drive reload standard "$OUT/mgr"
clear_counts
say "worker side: load only, then load + reload (permissive)"
drive load permissive "$OUT/junk0"
take_counts "$OUT/w0"
drive reload permissive "$OUT/junk1"
take_counts "$OUT/w1"

gcov_json "$OUT/mgr" >"$OUT/mgr.json"
gcov_json "$OUT/w0" >"$OUT/w0.json"
gcov_json "$OUT/w1" >"$OUT/w1.json"

python3 - "$ROOT" "$OUT" <<'PY'
import json, os, sys
root, out = sys.argv[1], sys.argv[2]
NOT_SHIPPED = ("tests/", "bench/", "examples/", "tools/")

def load(name):
    """{relative .c path: {"lines": {n: count}, "funcs": {fn: count}}}"""
    files = {}
    with open(os.path.join(out, name)) as f:
        for raw in f:
            raw = raw.strip()
            if not raw:
                continue
            doc = json.loads(raw)
            cwd = doc.get("current_working_directory", "")
            for fe in doc.get("files", []):
                path = os.path.normpath(os.path.join(cwd, fe["file"]))
                rel = os.path.relpath(path, root)
                if rel.startswith("..") or not rel.endswith(".c") or rel.startswith(NOT_SHIPPED):
                    continue
                e = files.setdefault(rel, {"lines": {}, "funcs": {}})
                for ln in fe.get("lines", []):
                    n = ln["line_number"]
                    e["lines"][n] = e["lines"].get(n, 0) + ln["count"]
                for fn in fe.get("functions", []):
                    k = fn["name"]
                    e["funcs"][k] = e["funcs"].get(k, 0) + fn["execution_count"]
    return files

def hit(files, base=None):
    """[(file, lines executed, [functions])] of the reload."""
    rows = []
    for rel, e in files.items():
        b = base.get(rel, {"lines": {}, "funcs": {}}) if base is not None else None
        if b is None:
            lines = [n for n, c in e["lines"].items() if c > 0]
            funcs = [f for f, c in e["funcs"].items() if c > 0]
        else:
            lines = [n for n, c in e["lines"].items() if c > b["lines"].get(n, 0)]
            funcs = [f for f, c in e["funcs"].items() if c > b["funcs"].get(f, 0)]
        if lines:
            rows.append((rel, len(lines), sorted(funcs)))
    return sorted(rows)

def show(title, rows):
    print(f"== {title}: {len(rows)} files")
    mod = None
    for rel, n, funcs in rows:
        m = os.path.dirname(rel)
        if m != mod:
            mod = m
            print(f"  {m}/")
        print(f"    {os.path.basename(rel):<22} {n:4d} lines  {', '.join(funcs)}")

mgr = hit(load("mgr.json"))
wrk = hit(load("w1.json"), load("w0.json"))
show("manager side (save -> SWAPPED event)", mgr)
show("worker side (reload run minus load run)", wrk)
util = [r for r in mgr if r[0].startswith("util/")]
counted = [r for r in mgr if not r[0].startswith("util/")]
print(f"== count (manager-side .c files outside util/): {len(counted)}"
      f"  [util/ {len(util)}, worker side {len(wrk)}, manager total {len(mgr)}]")
PY
