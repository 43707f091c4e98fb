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
  libtorch-dev libopenblas0-openmp libdnnl-dev zlib1g-dev
  libcli11-dev libspdlog-dev nlohmann-json3-dev libgtest-dev
  python3-torch python3-matplotlib python3-numpy python3-pip python3-venv python3-setuptools
  clang libclang-rt-14-dev libgloo-dev
  fortunes
  curl xz-utils
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

# Point libblas.so.3 (and LAPACK and libopenblas.so.0, which it loads) at the OpenBLAS
# OpenMP variant. If the pthread variant is also installed, Debian's "auto" alternatives
# prefer it for libopenblas.so.0, and a step with 2 threads then runs 2.7x slower.
arch_dir=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
libdir="/usr/lib/${arch_dir}"
for name in libblas.so.3 liblapack.so.3 libopenblas.so.0; do
  want="${libdir}/openblas-openmp/${name}"
  [ -e "$want" ] || continue
  update-alternatives --list "${name}-${arch_dir}" >/dev/null 2>&1 || continue
  if [ "$(readlink -f "${libdir}/${name}")" != "$(readlink -f "$want")" ]; then
    $SUDO update-alternatives --set "${name}-${arch_dir}" "$want" >/dev/null
    echo "setup: ${name} -> $want"
  fi
done

# The default text corpus (data/fortunes.txt, git-ignored): the shipped text models and
# configs/text.json read it, so a fresh clone evaluates them after set-up.
repo="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -s "$repo/data/fortunes.txt" ] && [ -d /usr/share/games/fortunes ]; then
  python3 "$repo/scripts/text_corpus.py" --out "$repo/data/fortunes.txt"
fi
# A second text from another domain, never trained on (configs/sweeps/text-depth.json
# evaluates on it): the licences every Debian system ships (base-files), 113 KB of legal prose.
if [ ! -s "$repo/data/licences.txt" ] && [ -d /usr/share/common-licenses ]; then
  (cd /usr/share/common-licenses && cat GPL-3 LGPL-2.1 Apache-2.0 MPL-2.0 GFDL-1.3) \
    >"$repo/data/licences.txt.tmp" && mv "$repo/data/licences.txt.tmp" "$repo/data/licences.txt"
fi
