#!/usr/bin/env bash
# Test-time scaling on a multi-step task. Trains a LoopLM on TASK (configs/TASK.json:
# `list_end`, following a linked list to its end, `list_end_mixed`, the same among lists of
# random lengths, or `chain`, left-to-right modular operations) with difficulties 1..K, first at a fixed depth (the baseline: the run's
# checkpoint at the end of that phase), then with STARS (random loops + JSRR), and
# evaluates both on difficulties 1..2K at the config's eval.depths, with and without
# adaptive exit; both also out to DEEP loops (1000 by default); reports where the answers go
# wrong and what the answer position attends to at each loop.
# Outputs under results/reasoning/TASK/, models under models/TASK-{fixed,stars}/.
#   usage: [TASK=list_end] [K=4] [DEEP=1000] scripts/reasoning.sh [--quick] [--run RUN_DIR]
#   (--run: skip training and evaluate an existing run; --quick: a smoke test that leaves
#   results/ and models/ alone)
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
task="${TASK:-list_end}"
config="configs/$task.json"
[ -f "$config" ] || { echo "reasoning.sh: TASK=$task has no config $config (list_end, list_end_mixed, chain)" >&2; exit 2; }
json() {  # a value from a config file: json FILE PYTHON_EXPRESSION_ON_c
  /usr/bin/python3 -c "import json,sys; c=json.load(open(sys.argv[1])); print($2)" "$1"
}
k="${K:-$(json "$config" "c['data']['max_difficulty']")}"
deep="${DEEP:-1000}"
bash scripts/build.sh
export OMP_NUM_THREADS=1
out=results/reasoning/$task
run=${existing:-runs/reasoning-$task-k$k-$(date +%Y%m%d-%H%M%S)}
sets=(); n=500; depths=$(json "$config" "c['eval']['depths']"); deep_depths="1..16,24,32,64,128,256,512,$deep"
if [ "$quick" = 1 ]; then
  sets=(--set phases.0.steps=40 --set phases.1.steps=20 --set phases.1.jacobian_penalty.start_step=5
        --set train.batch=32 --set train.eval_every=0 --set train.checkpoint_every=20)
  n=20; depths="1,4,16"; deep=32; deep_depths="1,4,$deep"
  out=runs/reasoning-quick-$task  # leaves results/ and models/ alone
fi
mkdir -p "$out" runs
t0=$(date +%s)
if [ -z "$existing" ]; then
  ./build/apps/stars-train --config "$config" --set data.max_difficulty="$k" \
    ${sets[@]+"${sets[@]}"} --out "$run" --threads 1 >"$run.train.log" 2>&1
fi
t1=$(date +%s)
fixed_steps=$(json "$run/config.json" "c['phases'][0]['steps']")
fixed_n=$(json "$run/config.json" "c['phases'][0]['loops']['n']")
baseline="$run/checkpoints/$(printf 'step-%08d.pt' "$fixed_steps")"
[ -f "$baseline" ] || { echo "reasoning.sh: no checkpoint at the end of the fixed phase ($baseline)"; exit 1; }

evaluate() {  # name checkpoint depths [extra flags]
  local name=$1 ckpt=$2 at=$3; shift 3
  ./build/apps/stars-eval --checkpoint "$ckpt" --difficulties "1..$((2 * k))" --depths "$at" --n "$n" \
    --seed 777 --threads 1 --out "$out/$name.json" --csv "$out/$name.csv" "$@" >"$out/$name.txt" 2>"$run.$name.eval.log"
}
evaluate fixed "$baseline" "$depths" & p1=$!
evaluate stars "$run" "$depths" & p2=$!
wait $p1 $p2
evaluate fixed-exit "$baseline" "$depths" --exit-tol 0.01 & p1=$!
evaluate stars-exit "$run" "$depths" --exit-tol 0.01 & p2=$!
wait $p1 $p2
evaluate stars-deep "$run" "$deep_depths" & p1=$!
evaluate fixed-deep "$baseline" "$deep_depths" & p2=$!
wait $p1 $p2
# Where the answers go wrong: each problem's answer at 1 loop, the fixed model's depth and
# the deepest evaluated depth, by difficulty (scripts/error_report.py).
last_depth=$(echo "$depths" | tr ',' '\n' | tail -n 1 | sed 's/.*\.\.//; s/:.*//')
errors() {  # name checkpoint
  ./build/apps/stars-eval --checkpoint "$2" --difficulties "1..$((2 * k))" --depths "1,$fixed_n,$last_depth" \
    --n "$n" --seed 777 --threads 1 --predictions "$run.$1.predictions.jsonl" >/dev/null 2>>"$run.$1.eval.log"
  /usr/bin/python3 scripts/error_report.py "$run.$1.predictions.jsonl" --out "$out/errors-$1.md" >/dev/null
}
errors fixed "$baseline" & p1=$!
errors stars "$run" & p2=$!
wait $p1 $p2
# What the answer position reads at each of 12 loops (scripts/attention_report.py).
attention() {  # name checkpoint
  ./build/apps/stars-eval --checkpoint "$2" --difficulties "1..$((2 * k))" --depths 12 \
    --n "$att_n" --attention-n "$att_n" --seed 777 --threads 1 --attention "$run.$1.attention.jsonl" \
    >/dev/null 2>>"$run.$1.eval.log"
  /usr/bin/python3 scripts/attention_report.py "$run.$1.attention.jsonl" --out "$out/attention-$1.md" >/dev/null
}
att_n=$((n < 100 ? n : 100))
attention fixed "$baseline" & p1=$!
attention stars "$run" & p2=$!
wait $p1 $p2
t2=$(date +%s)
echo "train $((t1 - t0))s eval $((t2 - t1))s" >"$out/timings.txt"

labels="fixed $fixed_n loops,STARS"
/usr/bin/python3 scripts/plot_depth.py "$out/fixed.json" "$out/stars.json" --labels "$labels" \
  --trained "$k" --out "$out/grid.png"
/usr/bin/python3 scripts/plot_depth.py "$out/fixed-exit.json" "$out/stars-exit.json" \
  --labels "$labels" --trained "$k" --out "$out/grid-exit.png" --loops "$out/loops.png"
/usr/bin/python3 scripts/plot_depth.py "$out/fixed-deep.json" "$out/stars-deep.json" --labels "$labels" \
  --trained "$k" --out "$out/grid-deep.png"
/usr/bin/python3 scripts/grid_table.py "$out/fixed.json" "$out/stars.json" "$out/fixed-exit.json" \
  "$out/stars-exit.json" "$out/fixed-deep.json" "$out/stars-deep.json" \
  --labels "$labels,fixed + exit 0.01,STARS + exit 0.01,fixed to $deep loops,STARS to $deep loops" \
  --trained "$k" >"$out/tables.md"
if [ "$quick" = 0 ]; then
  ship() {  # SOURCE DEST: a checkpoint with its checksum, so that the copy verifies like the source
    cp "$1" "$2"
    if [ -f "$1.sum" ]; then cp "$1.sum" "$2.sum"; else rm -f "$2.sum"; fi
  }
  mkdir -p "models/$task-fixed" "models/$task-stars"
  ship "$baseline" "models/$task-fixed/model.pt"
  cp "$run/config.json" "models/$task-fixed/config.json"
  ship "$run/model.pt" "models/$task-stars/model.pt"
  cp "$run/config.json" "$run/metrics.jsonl" "models/$task-stars/"
fi
cat "$out/tables.md"
