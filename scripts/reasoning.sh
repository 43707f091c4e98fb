#!/usr/bin/env bash
# Test-time scaling on a multi-step task: trains a LoopLM on `chain` (left-to-right modular
# operations) with 1..K steps (K=2 by default: docs/reasoning.md says why), first at a
# fixed depth of 6 loops (the baseline: the run's checkpoint at the end of that phase),
# then with STARS (log-normal loops + JSRR), and evaluates both on 1..2K steps at depths
# 1..64 (8x the baseline's training depth), with and without adaptive exit.
# Outputs under results/reasoning/, models under models/.
#   usage: [K=2] scripts/reasoning.sh [--quick] [--run EXISTING_RUN_DIR (skip training)]
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0; existing=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --run) existing="$2"; shift ;;
    *) echo "reasoning.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
k="${K:-2}"
bash scripts/build.sh
export OMP_NUM_THREADS=1
out=results/reasoning
run=${existing:-runs/reasoning-k$k-$(date +%Y%m%d-%H%M%S)}
sets=(); n=500; depths="1..8,10,12,16,24,32,48,64"
if [ "$quick" = 1 ]; then
  sets=(--set phases.0.steps=40 --set phases.1.steps=20 --set phases.1.jacobian_penalty.start_step=5
        --set train.batch=32 --set train.eval_every=0 --set train.checkpoint_every=20)
  n=20; depths="1,4,16"
  out=runs/reasoning-quick  # a smoke test: leaves results/ and models/ alone
fi
mkdir -p "$out" runs
t0=$(date +%s)
if [ -z "$existing" ]; then
  ./build/apps/stars-train --config configs/chain.json --set data.max_difficulty="$k" \
    ${sets[@]+"${sets[@]}"} --out "$run" --threads 1 >"$run.train.log" 2>&1
fi
t1=$(date +%s)
fixed_steps=$(/usr/bin/python3 -c "import json; print(json.load(open('$run/config.json'))['phases'][0]['steps'])")
baseline="$run/checkpoints/$(printf 'step-%08d.pt' "$fixed_steps")"
[ -f "$baseline" ] || { echo "reasoning.sh: no checkpoint at the end of the fixed phase ($baseline)"; exit 1; }

evaluate() {  # name checkpoint [extra flags]
  local name=$1 ckpt=$2; shift 2
  ./build/apps/stars-eval --checkpoint "$ckpt" --difficulties "1..$((2 * k))" --depths "$depths" --n "$n" \
    --seed 777 --threads 1 --out "$out/$name.json" --csv "$out/$name.csv" "$@" >"$out/$name.txt" 2>"$run.$name.eval.log"
}
evaluate fixed "$baseline" & p1=$!
evaluate stars "$run" & p2=$!
wait $p1 $p2
evaluate fixed-exit "$baseline" --exit-tol 0.01 & p1=$!
evaluate stars-exit "$run" --exit-tol 0.01 & p2=$!
wait $p1 $p2
# Where the answers go wrong: each problem's answer at 1 loop, the fixed model's depth and 64
# loops, reported by difficulty with the residues mod 2 and mod 5 (scripts/error_report.py).
fixed_n=$(/usr/bin/python3 -c "import json; print(json.load(open('$run/config.json'))['phases'][0]['loops']['n'])")
errors() {  # name checkpoint
  ./build/apps/stars-eval --checkpoint "$2" --difficulties "1..$((2 * k))" --depths "1,$fixed_n,64" \
    --n "$n" --seed 777 --threads 1 --predictions "$run.$1.predictions.jsonl" >/dev/null 2>>"$run.$1.eval.log"
  /usr/bin/python3 scripts/error_report.py "$run.$1.predictions.jsonl" --out "$out/errors-$1.md" >/dev/null
}
errors fixed "$baseline" & p1=$!
errors stars "$run" & p2=$!
wait $p1 $p2
t2=$(date +%s)
echo "train $((t1 - t0))s eval $((t2 - t1))s" >"$out/timings.txt"

/usr/bin/python3 scripts/plot_depth.py "$out/fixed.json" "$out/stars.json" --labels "fixed 6 loops,STARS" \
  --trained "$k" --out "$out/grid.png"
/usr/bin/python3 scripts/plot_depth.py "$out/fixed-exit.json" "$out/stars-exit.json" \
  --labels "fixed 6 loops,STARS" --trained "$k" --out "$out/grid-exit.png" --loops "$out/loops.png"
/usr/bin/python3 scripts/grid_table.py "$out/fixed.json" "$out/stars.json" "$out/stars-exit.json" \
  --labels "fixed 6 loops,STARS,STARS + exit 0.01" >"$out/tables.md"
if [ "$quick" = 0 ]; then
  mkdir -p models/chain-fixed models/chain-stars
  cp "$baseline" models/chain-fixed/model.pt
  cp "$run/config.json" models/chain-fixed/config.json
  cp "$run/model.pt" "$run/config.json" "$run/metrics.jsonl" models/chain-stars/
fi
cat "$out/tables.md"
