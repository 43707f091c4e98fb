#!/usr/bin/env bash
# Time a fixed-4 training step at the arith.json size with each BLAS that Debian's LibTorch
# can load through libblas.so.3 (OpenBLAS OpenMP, OpenBLAS pthreads, reference BLAS) and
# with 1 and 2 threads, in one run. Prints a markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-20}"
lib=/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)
missing=()
for p in libopenblas0-openmp libopenblas0-pthread libblas3; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] || { apt-get update -qq && apt-get install -y -qq "${missing[@]}"; }
bench=./build/bench/bench-train
[ -x "$bench" ] || bash scripts/build.sh
echo "| BLAS | threads | ms/step | tokens/s | sgemm GFLOP/s (512³) |"
echo "|---|---|---|---|---|"
for threads in ${THREADS:-1 2}; do
  for variant in openblas-openmp openblas-pthread blas; do
    json=$(LD_LIBRARY_PATH="$lib/$variant" OMP_NUM_THREADS=$threads "$bench" --steps "$steps" --warm 3 \
      --threads "$threads" --set phases.0.loops.sampler=fixed --set phases.0.jacobian_penalty.weight=0 | tail -n 1)
    python3 -c "import json,sys; j=json.loads(sys.argv[1]); print(f\"| {sys.argv[2]} | {sys.argv[3]} | {j['step_ms']:.0f} | {j['tokens_per_s']:.0f} | {j['sgemm_gflops']:.0f} |\")" "$json" "$variant" "$threads"
  done
done
