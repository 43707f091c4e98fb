#!/usr/bin/env bash
# --resume with --set: a finished run's last phase is extended (and the run directory's
# config says so); logging and checkpoint cadence may change; anything else, or fewer
# steps, is refused with exit 2 and the way to start a new run instead.
set -euo pipefail
train="$1"; eval_bin="$2"; config="$3"; work="$4"
rm -rf "$work"; mkdir -p "$work"
fail() { echo "FAIL: $1"; [ -n "${2:-}" ] && cat "$2"; exit 1; }
common=(--config "$config" --threads 1 --set eval.depths=1)
OMP_NUM_THREADS=1 "$train" "${common[@]}" --out "$work/run" >/dev/null 2>&1
OMP_NUM_THREADS=1 "$train" --resume "$work/run" --threads 1 --set phases.1.steps=25 \
  --set train.log_every=7 >"$work/extend.log" 2>&1 || fail "extension failed" "$work/extend.log"
grep -q "resuming .* at step 20" "$work/extend.log" || fail "did not resume at step 20" "$work/extend.log"
grep -q "step 28/35" "$work/extend.log" || fail "no new cadence or no new total" "$work/extend.log"
grep -q '"steps": 25' "$work/run/config.json" || fail "config.json does not record the extension"
"$eval_bin" --checkpoint "$work/run" --depths 1 --n 2 >"$work/eval.log" 2>&1
grep -q "(step 35)" "$work/eval.log" || fail "the final model is not at step 35" "$work/eval.log"
# Now complete at 35: a plain resume says so.
OMP_NUM_THREADS=1 "$train" --resume "$work/run" >"$work/again.log" 2>&1 || fail "exit $?" "$work/again.log"
grep -q "is complete: all 35 steps" "$work/again.log" || fail "no 'complete' message" "$work/again.log"
refuse() {  # WANT_TEXT args...
  local want=$1 rc=0; shift
  "$train" --resume "$work/run" "$@" >"$work/refuse.log" 2>&1 || rc=$?
  [ "$rc" = 2 ] && grep -q -- "$want" "$work/refuse.log" || fail "want exit 2 naming '$want', got $rc" "$work/refuse.log"
}
refuse "--init RUN" --set model.d_model=8
refuse "--resume --set phases.0.steps" --set phases.0.steps=50
refuse "not shortened" --set phases.1.steps=5
refuse "drop --config and --out" --out "$work/other"
grep -q '"steps": 25' "$work/run/config.json" || fail "a refused resume changed config.json"
echo "resume: extended to 35 steps with a new cadence; complete; other changes refused"
