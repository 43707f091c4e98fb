#!/usr/bin/env bash
# stars' training step with its linear layers on oneDNN's sgemm against LibTorch's BLAS
# (bench-train --gemm), fixed-9 with and without JSRR, 1 and 2 threads, the two GEMMs
# alternating REPEATS times; each cell is the median. Prints a markdown table.
#   usage: [THREADS="1 2"] [REPEATS=3] scripts/bench_gemm.sh [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-20}"
repeats="${REPEATS:-3}"
bench=./build/bench/bench-train
[ -x "$bench" ] || bash scripts/build.sh
echo "| mode | threads | BLAS ms/step | oneDNN ms/step | speed-up | BLAS sgemm GFLOP/s | oneDNN sgemm GFLOP/s |"
echo "|---|---|---|---|---|---|---|"
for threads in ${THREADS:-1 2}; do
  for reg in 0 0.1; do
    runs=()
    for ((r = 0; r < repeats; r++)); do
      for gemm in blas onednn; do
        runs+=("$(OMP_NUM_THREADS=$threads "$bench" --steps "$steps" --warm 2 --threads "$threads" \
          --gemm "$gemm" --set phases.0.loops.sampler=fixed --set phases.0.loops.n=9 \
          --set phases.0.jacobian_penalty.weight="$reg" | tail -n 1)")
      done
    done
    python3 - "$reg" "$threads" "${runs[@]}" <<'PY'
import json, statistics, sys
reg, threads = sys.argv[1], sys.argv[2]
runs = [json.loads(x) for x in sys.argv[3:]]
side = {g: [r for r in runs if r["gemm"] == g] for g in ("blas", "onednn")}
ms = {g: statistics.median(r["step_ms"] for r in side[g]) for g in side}
rate = {g: statistics.median(r["sgemm_gflops"] for r in side[g]) for g in side}
mode = "fixed-9 + JSRR" if float(reg) > 0 else "fixed-9"
print(f"| {mode} | {threads} | {ms['blas']:.0f} | {ms['onednn']:.0f} | {ms['blas'] / ms['onednn']:.2f}x | "
      f"{rate['blas']:.0f} | {rate['onednn']:.0f} |")
PY
  done
done
