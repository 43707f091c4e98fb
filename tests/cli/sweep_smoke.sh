#!/usr/bin/env bash
# scripts/sweep.py on tiny runs: a shared first phase per seed, an axis crossed with seeds,
# evaluation and the aggregated report. Every run is stopped once at an exact step
# (STARS_FAULT), so the sweep must resume the shared runs, then the cell runs, and finally
# skip everything that is done.
set -euo pipefail
python="$1"; sweep="$2"; bin="$3"; config="$4"; work="$5"
rm -rf "$work"; mkdir -p "$work"
cat >"$work/spec.json" <<JSON
{"base": "$config", "seeds": [1, 2], "shared_phases": 1,
 "set": ["eval.depths=2", "train.checkpoint_every=4", "phases.1.steps=12"],
 "axes": {"phases.1.jacobian_penalty.weight": [0, 0.1]},
 "eval": {"depths": "1,2,4", "n": 16, "seed": 9, "diagnostics": true, "diag_n": 8},
 "summary": {"min_from": 2, "at": [4]}}
JSON
sweep() { STARS_FAULT=signal@step:6 "$python" "$sweep" "$work/spec.json" --out "$work/out" --bin "$bin" --jobs 2; }
fail() { echo "$1"; cat "$work/$2"; exit 1; }
# 1: the shared runs stop after step 6 (checkpoint at 7); the cells cannot start.
if sweep >"$work/1.log" 2>&1; then fail "an interrupted sweep must exit non-zero" 1.log; fi
[ -e "$work/out/shared/seed-1/checkpoints/step-00000007.pt" ] || fail "no checkpoint at step 7" 1.log
# 2: the shared runs resume and finish; the cells start and stop at step 6 in turn.
if sweep >"$work/2.log" 2>&1; then fail "the cells were interrupted: want non-zero" 2.log; fi
[ "$(grep -c 'resume shared/seed-' "$work/2.log")" = 2 ] || fail "shared runs not resumed" 2.log
[ "$(grep -c 'start runs/' "$work/2.log")" = 4 ] || fail "cells not started" 2.log
# 3: the cells resume and finish, and every run is evaluated and reported.
sweep >"$work/3.log" 2>&1 || fail "the sweep did not complete" 3.log
[ "$(grep -c 'skip shared/seed-' "$work/3.log")" = 2 ] || fail "finished shared runs redone" 3.log
[ "$(grep -c 'resume runs/' "$work/3.log")" = 4 ] || fail "cells not resumed" 3.log
[ "$(wc -l <"$work/out/sweep.csv")" = 13 ] || fail "want 4 runs x 3 depths in sweep.csv" 3.log
grep -q '^| weight=0.1 | 2 |' "$work/out/sweep.md" || fail "no row for weight=0.1 over 2 seeds" 3.log
for cell in weight=0 weight=0.1; do
  for seed in 1 2; do
    [ -e "$work/out/runs/$cell-seed$seed/model.pt" ] || fail "$cell seed $seed unfinished" 3.log
    [ -e "$work/out/evals/$cell-seed$seed.json" ] || fail "$cell seed $seed not evaluated" 3.log
    grep -qE '"train_seconds": [0-9]' "$work/out/evals/$cell-seed$seed.json" ||
      fail "$cell seed $seed: no training time in its evaluation" 3.log
  done
done
# The cells ran the second phase alone, from the shared weights, with the axis value.
grep -q '"weight": 0.1' "$work/out/runs/weight=0.1-seed1/config.json" || fail "axis not applied" 3.log
# 4: nothing left to do.
sweep >"$work/4.log" 2>&1 || fail "a finished sweep must exit 0" 4.log
! grep -qE 'start|resume|evaluated' "$work/4.log" || fail "a finished sweep redid work" 4.log
# A subset (--seeds, --cells) trains only that seed's shared phase and that cell; the
# report covers what is there.
"$python" "$sweep" "$work/spec.json" --out "$work/sub" --bin "$bin" --jobs 2 --seeds 2 \
  --cells weight=0.1 >"$work/sub.log" 2>&1 || fail "the subset did not complete" sub.log
[ -e "$work/sub/evals/weight=0.1-seed2.json" ] || fail "the chosen run was not evaluated" sub.log
[ ! -e "$work/sub/runs/weight=0-seed2" ] && [ ! -e "$work/sub/shared/seed-1" ] ||
  fail "a run outside the subset was trained" sub.log
grep -q '^| weight=0.1 | 1 |' "$work/sub/sweep.md" || fail "no row for the one run" sub.log
set +e
"$python" "$sweep" "$work/spec.json" --out "$work/sub" --bin "$bin" --seeds 3 2>"$work/sub3.log"
rc=$?
set -e
[ "$rc" = 2 ] && grep -q "not in the spec" "$work/sub3.log" || fail "unknown seed: exit $rc" sub3.log
# Bad specs: exit 2 with the reason.
echo '{"base": "x", "seeds": [1], "axis": {}}' >"$work/bad.json"
set +e
"$python" "$sweep" "$work/bad.json" --out "$work/bad" --bin "$bin" 2>"$work/bad.log"; rc=$?
set -e
[ "$rc" = 2 ] && grep -q "unknown keys \['axis'\]" "$work/bad.log" || fail "bad spec: exit $rc" bad.log
sed 's/"axes": {"phases.1/"axes": {"phases.0/' "$work/spec.json" >"$work/shared.json"
set +e
"$python" "$sweep" "$work/shared.json" --out "$work/shared" --bin "$bin" 2>"$work/shared.log"; rc=$?
set -e
[ "$rc" = 2 ] && grep -q "changes a shared phase" "$work/shared.log" || fail "shared-phase axis: exit $rc" shared.log
echo "sweep: resumed at each stage, evaluated, reported, then skipped"
