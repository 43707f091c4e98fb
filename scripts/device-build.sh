#!/usr/bin/env bash
# Builds stars and its tests on the GPU machine: CMake, ninja, nvcc and PyTorch 2.x
# there, no package access. LibTorch comes from the PyTorch wheel; header-only deps and
# GoogleTest's sources come from .deps/ (made by scripts/vendor-deps.sh on a machine with
# Debian's packages, and sent along with the working tree).
#   usage: [STARS_WITH_C10D=OFF] scripts/device-build.sh [BUILD_DIR (default build-device)]
# The build keeps going past a failing file, so that one error does not hide the others
# (and the targets that do not need that file are still built); it still exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build-device}"
python="${PYTHON:-$(command -v python3)}"
c10d="${STARS_WITH_C10D:-ON}"
[ -d .deps/include ] || { echo "device-build: .deps/ is missing; run scripts/vendor-deps.sh" \
  "on a machine with Debian's packages and send .deps along" >&2; exit 2; }
torch_prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')
"$python" -c 'import torch; print("device-build: torch", torch.__version__, "cuda", torch.version.cuda,
      "gpu", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")'
# NCCL's header ships in the nvidia-nccl wheel; build the NCCL backend where it is found.
nccl_inc=$("$python" -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "include"))' 2>/dev/null || true)
nccl=OFF; [ -n "$nccl_inc" ] && [ -f "$nccl_inc/nccl.h" ] && [ "$c10d" = ON ] && nccl=ON
# A machine with zlib's library but not its header: the vendored header and the library.
zlib=()
if ! echo '#include <zlib.h>' | "${CXX:-c++}" -x c++ -fsyntax-only - 2>/dev/null; then
  libz=$(ldconfig -p | awk '/libz\.so\.1 .*x86-64/ {print $NF; exit}')
  [ -n "$libz" ] && zlib=(-DZLIB_INCLUDE_DIR="$PWD/.deps/zlib" -DZLIB_LIBRARY="$libz")
fi
echo "device-build: c10d $c10d, nccl $nccl, zlib ${zlib[*]:-system}"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$torch_prefix" -DSTARS_DEPS_DIR="$PWD/.deps" -DSTARS_PYTHON="$python" \
  -DSTARS_WITH_C10D="$c10d" -DSTARS_WITH_NCCL=$nccl ${nccl_inc:+-DCMAKE_CXX_FLAGS=-I$nccl_inc} \
  -DSTARS_BUILD_BENCH=ON "${zlib[@]}"
cmake --build "$build" --parallel "$(nproc)" -- -k 0
