#!/usr/bin/env bash
# What recomputing the loops in the backward pass (train.recompute_loops) saves and costs:
# the peak resident memory (GNU time's %M) and the time per step of bench-train with fixed
# loops, kept and recomputed side by side in one run (the two alternate per repetition, so
# machine noise hits both), one thread. Prints a markdown table of medians (docs/training.md
# keeps the measured one).
#   usage: [REPEATS=3] [LOOPS="8 32 64"] [LAYER=default|ouro] [BATCH=128]
#          scripts/bench_recompute.sh [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-4}"
repeats="${REPEATS:-3}"
bench=${BENCH:-./build/bench/bench-train}
[ -x "$bench" ] || bash scripts/build.sh
[ -x /usr/bin/time ] || { echo "GNU time (/usr/bin/time) is needed: apt-get install time" >&2; exit 2; }

layer=()
case "${LAYER:-default}" in
  default) ;;
  ouro)  # Ouro's layer options on the default width (docs/pretrained.md)
    for s in model.norm_type=rmsnorm model.norm_placement=pre_sandwich model.positions=rope \
      model.mlp=swiglu model.n_kv_heads=2 model.norm_in_loop=true model.bias=false \
      model.tied_head=false; do layer+=(--set "$s"); done ;;
  *) echo "LAYER must be default or ouro, not ${LAYER}" >&2; exit 2 ;;
esac

# One bench-train run: prints "peak_kib step_ms".
measure() {
  local loops=$1 penalty=$2 recompute=$3 log
  log=$(mktemp)
  /usr/bin/time -f '%M' -o "$log.time" "$bench" --steps "$steps" --warm 1 --threads 1 "${layer[@]}" \
    --set train.batch="${BATCH:-128}" --set phases.0.loops.sampler=fixed \
    --set phases.0.loops.n="$loops" --set phases.0.jacobian_penalty.weight="$penalty" --set phases.0.warmup=0 \
    --set train.recompute_loops="$recompute" | tail -n 1 >"$log"
  python3 -c 'import json,sys; print(open(sys.argv[2]).read().split()[-1], json.load(open(sys.argv[1]))["step_ms"])' \
    "$log" "$log.time"
  rm -f "$log" "$log.time"
}

echo "| layer | loops | penalty | kept peak (MiB) | recomputed peak (MiB) | kept / recomputed | kept ms/step | recomputed ms/step | time ratio |"
echo "|---|---|---|---|---|---|---|---|---|"
for loops in ${LOOPS:-8 32 64}; do
  for penalty in 0 0.1; do
    kept=(); recomputed=()
    for ((r = 0; r < repeats; r++)); do
      kept+=("$(measure "$loops" "$penalty" false)")
      recomputed+=("$(measure "$loops" "$penalty" true)")
    done
    python3 - "${LAYER:-default}" "$loops" "$penalty" "$repeats" "${kept[@]}" "${recomputed[@]}" <<'PY'
import statistics, sys
layer, loops, penalty, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rows = [tuple(map(float, x.split())) for x in sys.argv[5:]]
kept, rec = rows[:n], rows[n:]
med = lambda xs, i: statistics.median(x[i] for x in xs)
km, rm = med(kept, 0) / 1024, med(rec, 0) / 1024
kt, rt = med(kept, 1), med(rec, 1)
print(f"| {layer} | {loops} | {penalty} | {km:.0f} | {rm:.0f} | {km / rm:.2f} | {kt:.0f} | {rt:.0f} | {rt / kt:.2f} |")
PY
  done
done
