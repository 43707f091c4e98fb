#!/usr/bin/env bash
# Installs what stars needs on Debian 12, idempotently: only missing packages are
# fetched, and `apt-get update` runs only when something is missing.
#
# BLAS: Debian's LibTorch links the generic libblas.so.3. We install the OpenBLAS
# OpenMP variant and select it through update-alternatives (see docs/performance.md for
# the measurements behind that choice).
set -euo pipefail

packages=(
  cmake ninja-build g++ make pkg-config
  libtorch-dev libopenblas0-openmp
  libcli11-dev libspdlog-dev nlohmann-json3-dev libgtest-dev
  python3-torch python3-matplotlib python3-numpy
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Point libblas.so.3 at OpenBLAS (OpenMP variant) if it is not already.
arch_dir=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
want="/usr/lib/${arch_dir}/openblas-openmp/libblas.so.3"
if [ -e "$want" ]; then
  current=$(readlink -f "/usr/lib/${arch_dir}/libblas.so.3" || true)
  if [ "$current" != "$(readlink -f "$want")" ]; then
    $SUDO update-alternatives --set "libblas.so.3-${arch_dir}" "$want" >/dev/null
    echo "setup: libblas.so.3 -> $want"
  fi
fi
