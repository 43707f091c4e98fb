#!/usr/bin/env bash
# stars-eval on bad checkpoints: a JSON file, a truncated model.pt, an empty run directory
# and a model.pt with one byte changed after it was written (caught by its checksum) each
# give a one-paragraph error naming the path and exit code 2, the code of every input the
# user named that is missing or of the wrong kind (no abort).
set -uo pipefail
eval_bin="$1"; run="$2"; work="$3"
rm -rf "$work"; mkdir -p "$work/empty-run"
head -c 2000 "$run/model.pt" >"$work/truncated.pt"
echo '{"not": "a checkpoint"}' >"$work/config.pt"
# A flipped byte (not a truncation) in a model that has its checksum beside it.
cp "$run/model.pt" "$work/flipped.pt"; cp "$run/model.pt.sum" "$work/flipped.pt.sum"
python3 - "$work/flipped.pt" <<'EOF'
import sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
data[len(data) // 2] ^= 0x01
open(path, "wb").write(data)
EOF
status=0
for bad in "$work/truncated.pt" "$work/config.pt" "$work/empty-run" "$work/missing.pt" \
           "$work/flipped.pt"; do
  err=$("$eval_bin" --checkpoint "$bad" --depths 1 --n 2 2>&1 >/dev/null)
  rc=$?
  if [ "$rc" -ne 2 ] || ! grep -q "$bad" <<<"$err" || grep -qi "terminate called\|core dumped" <<<"$err"; then
    echo "FAIL $bad: exit $rc: $err"; status=1
  else
    echo "ok   $bad: $err" | head -c 300; echo
  fi
done
flipped=$("$eval_bin" --checkpoint "$work/flipped.pt" --depths 1 --n 2 2>&1)
grep -q "is corrupted" <<<"$flipped" || { echo "FAIL: a flipped byte must be reported as corruption"; status=1; }
json=$("$eval_bin" --checkpoint "$work/config.pt" --depths 1 2>&1)
grep -q "it is a JSON file, not a checkpoint" <<<"$json" || { echo "FAIL: a JSON file must be named as one: $json"; status=1; }
exit $status
