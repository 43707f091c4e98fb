#!/usr/bin/env bash
# scripts/device_table.py on a fixture of device-check rows: stars beside the peer per
# precision, the peer's --sdpa as its own row, the penalty's share, the memory table, and
# an unparsable row (a failed run) named and left out.
# Usage: device_table.sh PYTHON SCRIPT FIXTURE
set -uo pipefail
out=$("$1" "$2" "$3" 2>&1) || { echo "exit $?"; echo "$out"; exit 1; }
status=0
for want in "| fixed-9 (bf16) | 10.0 | 15.0 | 1.50x |" \
            "| fixed-9 (bf16), peer --sdpa | 10.0 | 10.0 | 1.00x |" \
            "JSRR share of a fixed-9 + JSRR (bf16) step: stars 20%, peer 25%" \
            "| ouro-1.4b shape, Ouro's step: 4 loops, no penalty (bf16) | 108.3 GiB | 61234 | 0 |" \
            "bench.jsonl:9: not a result, left out"; do
  grep -qF -- "$want" <<<"$out" || { echo "FAIL: missing '$want'"; status=1; }
done
[ "$status" = 0 ] && echo "device_table: ok" || echo "$out"
exit $status
