#!/usr/bin/env bash
# Ctrl-C at random moments of a default-size run with the Jacobian penalty: whenever the
# signal lands (inside a GEMM, a backward pass, a checkpoint write, or after the run has
# finished), the process exits 0, and --resume completes the run with the weights of an
# uninterrupted one. (An asynchronous signal handler once crashed such runs in malloc.)
set -euo pipefail
train="$1"; work="$2"; trials="${3:-3}"
rm -rf "$work"; mkdir -p "$work"
common=(--threads 1 --set phases.0.steps=30 --set phases.0.until.accuracy=0
        --set phases.1.steps=30 --set phases.1.jacobian_penalty.start_step=0
        --set train.checkpoint_every=1000 --set eval.depths=4 --set eval.n=16)
OMP_NUM_THREADS=1 "$train" "${common[@]}" --out "$work/straight" >/dev/null 2>&1
for t in $(seq 1 "$trials"); do
  OMP_NUM_THREADS=1 "$train" "${common[@]}" --out "$work/cut$t" >"$work/cut$t.log" 2>&1 &
  pid=$!
  sleep "$((RANDOM % 4)).$((RANDOM % 10))"
  kill -INT "$pid" 2>/dev/null || true
  rc=0; wait "$pid" || rc=$?
  [ "$rc" = 0 ] || { echo "trial $t: exit $rc after SIGINT"; tail -5 "$work/cut$t.log"; exit 1; }
  OMP_NUM_THREADS=1 "$train" --resume "$work/cut$t" --threads 1 >"$work/resume$t.log" 2>&1 ||
    { echo "trial $t: resume failed"; tail -5 "$work/resume$t.log"; exit 1; }
  cmp -s "$work/straight/state_dict.pt" "$work/cut$t/state_dict.pt" ||
    { echo "trial $t: resumed weights differ"; exit 1; }
  echo "trial $t: $(grep -o 'stopped at step [0-9]*' "$work/cut$t.log" || echo 'finished before the signal'), resumed to the same weights"
done
