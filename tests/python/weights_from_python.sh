#!/usr/bin/env bash
# Weights edited in Python come back to stars: a run's model is loaded with stars_torch, its
# head scaled by 2 (an edit that changes the logits, not the argmax), saved as safetensors;
# stars-eval reads it and gives the run's accuracy, and stars-train --init starts from it.
# Usage: weights_from_python.sh PYTHON SOURCE_DIR STARS_TRAIN STARS_EVAL RUN WORK
set -euo pipefail
python="$1" src="$2" train="$3" eval="$4" run="$5" work="$6"
rm -rf "$work" && mkdir -p "$work"
PYTHONPATH="$src/python" "$python" - "$run" "$work/edited.safetensors" <<'PY'
import sys
import torch
import stars_torch as st

model = st.load(sys.argv[1])
with torch.no_grad():
    model.norm_f.weight.mul_(2)
    model.norm_f.bias.mul_(2)
st.save(model, sys.argv[2])
PY
accuracy() { "$eval" --checkpoint "$1" --depths 1,2,4 --n 64 2>/dev/null | tail -3; }
want=$(accuracy "$run") got=$(accuracy "$work/edited.safetensors")
[ "$want" = "$got" ] || { echo "accuracy from the edited weights differs:"; echo "$want"; echo "$got"; exit 1; }
"$train" --config "$run/config.json" --init "$work/edited.safetensors" --out "$work/run" \
  --threads 1 --set phases.0.steps=2 --set phases.1.steps=2 > "$work/train.log" 2>&1 ||
  { cat "$work/train.log"; exit 1; }
grep -q "initialised weights from $work/edited.safetensors" "$work/train.log" ||
  { echo "stars-train did not say it read the file"; cat "$work/train.log"; exit 1; }
echo "weights from Python: same accuracy by depth as the run; --init read them"
