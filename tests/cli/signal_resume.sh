#!/usr/bin/env bash
# SIGINT during training (raised at an exact step through STARS_FAULT): the run finishes its step, writes a checkpoint, prints how to
# resume and exits 0; --resume then completes it, and its final weights equal those of an
# uninterrupted run (bit for bit on CPU with one thread).
set -euo pipefail
train="$1"; config="$2"; work="$3"
rm -rf "$work"; mkdir -p "$work"
common=(--config "$config" --threads 1 --set phases.0.steps=150 --set phases.1.steps=150
        --set train.checkpoint_every=1000 --set train.log_every=50)
OMP_NUM_THREADS=1 "$train" "${common[@]}" --out "$work/straight" >/dev/null 2>&1
# The signal is raised by the run itself after step 50 (a fault point), so the test does
# not depend on the machine's speed: the stop is agreed in step 51, which is checkpointed.
STARS_FAULT=signal@step:50 OMP_NUM_THREADS=1 "$train" "${common[@]}" --out "$work/cut" \
  >"$work/cut.log" 2>&1 || { echo "interrupted run exited with $?"; cat "$work/cut.log"; exit 1; }
grep -qE "Resume with: (\./)?[^ ]*stars-train --resume $work/cut" "$work/cut.log" || { cat "$work/cut.log"; exit 1; }
[ "$(ls "$work/cut/checkpoints/" | grep '\.pt$')" = "$(printf 'step-00000000.pt\nstep-00000051.pt')" ] ||
  { echo "want the start and step 51 checkpoints, got:"; ls "$work/cut/checkpoints/"; exit 1; }
[ ! -e "$work/cut/model.pt" ] || { echo "an interrupted run must not write the final model"; exit 1; }
OMP_NUM_THREADS=1 "$train" --resume "$work/cut" --threads 1 >"$work/resume.log" 2>&1
cmp "$work/straight/state_dict.pt" "$work/cut/state_dict.pt" || { echo "resumed weights differ"; exit 1; }
echo "signal + resume: identical final weights"
