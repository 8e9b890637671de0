#!/usr/bin/env bash
# Installs every Debian package hotbox needs to build, test and run.
# Idempotent: does nothing when all packages are present. Needs root (or sudo).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  libelf-dev libdw-dev libffi-dev libsqlite3-dev libssl-dev libjansson-dev libseccomp-dev libxml2-dev
  g++ liblua5.4-dev
  bubblewrap qemu-system-x86 cpio kmod
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  SUDO="sudo"
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
