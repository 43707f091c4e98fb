#!/usr/bin/env bash
# What the JSRR term adds to a training step at the STARS sampler's mean depth: 9.44 loops,
# E[clamp(round(LogNormal(2.0, 0.7)), 1, 100)], interpolated between fixed-9 and fixed-10.
# Each repeat runs a step count without and with the penalty back to back (stars, then the
# PyTorch peer), so that machine noise hits both halves of a ratio alike; the table shows
# the median step times and the median of the per-pair ratios (at 9.44 loops: the median
# over repeats of the ratio interpolated within each repeat). Prints a markdown table.
#   usage: [THREADS="1 2"] [REPEATS=5] scripts/bench_jsrr.sh [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-20}"
repeats="${REPEATS:-5}"
peer="${PEER:-../shared/peers/looplm_ref.py}"
bench=./build/bench/bench-train
[ -x "$bench" ] || bash scripts/build.sh
[ -f "$peer" ] || { echo "peer not found at $peer (set PEER=...)" >&2; exit 2; }

stars_ms() {  # threads loops reg
  OMP_NUM_THREADS=$1 "$bench" --steps "$steps" --warm 2 --threads "$1" \
    --set phases.0.loops.sampler=fixed --set phases.0.loops.n="$2" \
    --set phases.0.jacobian_penalty.weight="$3" | tail -n 1 | python3 -c "import json,sys; print(json.load(sys.stdin)['step_ms'])"
}
peer_ms() {  # threads loops reg
  OMP_NUM_THREADS=$1 /usr/bin/python3 "$peer" --bench "$steps" --d 192 --heads 6 --ff 384 \
    --batch 128 --dropout 0 --warmup 0 --threads "$1" --sampler fixed --loops "$2" --reg "$3" |
    tail -n 1 | python3 -c "import json,sys; print(json.load(sys.stdin)['step_ms'])"
}

echo "| threads | side | ms/step fixed-9 | with JSRR | ms/step fixed-10 | with JSRR | JSRR adds, fixed-9 | fixed-10 | at 9.44 loops |"
echo "|---|---|---|---|---|---|---|---|---|"
for threads in ${THREADS:-1 2}; do
  for side in stars peer; do
    rows=()
    for ((r = 0; r < repeats; r++)); do
      for loops in 9 10; do
        rows+=("$loops $("${side}_ms" "$threads" "$loops" 0) $("${side}_ms" "$threads" "$loops" 0.1)")
      done
    done
    python3 - "$threads" "$side" "${rows[@]}" <<'PY'
import statistics, sys
threads, side = sys.argv[1], sys.argv[2]
runs = [row.split() for row in sys.argv[3:]]  # per repeat: fixed-9 then fixed-10 pairs
runs = [(int(n), float(plain), float(reg)) for n, plain, reg in runs]
by = {n: [(p, r) for m, p, r in runs if m == n] for n in (9, 10)}
w = 9.44 - 9  # both step times grow by one loop's cost per loop
share = {n: statistics.median(r / p - 1 for p, r in by[n]) for n in by}
# Within one repeat the four runs are adjacent in time: interpolate there, then take the median.
at_mean = statistics.median(((1 - w) * r9 + w * r10) / ((1 - w) * p9 + w * p10) - 1
                            for (p9, r9), (p10, r10) in zip(by[9], by[10]))
ms = {n: (statistics.median(p for p, _ in by[n]), statistics.median(r for _, r in by[n])) for n in by}
print(f"| {threads} | {side} | {ms[9][0]:.0f} | {ms[9][1]:.0f} | {ms[10][0]:.0f} | {ms[10][1]:.0f} | "
      f"+{100 * share[9]:.1f}% | +{100 * share[10]:.1f}% | +{100 * at_mean:.1f}% |")
PY
  done
done
