#!/usr/bin/env bash
# torchrun with 2 ranks on loopback and global batch B trains the same weights as one
# process with batch B (within fp32 summation-order tolerance), and prints the same table.
# Usage: dp_equivalence.sh STARS_TRAIN CONFIG WORKDIR
set -euo pipefail
train="$1"; config="$2"; work="$3"
here="$(cd "$(dirname "$0")" && pwd)"
rm -rf "$work"; mkdir -p "$work"
export OMP_NUM_THREADS=1
# Measured: 1.2e-4 after these 60 steps (float summation order, amplified by AdamW's
# normalised updates); a real error in the gradient scaling gives differences of order lr.
# No JSRR here: each rank's penalty is on its own shard by design, so it is not expected to
# equal the penalty on the whole batch. Cross-entropy gradients must match.
# On the CPU: the ranks share one machine, which may have one GPU or none.
common=(--config "$config" --device cpu --threads 1 --set phases.0.steps=30 --set phases.1.steps=30
        --set phases.1.jacobian_penalty.weight=0)
"$train" "${common[@]}" --out "$work/one" >"$work/one.log" 2>&1
port=$("${PYTHON:-/usr/bin/python3}" "$here/free_port.py")
# torchrun of torch 1.13 on Python 3.11 needs explicit --redirects/--tee (its "0" default
# parses to None there); 2.x also spells --no_python as --no-python.
"${PYTHON:-/usr/bin/python3}" -m torch.distributed.run --nproc_per_node=2 --master_addr=127.0.0.1 \
  --master_port="$port" --redirects 1 --tee 1 --log_dir "$work/torchrun" \
  --no_python "$train" "${common[@]}" --out "$work/two" >"$work/two.log" 2>&1 ||
  { cat "$work/two.log"; exit 1; }
grep -q "rank 0/2 joined the gloo process group" "$work/two.log" || { cat "$work/two.log"; exit 1; }
[ "$(find "$work" -name state_dict.pt | wc -l)" -eq 2 ] || { echo "rank 1 must not write a run"; exit 1; }
"${PYTHON:-/usr/bin/python3}" "$here/../python/compare_state_dicts.py" "$work/one/state_dict.pt" \
  "$work/two/state_dict.pt" 3e-4
table() { sed -n '/accuracy by depth/,$p' "$1" | sed 's/^\[default0\]://'; }
diff <(table "$work/one.log") <(table "$work/two.log") || { echo "accuracy tables differ"; exit 1; }
