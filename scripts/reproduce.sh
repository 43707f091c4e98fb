#!/usr/bin/env bash
# Reproduces the STARS arithmetic result at CPU scale: trains four LoopLMs on 4-digit
# addition and evaluates each at depths 1..100 with diagnostics, two runs at a time (one
# per core). Outputs under results/: eval JSON + CSV per run, accuracy and diagnostics
# figures, markdown tables (results/tables.md) and timings (results/timings.txt).
#   usage: scripts/reproduce.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1
bash scripts/build.sh
export OMP_NUM_THREADS=1
out=results
runs=runs/reproduce-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out" "$runs"
depths="1..16,20..100:4"
n=1000
extra=()
if [ "$quick" = 1 ]; then
  depths="1,2,4,8,16,32"
  n=100
  extra=(--set phases.0.steps=60 --set train.batch=32 --set train.eval_every=0 --set eval.n=16)
fi
: >"$out/timings.txt"

# name | config | overrides | extra overrides for --quick (shorter second phase)
runs_spec=(
  "fixed-pre|configs/baseline-fixed.json|--set model.norm_placement=pre|--set phases.1.steps=60"
  "fixed-post_sandwich|configs/baseline-fixed.json||--set phases.1.steps=60"
  "random-no-jsrr|configs/baseline-random.json||--set phases.1.steps=60"
  "stars|configs/arith.json||--set phases.1.steps=60 --set phases.1.jacobian_penalty.start_step=10"
)

train_and_eval() {
  local name=$1 config=$2 sets=$3 quick_sets=$4 start
  [ "$quick" = 1 ] || quick_sets=""
  start=$(date +%s)
  # shellcheck disable=SC2086
  ./build/apps/stars-train --config "$config" $sets ${extra[@]+"${extra[@]}"} $quick_sets \
    --out "$runs/$name" --threads 1 >"$runs/$name.train.log" 2>&1
  local mid
  mid=$(date +%s)
  ./build/apps/stars-eval --checkpoint "$runs/$name" --depths "$depths" --n "$n" --seed 777 \
    --diagnostics --threads 1 --out "$out/$name.json" --csv "$out/$name.csv" >"$runs/$name.eval.log" 2>&1
  echo "$name train $((mid - start))s eval $(( $(date +%s) - mid ))s" >>"$out/timings.txt"
}

t0=$(date +%s)
pids=()
for i in 0 1; do
  ( for j in $i $((i + 2)); do
      IFS='|' read -r name config sets quick_sets <<<"${runs_spec[$j]}"
      train_and_eval "$name" "$config" "$sets" "$quick_sets"
    done ) &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
echo "total $(( $(date +%s) - t0 ))s" >>"$out/timings.txt"

/usr/bin/python3 scripts/plot_depth.py "$out"/fixed-pre.json "$out"/fixed-post_sandwich.json \
  "$out"/random-no-jsrr.json "$out"/stars.json \
  --labels "fixed-4 pre,fixed-4 post-sandwich,random loops (no JSRR),STARS" \
  --out "$out/accuracy.png" --diagnostics "$out/diagnostics.png"
/usr/bin/python3 scripts/results_table.py "$out" fixed-pre fixed-post_sandwich random-no-jsrr stars \
  >"$out/tables.md"
cat "$out/timings.txt"
