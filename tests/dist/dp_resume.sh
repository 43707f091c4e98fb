#!/usr/bin/env bash
# SIGINT on rank 0 of a 2-rank torchrun run stops every rank at the same step, with a
# checkpoint from rank 0; `--resume` under torchrun
# with the same world size then ends with the uninterrupted 2-rank run's weights, bit for bit.
# Usage: dp_resume.sh STARS_TRAIN CONFIG WORKDIR
set -euo pipefail
train="$1"; config="$2"; work="$3"
here="$(cd "$(dirname "$0")" && pwd)"
rm -rf "$work"; mkdir -p "$work"
export OMP_NUM_THREADS=1
# On the CPU: the ranks share one machine, which may have one GPU or none.
common=(--config "$config" --device cpu --threads 1 --set phases.0.steps=200 --set phases.1.steps=200
        --set train.log_every=10 --set train.checkpoint_every=1000)
torchrun() {
  local port; port=$("${PYTHON:-/usr/bin/python3}" "$here/free_port.py")
  "${PYTHON:-/usr/bin/python3}" -m torch.distributed.run --nproc_per_node=2 --master_addr=127.0.0.1 \
    --master_port="$port" --redirects 1 --tee 1 --log_dir "$work/logs-$port" --no_python "$train" "$@"
}
torchrun "${common[@]}" --out "$work/straight" >"$work/straight.log" 2>&1 || { cat "$work/straight.log"; exit 1; }
# Rank 0 raises SIGINT on itself after step 100 (a fault point, not a race with the clock);
# the stop flag travels in step 101's all-reduce, so both ranks stop after step 101.
STARS_FAULT=signal@step:100@rank:0 torchrun "${common[@]}" --out "$work/cut" >"$work/cut.log" 2>&1 ||
  { echo "the stopped run must exit 0"; cat "$work/cut.log"; exit 1; }
grep -qE "Resume with: (\./)?[^ ]*stars-train --resume $work/cut" "$work/cut.log" || { cat "$work/cut.log"; exit 1; }
[ ! -e "$work/cut/model.pt" ] || { echo "the stopped run must not be final"; exit 1; }
ckpt=$(ls "$work/cut/checkpoints/" | grep '\.pt$' | tail -1)
[ "$ckpt" = step-00000101.pt ] || { echo "want the stop at step 101, got $ckpt"; exit 1; }
torchrun --resume "$work/cut" --threads 1 >"$work/resume.log" 2>&1 || { cat "$work/resume.log"; exit 1; }
grep -q "resuming $work/cut at step" "$work/resume.log" || { cat "$work/resume.log"; exit 1; }
cmp "$work/straight/state_dict.pt" "$work/cut/state_dict.pt" || { echo "resumed weights differ"; exit 1; }
echo "2 ranks: stopped at $ckpt, resumed, identical final weights"
