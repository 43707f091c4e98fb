#!/usr/bin/env bash
# Training throughput of stars beside the PyTorch peer (../shared/peers/looplm_ref.py), at
# the arith.json model size, with 1 and 2 threads, in one run so machine noise hits both.
# Each mode runs REPEATS times per side, the two sides alternating, and the table shows the
# median ms/step of each side. The peer's loop counts are replayed from its seeded Python
# RNG, so random-depth rows compare loop-tokens/s (tokens x mean loops per second) as well.
# Prints a markdown table (docs/performance.md keeps the measured one). The fixed-9 and
# fixed-10 rows bracket the STARS sampler's mean depth, 9.44; scripts/bench_jsrr.sh measures
# what the JSRR term adds there with paired runs.
# PRECISIONS="fp32 bf16" runs every mode in each precision, both sides alike (stars:
# train.precision; the peer: --precision, bf16 being torch.autocast to bfloat16); in bf16
# rows the GEMM columns give LibTorch's bf16 GEMM rate.
#   usage: [THREADS="1 2"] [REPEATS=3] [PRECISIONS=fp32] scripts/bench_train.sh [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-30}"
repeats="${REPEATS:-3}"
peer="${PEER:-../shared/peers/looplm_ref.py}"
bench=./build/bench/bench-train
[ -x "$bench" ] || bash scripts/build.sh
[ -f "$peer" ] || { echo "peer not found at $peer (set PEER=...)" >&2; exit 2; }

# mode | stars overrides | peer flags
modes=(
  "fixed-4|phases.0.loops.sampler=fixed phases.0.loops.n=4 phases.0.jacobian_penalty.weight=0|--sampler fixed --loops 4"
  "fixed-9|phases.0.loops.sampler=fixed phases.0.loops.n=9 phases.0.jacobian_penalty.weight=0|--sampler fixed --loops 9"
  "fixed-9 + JSRR|phases.0.loops.sampler=fixed phases.0.loops.n=9 phases.0.jacobian_penalty.weight=0.1|--sampler fixed --loops 9 --reg 0.1"
  "fixed-10|phases.0.loops.sampler=fixed phases.0.loops.n=10 phases.0.jacobian_penalty.weight=0|--sampler fixed --loops 10"
  "fixed-10 + JSRR|phases.0.loops.sampler=fixed phases.0.loops.n=10 phases.0.jacobian_penalty.weight=0.1|--sampler fixed --loops 10 --reg 0.1"
  "lognormal|phases.0.loops.sampler=lognormal phases.0.jacobian_penalty.weight=0|--sampler lognormal --mu 2.0 --sigma 0.7"
  "STARS (lognormal + JSRR)|phases.0.loops.sampler=lognormal phases.0.jacobian_penalty.weight=0.1|--sampler lognormal --mu 2.0 --sigma 0.7 --reg 0.1"
)
echo "| mode | threads | stars ms/step | peer ms/step | stars tok/s | peer tok/s | speed-up | stars / peer mean loops | loop-token speed-up | stars GFLOP/s | sgemm GFLOP/s | stars MFU |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for threads in ${THREADS:-1 2}; do
  for precision in ${PRECISIONS:-fp32}; do
  for m in "${modes[@]}"; do
    IFS='|' read -r name sets peer_flags <<<"$m"
    args=(--set "train.precision=$precision"); for s in $sets; do args+=(--set "$s"); done
    s_runs=(); p_runs=()
    for ((r = 0; r < repeats; r++)); do
      s_runs+=("$(OMP_NUM_THREADS=$threads "$bench" --steps "$steps" --warm 0 --threads "$threads" "${args[@]}" | tail -n 1)")
      # shellcheck disable=SC2086
      p_runs+=("$(OMP_NUM_THREADS=$threads /usr/bin/python3 "$peer" --bench "$steps" --d 192 --heads 6 --ff 384 \
        --batch 128 --dropout 0 --warmup 0 --threads "$threads" --precision "$precision" $peer_flags | tail -n 1)")
    done
    python3 - "$name ($precision)" "$threads" "$steps" "$peer_flags" "${#s_runs[@]}" "${s_runs[@]}" "${p_runs[@]}" <<'PY'
import json, random, statistics, sys
name, threads, steps, peer_flags, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split(), int(sys.argv[5])
runs = [json.loads(x) for x in sys.argv[6:]]
s = sorted(runs[:n], key=lambda r: r["step_ms"])[n // 2]  # the median run of each side
p = sorted(runs[n:], key=lambda r: r["step_ms"])[n // 2]
# Replay the peer's seeded draws (looplm_ref.py, seed 1): 2 operands per row, then the depth.
opts = dict(zip(peer_flags[::2], peer_flags[1::2]))
rng, loops = random.Random(1), []
for _ in range(steps):
    [rng.randint(1000, 9999) for _ in range(2 * 128)]
    if opts["--sampler"] == "lognormal":
        draw = rng.lognormvariate(float(opts.get("--mu", 2.0)), float(opts.get("--sigma", 0.7)))
        loops.append(int(min(100, max(1, round(draw)))))
    else:
        loops.append(int(opts["--loops"]))
p_loops = statistics.mean(loops)
loop_speedup = (s["tokens_per_s"] * s["mean_loops"]) / (p["tokens_per_s"] * p_loops)
print(f"| {name} | {threads} | {s['step_ms']:.0f} | {p['step_ms']:.0f} | {s['tokens_per_s']:.0f} | "
      f"{p['tokens_per_s']:.0f} | {s['tokens_per_s'] / p['tokens_per_s']:.2f}x | {s['mean_loops']:.1f} / {p_loops:.1f} | "
      f"{loop_speedup:.2f}x | {s['model_gflops']:.1f} | {s['sgemm_gflops']:.0f} | {100 * s['mfu']:.0f}% |")
PY
  done
  done
done
