#!/usr/bin/env bash
# Builds stars and its tests on the GPU machine: CMake, ninja, nvcc and PyTorch 2.x
# there, no package access. LibTorch comes from the PyTorch wheel; header-only deps and
# GoogleTest's sources come from .deps/ (made by scripts/vendor-deps.sh on a machine with
# Debian's packages, and sent along with the working tree).
#   usage: scripts/device-build.sh [BUILD_DIR (default build-device)]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build-device}"
python="${PYTHON:-$(command -v python3)}"
[ -d .deps/include ] || { echo "device-build: .deps/ is missing; run scripts/vendor-deps.sh" \
  "on a machine with Debian's packages and send .deps along" >&2; exit 2; }
torch_prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')
"$python" -c 'import torch; print("device-build: torch", torch.__version__, "cuda", torch.version.cuda,
      "gpu", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")'
# NCCL's header ships in the nvidia-nccl wheel; build the NCCL backend where it is found.
nccl_inc=$("$python" -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "include"))' 2>/dev/null || true)
nccl=OFF; [ -n "$nccl_inc" ] && [ -f "$nccl_inc/nccl.h" ] && nccl=ON
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$torch_prefix" -DSTARS_DEPS_DIR="$PWD/.deps" -DSTARS_PYTHON="$python" \
  -DSTARS_WITH_NCCL=$nccl ${nccl_inc:+-DCMAKE_CXX_FLAGS=-I$nccl_inc} -DSTARS_BUILD_BENCH=ON
cmake --build "$build" --parallel "$(nproc)"
