#!/usr/bin/env bash
# A crash half way through a checkpoint write (the fault point exit@checkpoint:N truncates
# the temporary file and ends the process) leaves the previous checkpoint intact: --resume
# continues from it and the run ends with the uninterrupted run's weights, bit for bit.
set -euo pipefail
train="$1"; config="$2"; work="$3"
rm -rf "$work"; mkdir -p "$work"
common=(--config "$config" --threads 1 --set phases.0.steps=80 --set phases.1.steps=80
        --set train.checkpoint_every=50 --set train.log_every=10)
export OMP_NUM_THREADS=1
"$train" "${common[@]}" --out "$work/straight" >/dev/null 2>&1
rc=0
STARS_FAULT=exit@checkpoint:100 "$train" "${common[@]}" --out "$work/cut" >"$work/cut.log" 2>&1 || rc=$?
[ "$rc" -eq 3 ] || { echo "the crash must end the process (exit 3), got $rc"; cat "$work/cut.log"; exit 1; }
[ -e "$work/cut/checkpoints/step-00000100.pt.tmp" ] || { echo "no half-written checkpoint"; exit 1; }
[ ! -e "$work/cut/checkpoints/step-00000100.pt" ] || { echo "a torn checkpoint was renamed into place"; exit 1; }
"$train" --resume "$work/cut" --threads 1 >"$work/resume.log" 2>&1 || { cat "$work/resume.log"; exit 1; }
grep -q "resuming $work/cut at step 50 " "$work/resume.log" || { cat "$work/resume.log"; exit 1; }
cmp "$work/straight/state_dict.pt" "$work/cut/state_dict.pt" || { echo "resumed weights differ"; exit 1; }
echo "crash mid-checkpoint at step 100: resumed from step 50, identical final weights"
