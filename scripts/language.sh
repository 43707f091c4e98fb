#!/usr/bin/env bash
# Looped language modelling on real text: builds the fortunes corpus (scripts/text_corpus.py),
# trains two byte-level LoopLMs from configs/text.json side by side (one core each) for
# about the same time:
#   fixed: 4 loops for every step (FIXED_STEPS, default 2300 steps);
#   stars: the same first phase (STEPS0, default 1200 steps, identical to fixed's first
#          1200: same seed and data), then STARS_STEPS (default 500) steps of random loops
#          (Ouro's tail, log-normal 1.7/0.4 clamped to [1, 16]) with the Jacobian penalty,
#          whose steps cost about twice as much;
# then evaluates validation bits per byte at depths 1..64 (and 256 for STARS) with
# diagnostics, and samples at 1, 4 and 64 loops. Outputs under results/language/, the
# models under models/text-{fixed,stars}.
#   usage: [FIXED_STEPS=2300] [STEPS0=1200] [STARS_STEPS=500] scripts/language.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1
fixed_steps=${FIXED_STEPS:-2300}; steps0=${STEPS0:-1200}; stars_steps=${STARS_STEPS:-500}
out=results/language; windows=200; depths="1..8,12,16,24,32,48,64"
if [ "$quick" = 1 ]; then  # a smoke test: leaves results/ and models/ alone
  fixed_steps=30; steps0=20; stars_steps=10; out=runs/language-quick; windows=8; depths="1,4,16"
fi
bash scripts/build.sh
[ -f data/fortunes.txt ] || python3 scripts/text_corpus.py
export OMP_NUM_THREADS=1
stamp=$(date +%Y%m%d-%H%M%S)
fixed=runs/text-fixed-$stamp; stars=runs/text-stars-$stamp
mkdir -p "$out" runs
common=(--threads 1 --set eval.n=$windows --set "eval.depths=$depths")
t0=$(date +%s)
# The fixed-depth run: configs/text.json's first phase alone.
python3 -c "import json,sys; c=json.load(open('configs/text.json')); c['phases']=c['phases'][:1]; json.dump(c,sys.stdout,indent=1)" \
  >"runs/text-fixed-$stamp.config.json"
./build/apps/stars-train --config "runs/text-fixed-$stamp.config.json" "${common[@]}" \
  --set phases.0.steps="$fixed_steps" --out "$fixed" >"$fixed.log" 2>&1 &
p1=$!
./build/apps/stars-train --config configs/text.json "${common[@]}" --set phases.0.steps="$steps0" \
  --set phases.1.steps="$stars_steps" --out "$stars" >"$stars.log" 2>&1 &
p2=$!
wait $p1 $p2
t1=$(date +%s)

evaluate() {  # name run depths
  ./build/apps/stars-eval --checkpoint "$2" --depths "$3" --n "$windows" --diagnostics \
    --diag-n 16 --threads 1 --out "$out/$1.json" --csv "$out/$1.csv" >"$out/$1.txt" 2>"$2.eval.log"
}
evaluate fixed "$fixed" "$depths" &
p1=$!
evaluate stars "$stars" "$depths,128,256" &
p2=$!
wait $p1 $p2
t2=$(date +%s)
for name in fixed stars; do
  run=$fixed; [ "$name" = stars ] && run=$stars
  ./build/apps/stars-generate --checkpoint "$run" --prompt "The secret of life is" \
    --depths 1,4,64 --max-tokens 160 --temperature 0.8 --top-k 40 --seed 1 --threads 1 \
    >"$out/samples-$name.txt" 2>/dev/null
done
echo "train $((t1 - t0))s (two runs side by side) eval $((t2 - t1))s" >"$out/timings.txt"
for name in fixed stars; do
  run=$fixed; [ "$name" = stars ] && run=$stars
  grep -o '"train_seconds":[0-9.]*' "$run/metrics.jsonl" | tail -1 | sed "s/^/$name /" >>"$out/timings.txt"
done
/usr/bin/python3 - "$out" <<'PY'
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
out = sys.argv[1]
fig, ax = plt.subplots(figsize=(6, 4))
for name, label in (("fixed", "fixed 4 loops"), ("stars", "STARS")):
    rows = json.load(open(f"{out}/{name}.json"))["depths"]
    ax.plot([r["depth"] for r in rows], [r["bits_per_byte"] for r in rows], marker="o", label=label)
ax.set_xscale("log", base=2)
ax.set_xlabel("loops at evaluation")
ax.set_ylabel("validation bits per byte")
ax.axvline(4, color="grey", lw=0.5)
ax.legend()
fig.tight_layout()
fig.savefig(f"{out}/bpb.png", dpi=120)
PY
if [ "$quick" = 0 ]; then
  for name in fixed stars; do
    run=$fixed; [ "$name" = stars ] && run=$stars
    mkdir -p "models/text-$name"
    cp "$run/model.safetensors" "$run/config.json" "models/text-$name/"
    [ -f "$run/model.safetensors.sum" ] && cp "$run/model.safetensors.sum" "models/text-$name/"
  done
fi
cat "$out/fixed.txt" "$out/stars.txt" "$out/timings.txt"
