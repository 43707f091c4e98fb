#!/usr/bin/env bash
# Runs a set of ctest tests N times in a row and stops at the first failure, to show that
# tests pass whatever the machine's speed (run it idle, and under load with e.g.
# `stress --cpu 2` or a build on the other core).
#   usage: scripts/repeat_tests.sh [N (default 20)] [REGEX (default: the fault tests)]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20}
regex=${2:-'cli\.train_tiny|signal_then_resume|checkpoint_.*_then_resume|kill9_then_resume|eval_bad_checkpoints|dist\.dp_resume|dist\.rank_failure|Fault\.|ResumeFallsBack'}
[ -x build/tests/stars_tests ] || bash scripts/build.sh
count=$(cd build && ctest -N -R "$regex" | sed -n 's/^Total Tests: //p')
for i in $(seq 1 "$n"); do
  start=$(date +%s)
  if ! (cd build && ctest -R "$regex" --output-on-failure >"../build/repeat-$i.log" 2>&1); then
    echo "round $i of $n: FAILED (build/repeat-$i.log)"
    tail -40 "build/repeat-$i.log"
    exit 1
  fi
  echo "round $i of $n: $count tests passed in $(($(date +%s) - start)) s (load $(cut -d' ' -f1 /proc/loadavg))"
done
echo "all $n rounds passed ($count tests each)"
