#!/usr/bin/env bash
# What the JSRR term adds to a training step at the STARS sampler's mean depth: 9.44 loops,
# E[clamp(round(LogNormal(2.0, 0.7)), 1, 100)], interpolated between fixed-9 and fixed-10.
# Each repeat runs a step count without and with the penalty back to back (stars, then the
# PyTorch peer), so that machine noise hits both halves of a ratio alike; the table shows
# the median of the per-pair ratios. Prints a markdown table.
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
    --set phases.0.reg.weight="$3" | tail -n 1 | python3 -c "import json,sys; print(json.load(sys.stdin)['step_ms'])"
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
pairs = {9: [], 10: []}
for row in sys.argv[3:]:
    loops, plain, reg = row.split()
    pairs[int(loops)].append((float(plain), float(reg)))
med = lambda xs: statistics.median(xs)
share = {n: med([r / p - 1 for p, r in pairs[n]]) for n in pairs}
w = 9.44 - 9  # linear in the loop count: both step times grow by one loop's cost per loop
plain = {n: med([p for p, _ in pairs[n]]) for n in pairs}
reg = {n: med([r for _, r in pairs[n]]) for n in pairs}
at_mean = ((1 - w) * reg[9] + w * reg[10]) / ((1 - w) * plain[9] + w * plain[10]) - 1
print(f"| {threads} | {side} | {plain[9]:.0f} | {reg[9]:.0f} | {plain[10]:.0f} | {reg[10]:.0f} | "
      f"+{100 * share[9]:.1f}% | +{100 * share[10]:.1f}% | +{100 * at_mean:.1f}% |")
PY
  done
done
