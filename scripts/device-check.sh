#!/usr/bin/env bash
# The one script to run on the GPU machine (device tool): build, the test suite with the
# CUDA tests, and the paper-size speed comparison with the PyTorch peer, side by side.
# Writes logs and results under $OUT (default ./device-out).
#   usage: OUT=DIR scripts/device-check.sh [BENCH_STEPS (default 20)]
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-device-out}"; mkdir -p "$out"
steps="${1:-20}"
python="${PYTHON:-$(command -v python3)}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >"$out/gpu.txt" 2>&1
start=$SECONDS
bash scripts/device-build.sh build-device >"$out/build.log" 2>&1 || { tail -50 "$out/build.log"; exit 1; }
echo "build: $((SECONDS - start)) s"
(cd build-device && ctest --output-on-failure --parallel 8 --timeout 300) >"$out/ctest.log" 2>&1
echo "ctest: rc $? ($(grep -E 'tests passed' "$out/ctest.log"))"
grep -E "Cuda\.|Failed|\*\*\*" "$out/ctest.log" | head -30

# Paper size: d_model 512, 8 heads, d_ff 1024, batch 512, 4-digit addition, log-normal loops.
paper=(--set model.d_model=512 --set model.n_heads=8 --set model.d_ff=1024 --set train.batch=512
       --set phases.0.loops.sampler=lognormal --set phases.0.loops.mu=2.0 --set phases.0.loops.sigma=0.7)
peer="../shared/peers/looplm_ref.py"; [ -f "$peer" ] || peer="shared/peers/looplm_ref.py"
for reg in 0 0.1; do
  ./build-device/bench/bench-train --device cuda --steps "$steps" --warm 3 "${paper[@]}" \
    --set phases.0.jacobian_penalty.weight=$reg --label "stars reg=$reg" | tail -n 1 | tee -a "$out/bench.jsonl"
  [ -f "$peer" ] && "$python" "$peer" --device cuda --bench "$steps" --d 512 --heads 8 --ff 1024 \
    --batch 512 --dropout 0 --warmup 0 --sampler lognormal --mu 2.0 --sigma 0.7 --reg $reg \
    | tail -n 1 | sed "s/^/{\"label\": \"peer reg=$reg\", \"row\": /; s/$/}/" | tee -a "$out/bench.jsonl"
done
echo "total: $((SECONDS - start)) s"
