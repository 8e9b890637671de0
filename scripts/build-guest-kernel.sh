#!/usr/bin/env bash
# Builds the OPTIONAL minimal guest kernel for hotbox's microvm backend.
#
# The default guest kernel is Debian's (scripts/fetch-guest-kernel.sh: no
# build). This script builds a smaller one from Debian's linux-source package
# with exactly the options in scripts/guest-kernel.config (virtio-mmio, 9p,
# virtio-console, PVH entry, devtmpfs, seccomp, namespaces; everything built
# in, no modules, no ACPI/PCI): it boots about 2x faster under TCG. Building
# takes minutes (about 3 min on 2 idle cores), so nothing runs it for you:
# not the build, not `make test`.
#
# Cache: ${HOTBOX_MIN_KERNEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hotbox/guest-kernel-min}
#   <key>/vmlinux, <key>/config (the full .config), <key>/release
#   current -> <key>   (what the microvm backend boots when it is there)
# key = SHA-256 of the linux-source package version and the config fragment,
# so a new source package or a changed fragment builds again; an unchanged one
# only prints the cached path. The backend picks current/vmlinux unless
# HOTBOX_KERNEL_DIR (or the pool's kernel_dir) names a kernel, or
# HOTBOX_GUEST_KERNEL=debian asks for the default one (docs/microvm.md).
#
# Options: --print-key (print the key and exit), --check-fragment CONFIG
# (check that every fragment line is in the .config CONFIG; used by tests).
# Needs: apt-get (installs linux-source-6.1, flex, bison, bc, libelf-dev when
# missing; as root), make, gcc. Environment: HOTBOX_KERNEL_JOBS (make -j,
# default nproc).
set -euo pipefail
HOME=${HOME:-$(getent passwd "$(id -u)" 2>/dev/null | cut -d: -f6)}
HOME=${HOME:-/root}
export HOME

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FRAGMENT=${HOTBOX_KERNEL_FRAGMENT:-$here/guest-kernel.config}
CACHE=${HOTBOX_MIN_KERNEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hotbox/guest-kernel-min}
SRC_PKG=linux-source-6.1

say() { echo "build-guest-kernel: $*" >&2; }
die() { say "$*"; exit 1; }

# Every CONFIG_X=y line of the fragment must be in the final .config.
check_fragment() { # .config
  local cfg=$1 line bad=0
  [[ -f $cfg ]] || die "no .config at $cfg"
  while IFS= read -r line; do
    line=${line%%#*}
    line=${line//[[:space:]]/}
    [[ -z $line ]] && continue
    [[ $line == CONFIG_*=* ]] || die "$FRAGMENT: not a CONFIG_X=value line: $line"
    if ! grep -qxF "$line" "$cfg"; then
      say "$FRAGMENT: $line did not take (its dependencies are missing from the fragment)"
      bad=1
    fi
  done < "$FRAGMENT"
  return $bad
}

src_version() {
  dpkg-query -W -f='${Version}' "$SRC_PKG" 2>/dev/null ||
    apt-cache policy "$SRC_PKG" 2>/dev/null | awk '/Candidate:/ {print $2; exit}'
}

key_of() { # version
  { echo "hotbox-guest-kernel 1"; echo "source=$SRC_PKG $1"; cat "$FRAGMENT"; } |
    sha256sum | cut -c1-16
}

case ${1:-} in
  --check-fragment) check_fragment "${2:?--check-fragment needs a .config path}"; exit ;;
  --print-key) key_of "$(src_version)"; exit ;;
  "") ;;
  *) die "unknown option $1 (try --print-key or --check-fragment CONFIG)" ;;
esac

[[ -f $FRAGMENT ]] || die "no config fragment at $FRAGMENT"

need=()
dpkg-query -W -f='${Status}' "$SRC_PKG" 2>/dev/null | grep -q "ok installed" || need+=("$SRC_PKG")
for t in flex bison bc; do command -v "$t" >/dev/null || need+=("$t"); done
[[ -f /usr/include/gelf.h ]] || need+=(libelf-dev)
if ((${#need[@]})); then
  say "installing ${need[*]}"
  apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 || {
    apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; } ||
    die "cannot install ${need[*]} (run as root, or install them yourself)"
fi
ver=$(dpkg-query -W -f='${Version}' "$SRC_PKG")
key=$(key_of "$ver")
out=$CACHE/$key
if [[ -f $out/vmlinux && -f $out/config ]]; then
  ln -sfn "$key" "$CACHE/current.new" && mv -T "$CACHE/current.new" "$CACHE/current"
  say "cached: $out ($SRC_PKG $ver)"
  echo "$out"
  exit 0
fi

tarball=$(ls /usr/src/linux-source-6.1.tar.* 2>/dev/null | head -1)
[[ -n $tarball ]] || die "$SRC_PKG is installed but /usr/src/linux-source-6.1.tar.* is missing"
mkdir -p "$CACHE"
work=$(mktemp -d "$CACHE/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
say "extracting $tarball"
tar -xf "$tarball" -C "$work"
tree=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -1)
jobs=${HOTBOX_KERNEL_JOBS:-$(nproc)}
t0=$(date +%s)
say "configuring (allnoconfig + $FRAGMENT)"
make -C "$tree" -s KCONFIG_ALLCONFIG="$FRAGMENT" allnoconfig >/dev/null
check_fragment "$tree/.config" || die "the fragment does not configure (see above)"
say "building vmlinux with make -j$jobs"
make -C "$tree" -s -j"$jobs" vmlinux >"$work/build.log" 2>&1 ||
  { tail -30 "$work/build.log" >&2; die "kernel build failed (log above)"; }
release=$(make -C "$tree" -s kernelrelease)
mkdir -p "$work/out"
cp "$tree/vmlinux" "$work/out/vmlinux"
strip --strip-debug "$work/out/vmlinux" 2>/dev/null || true
cp "$tree/.config" "$work/out/config"
echo "$release ($SRC_PKG $ver, key $key)" > "$work/out/release"
rm -rf "$out"
mv "$work/out" "$out"
ln -sfn "$key" "$CACHE/current.new" && mv -T "$CACHE/current.new" "$CACHE/current"
say "built $out in $(( $(date +%s) - t0 )) s"
echo "$out"
