#!/usr/bin/env bash
# The main job: set up, build, train the embedded STARS default (fixed depth, then random
# loops + JSRR) and print held-out accuracy by depth. Extra arguments go to stars-train.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
# One LibTorch thread per core keeps OpenMP and LibTorch from oversubscribing the cores.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
exec ./build/apps/stars-train "$@"
