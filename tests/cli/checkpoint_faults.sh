#!/usr/bin/env bash
# A checkpoint write that goes wrong never costs more than the steps since the previous
# checkpoint: that checkpoint stays intact, --resume continues from it, and the run ends
# with the uninterrupted run's weights, bit for bit. MODE picks the fault point:
#   crash      exit@checkpoint:100  the process dies half way through the write (exit 3),
#                                   leaving a torn temporary file that is never renamed in
#   disk-full  fail@checkpoint:100  the write fails as on a full disk: the run stops with
#                                   exit 1, naming the file, the cause, the newest intact
#                                   checkpoint and the resume command
# Usage: checkpoint_faults.sh MODE STARS_TRAIN CONFIG WORKDIR
set -euo pipefail
mode="$1"; train="$2"; config="$3"; work="$4"
rm -rf "$work"; mkdir -p "$work"
common=(--config "$config" --threads 1 --set phases.0.steps=80 --set phases.1.steps=80
        --set train.checkpoint_every=50 --set train.log_every=10)
export OMP_NUM_THREADS=1
"$train" "${common[@]}" --out "$work/straight" >/dev/null 2>&1
case "$mode" in
  crash) fault=exit@checkpoint:100 want_rc=3 ;;
  disk-full) fault=fail@checkpoint:100 want_rc=1 ;;
  *) echo "unknown mode '$mode' (crash or disk-full)"; exit 2 ;;
esac
rc=0
STARS_FAULT=$fault "$train" "${common[@]}" --out "$work/cut" >"$work/cut.log" 2>&1 || rc=$?
[ "$rc" -eq "$want_rc" ] || { echo "$fault: want exit $want_rc, got $rc"; cat "$work/cut.log"; exit 1; }
ckpts="$work/cut/checkpoints"
[ ! -e "$ckpts/step-00000100.pt" ] || { echo "a failed write was renamed into place"; exit 1; }
if [ "$mode" = crash ]; then
  [ -e "$ckpts/step-00000100.pt.tmp" ] || { echo "no half-written checkpoint"; exit 1; }
else
  for text in "cannot write $ckpts/step-00000100.pt" "No space left on device" \
              "newest intact checkpoint is $ckpts/step-00000050.pt" \
              "resume with: " "stars-train --resume $work/cut"; do
    grep -qF -- "$text" "$work/cut.log" || { echo "missing '$text' in:"; cat "$work/cut.log"; exit 1; }
  done
  [ "$(ls "$ckpts" | grep -v '^step-000000[05]0\.pt\(\.sum\)\?$')" = "" ] ||
    { echo "only the intact checkpoints may remain:"; ls "$ckpts"; exit 1; }
fi
"$train" --resume "$work/cut" --threads 1 >"$work/resume.log" 2>&1 || { cat "$work/resume.log"; exit 1; }
grep -q "resuming $work/cut at step 50 " "$work/resume.log" || { cat "$work/resume.log"; exit 1; }
cmp "$work/straight/state_dict.pt" "$work/cut/state_dict.pt" || { echo "resumed weights differ"; exit 1; }
echo "$fault: exit $rc, resumed from step 50, identical final weights"
