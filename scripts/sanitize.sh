#!/usr/bin/env bash
# Builds stars and its test suite with AddressSanitizer + UndefinedBehaviorSanitizer
# (build-asan/, -O1 with line tables: half the compile time of -O2 -g, and the stack traces
# still name file and line) and runs the suite but for the tests labelled "slow", whose
# code paths faster tests cover. Any sanitizer report fails the run.
# Usage: scripts/sanitize.sh [ctest args...]   (with arguments, they replace "-LE slow")
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DSTARS_SANITIZE=ON \
  -DSTARS_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan --parallel "$(nproc)"
# LibTorch itself is not instrumented. Leak checking is off because LibTorch keeps global
# allocations alive until exit by design; everything else (overflows, use-after-free,
# undefined behaviour in stars' code) aborts the test that triggers it.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
cd build-asan
[ "$#" -gt 0 ] || set -- -LE slow
ctest --output-on-failure --parallel "$(nproc)" "$@"
