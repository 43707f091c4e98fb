#!/usr/bin/env bash
# Training throughput of stars beside the PyTorch peer (../shared/peers/looplm_ref.py), at
# the arith.json model size, with 1 and 2 threads, in one run so machine noise hits both.
# Prints a markdown table (docs/performance.md keeps the measured one).
#   usage: [THREADS="1 2"] scripts/bench_train.sh [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-30}"
peer="${PEER:-../shared/peers/looplm_ref.py}"
bench=./build/bench/bench-train
[ -x "$bench" ] || bash scripts/build.sh
[ -f "$peer" ] || { echo "peer not found at $peer (set PEER=...)" >&2; exit 2; }

# mode | stars overrides | peer flags
modes=(
  "fixed-4|phases.0.loops.sampler=fixed phases.0.loops.n=4 phases.0.reg.weight=0|--sampler fixed --loops 4"
  "fixed-9|phases.0.loops.sampler=fixed phases.0.loops.n=9 phases.0.reg.weight=0|--sampler fixed --loops 9"
  "fixed-9 + JSRR|phases.0.loops.sampler=fixed phases.0.loops.n=9 phases.0.reg.weight=0.1|--sampler fixed --loops 9 --reg 0.1"
  "lognormal|phases.0.loops.sampler=lognormal phases.0.reg.weight=0|--sampler lognormal --mu 2.0 --sigma 0.7"
  "STARS (lognormal + JSRR)|phases.0.loops.sampler=lognormal phases.0.reg.weight=0.1|--sampler lognormal --mu 2.0 --sigma 0.7 --reg 0.1"
)
echo "| mode | threads | stars ms/step | peer ms/step | stars tok/s | peer tok/s | speed-up | stars mean loops | stars GFLOP/s | sgemm GFLOP/s | stars MFU |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for threads in ${THREADS:-1 2}; do
  for m in "${modes[@]}"; do
    IFS='|' read -r name sets peer_flags <<<"$m"
    args=(); for s in $sets; do args+=(--set "$s"); done
    s_json=$(OMP_NUM_THREADS=$threads "$bench" --steps "$steps" --warm 0 --threads "$threads" "${args[@]}" | tail -n 1)
    # shellcheck disable=SC2086
    p_json=$(OMP_NUM_THREADS=$threads /usr/bin/python3 "$peer" --bench "$steps" --d 192 --heads 6 --ff 384 \
      --batch 128 --dropout 0 --warmup 0 --threads "$threads" $peer_flags | tail -n 1)
    python3 - "$name" "$threads" "$s_json" "$p_json" <<'PY'
import json, sys
name, threads, s, p = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
print(f"| {name} | {threads} | {s['step_ms']:.0f} | {p['step_ms']:.0f} | {s['tokens_per_s']:.0f} | "
      f"{p['tokens_per_s']:.0f} | {s['tokens_per_s'] / p['tokens_per_s']:.2f}x | {s['mean_loops']:.1f} | "
      f"{s['model_gflops']:.1f} | {s['sgemm_gflops']:.0f} | {100 * s['mfu']:.0f}% |")
PY
  done
done
