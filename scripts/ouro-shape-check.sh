#!/usr/bin/env bash
# Training steps of Ouro-1.4B's shape with random weights (configs/ouro-numina.json), bf16,
# micro-batch 1, on a synthetic tokenizer of the model's vocabulary and chat rows of
# TOKENS tokens (scripts/synthetic_chat.py): for each step kind, stars' memory estimate
# (what a refusal would name), then bench-train's step time and, on CUDA, the peak GPU
# memory nvidia-smi saw. One JSON line per kind: {"label": "memory|...", ...} after
# bench-train's own. Called by scripts/device-check.sh (stage 5); SETS shrink the model
# for its CPU smoke run.
#   usage: scripts/ouro-shape-check.sh BUILD_DIR DEVICE VOCAB TOKENS [KEY=VALUE ...]
set -uo pipefail
cd "$(dirname "$0")/.."
build="$1" dev="$2" vocab="$3" tokens="$4"; shift 4
python="${PYTHON:-$(command -v python3)}"
data="$build/ouro-shape-data"
"$python" scripts/synthetic_chat.py --vocab "$vocab" --tokens "$tokens" --rows 16 --out "$data"
base=(--config configs/ouro-numina.json --set data.tokenizer="$data"
      --set data.train_file="$data/chat.jsonl" --set train.batch=1 --set train.accumulation=1)
for s in "$@"; do base+=(--set "$s"); done
kinds=(
  "STARS, Ouro's tail to 16 loops, the last 4 keeping a graph|phases.0.loops.backprop_depth=4"
  "STARS, Ouro's tail to 16 loops, every loop recomputed|train.recompute_loops=true"
  "Ouro's step: 4 loops, no penalty|phases.0.loops.sampler=fixed phases.0.loops.n=4 phases.0.jacobian_penalty.weight=0"
)
for k in "${kinds[@]}"; do
  IFS='|' read -r name sets <<<"$k"
  args=("${base[@]}"); for s in $sets; do args+=(--set "$s"); done
  # A limit of one byte makes the memory check refuse and name its estimate.
  estimate=$(STARS_MEMORY_LIMIT=1 ./"$build"/bench/bench-train --device "$dev" --steps 1 \
    --warm 0 "${args[@]}" 2>&1 | grep -o "needs about [0-9.]* [KMGT]iB" | head -n 1)
  peak_log="$build/ouro-shape-memory.log"; : >"$peak_log"; poll=""
  if [ "$dev" = cuda ]; then
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 >"$peak_log" &
    poll=$!
  fi
  # The estimate would refuse a step beyond the host's memory; here the card decides.
  STARS_MEMORY_LIMIT=1e18 ./"$build"/bench/bench-train --device "$dev" --steps 3 --warm 2 \
    "${args[@]}" --label "stars|ouro-1.4b shape, $name (bf16)" 2>&1 | tail -n 3
  rc=${PIPESTATUS[0]}
  [ -n "$poll" ] && kill "$poll" 2>/dev/null
  peak=$(sort -n "$peak_log" | tail -n 1)
  echo "{\"label\": \"memory|ouro-1.4b shape, $name (bf16)\", \"estimate\": \"${estimate#needs about }\", \"peak_gpu_mib\": ${peak:-null}, \"rc\": $rc}"
done
