#!/usr/bin/env bash
# The memory check of a data-parallel run counts each rank's share of train.batch (the
# global batch): under a limit between the estimates of 64 and 128 rows, one process with
# train.batch 128 is refused (exit 2) and two ranks with the same train.batch train.
# Usage: dp_memory_check.sh STARS_TRAIN CONFIG WORKDIR
set -euo pipefail
train="$1"; config="$2"; work="$3"
here="$(cd "$(dirname "$0")" && pwd)"
rm -rf "$work"; mkdir -p "$work"
export OMP_NUM_THREADS=1
common=(--config "$config" --device cpu --threads 1 --set phases.0.steps=2 --set phases.1.steps=2
        --set phases.0.loops.sampler=fixed --set phases.0.loops.n=64 --set eval.n=4)
# What the check estimates for a step of ROWS rows, in MiB (from its refusal under 1 byte).
estimate_mib() {
  STARS_MEMORY_LIMIT=1 "$train" "${common[@]}" --set train.batch="$1" --out "$work/refused" 2>&1 |
    grep -o "needs about [0-9.]* MiB" | head -n 1 | grep -o "[0-9.]*" || true
}
half=$(estimate_mib 64); whole=$(estimate_mib 128)
[ -n "$half" ] && [ -n "$whole" ] || { echo "no estimate in MiB in the refusals"; exit 1; }
limit=$("${PYTHON:-/usr/bin/python3}" -c "print(int(($half + $whole) / 2 * 2**20))")
echo "estimates: 64 rows $half MiB, 128 rows $whole MiB; limit $limit bytes"
rc=0
STARS_MEMORY_LIMIT=$limit "$train" "${common[@]}" --set train.batch=128 --out "$work/one" \
  >"$work/one.log" 2>&1 || rc=$?
[ "$rc" = 2 ] || { echo "one process with 128 rows: exit $rc, want 2"; cat "$work/one.log"; exit 1; }
grep -q "train.batch 128 x" "$work/one.log" || { cat "$work/one.log"; exit 1; }
port=$("${PYTHON:-/usr/bin/python3}" "$here/free_port.py")
STARS_MEMORY_LIMIT=$limit "${PYTHON:-/usr/bin/python3}" -m torch.distributed.run --nproc_per_node=2 \
  --master_addr=127.0.0.1 --master_port="$port" --redirects 1 --tee 1 --log_dir "$work/logs" \
  --no_python "$train" "${common[@]}" \
  --set train.batch=128 --out "$work/two" >"$work/two.log" 2>&1 ||
  { echo "two ranks of 64 rows were refused or failed"; tail -20 "$work/two.log"; exit 1; }
[ -s "$work/two/model.pt" ] || { echo "the 2-rank run wrote no model"; exit 1; }
echo "one process refused, two ranks trained"
