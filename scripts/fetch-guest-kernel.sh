#!/usr/bin/env bash
# Fetches the guest kernel for hotbox's microvm compile backend.
#
# Downloads (does not install) the Debian kernel package that linux-image-amd64
# depends on, unpacks it into a cache OUTSIDE the repository, extracts the
# uncompressed vmlinux (PVH entry: about 3x faster to boot under TCG than the
# bzImage) and copies the few modules the guest agent loads, decompressed.
#
# Cache: ${HOTBOX_KERNEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hotbox/guest-kernel}
#   vmlinux (or bzImage when extraction fails), modules/*.ko,
#   modules/order (load order, one file name per line), release.
# Idempotent: when the cache is complete it only prints its path.
# Runs unattended as root on a fresh Debian 12 (apt-get update on a failed download).
set -euo pipefail
# CI may run without HOME; the library falls back to the same place.
HOME=${HOME:-$(getent passwd "$(id -u)" 2>/dev/null | cut -d: -f6)}
HOME=${HOME:-/root}
export HOME

CACHE=${HOTBOX_KERNEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hotbox/guest-kernel}
WANT=(virtio_ring virtio virtio_mmio 9pnet 9pnet_virtio netfs fscache 9p virtio_console)

say() { echo "fetch-guest-kernel: $*" >&2; }

if [[ -f $CACHE/release && -f $CACHE/modules/order ]] && { [[ -f $CACHE/vmlinux ]] || [[ -f $CACHE/bzImage ]]; }; then
  say "cached: $CACHE ($(cat "$CACHE/release"))"
  echo "$CACHE"
  exit 0
fi

for tool in apt-get apt-cache dpkg od grep tail xz; do
  command -v "$tool" >/dev/null || { say "missing tool: $tool"; exit 1; }
done

pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if [[ -z $pkg ]]; then
  say "apt-cache knows no linux-image-amd64; running apt-get update"
  apt-get update -qq
  pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
fi
[[ -n $pkg ]] || { say "cannot resolve linux-image-amd64's kernel package"; exit 1; }
release=${pkg#linux-image-}
say "kernel package $pkg"

work=$(mktemp -d "${TMPDIR:-/tmp}/hotbox-kernel.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
# apt-get download writes as the _apt user when it can; let it.
chmod 0777 "$work"
if ! apt-get download -qq "$pkg" >/dev/null 2>&1; then
  say "download failed; running apt-get update and retrying"
  apt-get update -qq
  apt-get download -qq "$pkg"
fi
deb=$(ls "$work"/*.deb)
dpkg -x "$deb" "$work/root"

vmlinuz="$work/root/boot/vmlinuz-$release"
[[ -f $vmlinuz ]] || { say "no $vmlinuz in $pkg"; exit 1; }
moddir="$work/root/lib/modules/$release"
[[ -d $moddir ]] || moddir="$work/root/usr/lib/modules/$release"
# The package ships no modules.dep (depmod makes it on install): make it.
if [[ ! -f $moddir/modules.dep ]]; then
  command -v depmod >/dev/null || PATH=$PATH:/sbin:/usr/sbin
  depmod -b "$work/root" "$release" 2>/dev/null || {
    # merged-/usr packages keep modules under usr/lib
    depmod -b "$work/root/usr" "$release"; }
fi

stage="$work/stage"
mkdir -p "$stage/modules"

# extract-vmlinux: find each compression magic, decompress from there, keep
# the first result that is an ELF image.
is_elf() { [[ $(head -c4 "$1" | od -An -tx1 | tr -d ' \n') == 7f454c46 ]]; }
try_decomp() { # magic(od -tx1 style, no spaces) tool...
  local magic=$1; shift
  local off
  for off in $(od -An -v -tx1 -w1 "$vmlinuz" | tr -d ' ' | tr '\n' ' ' |
               grep -bo "$(echo "$magic" | sed 's/../& /g; s/ $//')" | cut -d: -f1 | head -5); do
    off=$((off / 3)) # grep's byte offset in "xx " triples -> file offset
    tail -c +$((off + 1)) "$vmlinuz" | "$@" > "$stage/vmlinux" 2>/dev/null || true
    if [[ -s $stage/vmlinux ]] && is_elf "$stage/vmlinux"; then return 0; fi
  done
  rm -f "$stage/vmlinux"
  return 1
}
if try_decomp 28b52ffd zstd -dc ||
   try_decomp fd377a585a00 xz -dc ||
   try_decomp 1f8b08 gzip -dc; then
  say "extracted vmlinux ($(stat -c %s "$stage/vmlinux") bytes)"
else
  say "could not extract vmlinux; the guest boots the bzImage (slower)"
  cp "$vmlinuz" "$stage/bzImage"
fi

# Modules in dependency order: for each wanted module, its modules.dep deps
# first (modules.dep lists direct+indirect deps, deepest last).
declare -A seen=()
order=()
add_mod() { # path relative to moddir
  local rel=$1 dep line
  [[ -n ${seen[$rel]:-} ]] && return 0
  seen[$rel]=1
  line=$(grep -E "^${rel}:" "$moddir/modules.dep" || true)
  for dep in ${line#*:}; do
    add_mod "$dep"
  done
  order+=("$rel")
}
for m in "${WANT[@]}"; do
  rel=$(grep -oE "^[^:]*/${m}\.ko(\.[a-z]+)?:" "$moddir/modules.dep" | head -1 | tr -d :)
  if [[ -z $rel ]]; then
    if grep -qE "/${m}\.ko" "$moddir/modules.builtin" 2>/dev/null; then continue; fi
    say "module $m not found (not built in either)"; exit 1
  fi
  add_mod "$rel"
done
: > "$stage/modules/order"
for rel in "${order[@]}"; do
  base=$(basename "$rel")
  case $base in
    *.ko.xz) xz -dc "$moddir/$rel" > "$stage/modules/${base%.xz}"; base=${base%.xz} ;;
    *.ko.zst) zstd -qdc "$moddir/$rel" > "$stage/modules/${base%.zst}"; base=${base%.zst} ;;
    *.ko.gz) gzip -dc "$moddir/$rel" > "$stage/modules/${base%.gz}"; base=${base%.gz} ;;
    *) cp "$moddir/$rel" "$stage/modules/$base" ;;
  esac
  echo "$base" >> "$stage/modules/order"
done
echo "$release" > "$stage/release"
say "modules: $(tr '\n' ' ' < "$stage/modules/order")"

mkdir -p "$(dirname "$CACHE")"
rm -rf "$CACHE.new"
cp -a "$stage" "$CACHE.new"
rm -rf "$CACHE"
mv "$CACHE.new" "$CACHE"
say "done: $CACHE"
echo "$CACHE"
