#!/usr/bin/env bash
# A rank that dies or stalls after step 20 (a fault point: STARS_FAULT in its environment)
# must not hang the others: rank 0 exits
# non-zero with an error naming the failed collective, within train.dist_timeout_s.
# Usage: rank_failure.sh STARS_TRAIN CONFIG WORKDIR
set -euo pipefail
train="$1"; config="$2"; work="$3"
here="$(cd "$(dirname "$0")" && pwd)"
rm -rf "$work"; mkdir -p "$work"
export OMP_NUM_THREADS=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1
timeout_s=5

# Starts 2 ranks by hand (as a launcher would); rank 1 runs with the fault point $1.
trial() {
  local fault="$1" dir="$work/$2"
  export MASTER_PORT; MASTER_PORT=$("${PYTHON:-/usr/bin/python3}" "$here/free_port.py")
  # On the CPU: the ranks share one machine, which may have one GPU or none.
  local args=(--config "$config" --device cpu --threads 1 --set phases.0.steps=100000 --set train.log_every=1
              --set train.dist_timeout_s=$timeout_s --out "$dir")
  RANK=0 LOCAL_RANK=0 "$train" "${args[@]}" >"$dir.rank0.log" 2>&1 &
  local r0=$!
  STARS_FAULT="$fault" RANK=1 LOCAL_RANK=1 "$train" "${args[@]}" >"$dir.rank1.log" 2>&1 &
  local r1=$!
  local start=$SECONDS rc=0
  # Rank 0 must give up on its own; the watchdog only catches a hang.
  ( sleep $((timeout_s * 12)); kill -9 "$r0" 2>/dev/null ) & local watchdog=$!
  wait "$r0" || rc=$?
  local waited=$((SECONDS - start))
  kill "$watchdog" 2>/dev/null || true
  kill -9 "$r1" 2>/dev/null || true; wait "$r1" 2>/dev/null || true
  if [ "$rc" -eq 0 ] || [ "$rc" -eq 137 ]; then
    echo "$fault on rank 1: rank 0 exited with $rc after ${waited}s"; cat "$dir.rank0.log"; exit 1
  fi
  grep -q "rank 0/2: all-reduce of gradients failed" "$dir.rank0.log" ||
    { echo "$fault on rank 1: rank 0 exited with $rc after ${waited}s, no clear error:"
      tail -5 "$dir.rank0.log"; exit 1; }
  ls "$dir"/checkpoints/step-*.pt >/dev/null  # the run stays resumable
  echo "$fault on rank 1: rank 0 stopped with exit $rc after ${waited}s:"
  grep "failed" "$dir.rank0.log" | head -1 | cut -c1-200
}

trial exit@step:20 died
trial stall@step:20 stalled
