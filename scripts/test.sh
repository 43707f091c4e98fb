#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite (unit, CLI, Python interop, CMake consumer).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
cd build
ctest --output-on-failure --parallel "$(nproc)" "$@"
