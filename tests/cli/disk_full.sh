#!/usr/bin/env bash
# A checkpoint write that fails as on a full disk (the fault point fail@checkpoint:N makes
# the write throw ENOSPC half way through) stops the run with exit 1, naming the file, the
# cause, the newest intact checkpoint and the resume command; that checkpoint loads, and
# --resume ends with the uninterrupted run's weights, bit for bit.
set -euo pipefail
train="$1"; config="$2"; work="$3"
rm -rf "$work"; mkdir -p "$work"
common=(--config "$config" --threads 1 --set phases.0.steps=80 --set phases.1.steps=80
        --set train.checkpoint_every=50 --set train.log_every=10)
export OMP_NUM_THREADS=1
"$train" "${common[@]}" --out "$work/straight" >/dev/null 2>&1
rc=0
STARS_FAULT=fail@checkpoint:100 "$train" "${common[@]}" --out "$work/cut" >"$work/cut.log" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || { echo "a failed checkpoint write must stop with exit 1, got $rc"; cat "$work/cut.log"; exit 1; }
for text in "cannot write $work/cut/checkpoints/step-00000100.pt" "No space left on device" \
            "newest intact checkpoint is $work/cut/checkpoints/step-00000050.pt" \
            "resume with: stars-train --resume $work/cut"; do
  grep -qF -- "$text" "$work/cut.log" || { echo "missing '$text' in:"; cat "$work/cut.log"; exit 1; }
done
[ "$(ls "$work/cut/checkpoints/" | grep -v '^step-00000000\.pt\(\.sum\)\?$\|^step-00000050\.pt\(\.sum\)\?$')" = "" ] ||
  { echo "only the intact checkpoints may remain:"; ls "$work/cut/checkpoints/"; exit 1; }
"$train" --resume "$work/cut" --threads 1 >"$work/resume.log" 2>&1 || { cat "$work/resume.log"; exit 1; }
grep -q "resuming $work/cut at step 50 " "$work/resume.log" || { cat "$work/resume.log"; exit 1; }
cmp "$work/straight/state_dict.pt" "$work/cut/state_dict.pt" || { echo "resumed weights differ"; exit 1; }
echo "disk full at step 100: stopped with exit 1, resumed from step 50, identical final weights"
