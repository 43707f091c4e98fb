#!/usr/bin/env bash
# stars-average on the tiny run: the mean of its last two saved steps is a checkpoint that
# stars-eval reads; bad requests exit 2 naming what is wrong, and no file is overwritten.
# Usage: average.sh STARS_AVERAGE STARS_EVAL TINY_RUN WORKDIR
set -uo pipefail
average="$1"; eval_bin="$2"; run="$3"; work="$4"
rm -rf "$work"; mkdir -p "$work"
status=0
check() {  # expected exit | text the output must contain | command...
  local want_rc="$1" want_text="$2"; shift 2
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" -ne "$want_rc" ] || ! grep -qF -- "$want_text" <<<"$out"; then
    echo "FAIL (exit $rc, want $want_rc, want text '$want_text'): $*"; echo "$out" | tail -3
    status=1
  else
    echo "ok   exit $rc: $(grep -F -- "$want_text" <<<"$out" | head -1 | cut -c1-150)"
  fi
}
check 0 "the mean of 2 checkpoints, step 20" "$average" --run "$run" --last 2 --out "$work/avg.pt"
check 0 "accuracy" "$eval_bin" --checkpoint "$work/avg.pt" --depths 1,4 --n 8
before=$(cksum <"$work/avg.pt")
check 2 "exists; averaging never overwrites" "$average" --run "$run" --out "$work/avg.pt"
[ "$(cksum <"$work/avg.pt")" = "$before" ] || { echo "FAIL: avg.pt was changed"; status=1; }
check 2 "fewer than the 99 asked for" "$average" --run "$run" --last 99 --out "$work/many.pt"
check 2 "give --run DIR" "$average" --out "$work/none.pt"
check 2 "excludes" "$average" --run "$run" --checkpoints "$run" --out "$work/both.pt"
check 2 "cannot read checkpoint '/nonexistent'" \
  "$average" --checkpoints "$run" /nonexistent --out "$work/missing.pt"
[ ! -e "$work/many.pt" ] && [ ! -e "$work/missing.pt" ] || { echo "FAIL: a refused request wrote a file"; status=1; }
exit $status
