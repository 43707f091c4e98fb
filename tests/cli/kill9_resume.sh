#!/usr/bin/env bash
# kill -9 at arbitrary moments (startup, mid-step, mid-checkpoint, final write): each time
# `--resume` continues from the last good checkpoint, and the run ends with the weights of
# an uninterrupted run, bit for bit (CPU, one thread). Checkpoints are written every step so
# that many kills land inside a checkpoint write.
set -euo pipefail
train="$1"; config="$2"; work="$3"
rm -rf "$work"; mkdir -p "$work"
common=(--threads 1 --set phases.0.steps=200 --set phases.1.steps=200 --set train.log_every=10
        --set train.checkpoint_every=1 --set train.keep_checkpoints=2 --set train.eval_every=0)
export OMP_NUM_THREADS=1
"$train" --config "$config" "${common[@]}" --out "$work/straight" >"$work/straight.log" 2>&1 || {
  echo "the uninterrupted run failed:"; tail -20 "$work/straight.log"; exit 1; }

# Delays (seconds) at which the process is killed: the first from its start, so that it may
# die before the run directory exists; every later one from the moment the run directory
# holds its config (resumable from then on), so that the kills land inside the run and the
# test resumes at least once however slow the machine (a sanitizer build starts slowly).
delays=(0.05 0.4 0.7 0.3 1.0 0.15 0.6)
wait_for_run() {  # until the run directory is resumable, or the process has ended
  while kill -0 "$pid" 2>/dev/null && [ ! -e "$work/cut/config.json" ]; do sleep 0.02; done
}
"$train" --config "$config" "${common[@]}" --out "$work/cut" >"$work/log.0" 2>&1 &
pid=$!
sleep "${delays[0]}"; kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
kills=1
for i in $(seq 1 $((${#delays[@]} - 1))); do
  [ -e "$work/cut/model.pt" ] && break
  if [ ! -e "$work/cut/config.json" ]; then  # killed before the run existed: start again
    rm -rf "$work/cut"
    "$train" --config "$config" "${common[@]}" --out "$work/cut" >"$work/log.$i" 2>&1 &
  else
    "$train" --resume "$work/cut" --threads 1 >"$work/log.$i" 2>&1 &
  fi
  pid=$!
  wait_for_run
  sleep "${delays[$i]}"; kill -9 "$pid" 2>/dev/null && kills=$((kills + 1)); wait "$pid" 2>/dev/null || true
done
if [ ! -e "$work/cut/config.json" ]; then
  rm -rf "$work/cut"
  "$train" --config "$config" "${common[@]}" --out "$work/cut" >"$work/log.final" 2>&1
else
  "$train" --resume "$work/cut" --threads 1 >"$work/log.final" 2>&1 || {
    echo "resume after kill -9 failed:"; cat "$work/log.final"; exit 1; }
fi
resumes=$(grep -l "resuming" "$work"/log.* | wc -l || true)
[ "$resumes" -ge 1 ] || { echo "no restart resumed the run: the kills did not test resuming"; exit 1; }
cmp "$work/straight/state_dict.pt" "$work/cut/state_dict.pt" || {
  echo "weights after $kills kills differ from the uninterrupted run"; exit 1; }
echo "kill -9: $kills kills, $resumes resumes, identical final weights"
