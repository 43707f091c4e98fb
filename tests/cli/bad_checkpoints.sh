#!/usr/bin/env bash
# stars-eval on bad checkpoints: a JSON file, a truncated model.pt and an empty run
# directory each give a one-paragraph error naming the path and exit code 1 (no abort).
set -uo pipefail
eval_bin="$1"; run="$2"; work="$3"
rm -rf "$work"; mkdir -p "$work/empty-run"
head -c 2000 "$run/model.pt" >"$work/truncated.pt"
echo '{"not": "a checkpoint"}' >"$work/config.pt"
status=0
for bad in "$work/truncated.pt" "$work/config.pt" "$work/empty-run" "$work/missing.pt"; do
  err=$("$eval_bin" --checkpoint "$bad" --depths 1 --n 2 2>&1 >/dev/null)
  rc=$?
  if [ "$rc" -ne 1 ] || ! grep -q "$bad" <<<"$err" || grep -qi "terminate called\|core dumped" <<<"$err"; then
    echo "FAIL $bad: exit $rc: $err"; status=1
  else
    echo "ok   $bad: $err" | head -c 300; echo
  fi
done
exit $status
