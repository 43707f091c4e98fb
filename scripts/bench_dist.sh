#!/usr/bin/env bash
# Data-parallel throughput on this machine at the arith.json size: one process (1 and 2
# threads) against two torchrun ranks of one thread each, in one run. Prints a markdown
# table (docs/performance.md keeps the measured one).
#   usage: scripts/bench_dist.sh [STEPS (default 40)]
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-40}"
bench=./build/bench/bench-train
[ -x "$bench" ] || bash scripts/build.sh
python="${PYTHON:-/usr/bin/python3}"
port=$("$python" tests/dist/free_port.py)
modes=(
  "fixed-4|--set phases.0.loops.sampler=fixed --set phases.0.loops.n=4 --set phases.0.jacobian_penalty.weight=0"
  "STARS (lognormal + JSRR)|--set phases.0.loops.sampler=lognormal --set phases.0.jacobian_penalty.weight=0.1"
)
echo "| mode | layout | ms/step | tokens/s | vs 1 process, 1 thread |"
echo "|---|---|---|---|---|"
for m in "${modes[@]}"; do
  IFS='|' read -r name sets <<<"$m"
  # shellcheck disable=SC2086
  one=$(OMP_NUM_THREADS=1 "$bench" --steps "$steps" --warm 3 --threads 1 $sets | tail -n 1)
  # shellcheck disable=SC2086
  two_threads=$(OMP_NUM_THREADS=2 "$bench" --steps "$steps" --warm 3 --threads 2 $sets | tail -n 1)
  # shellcheck disable=SC2086
  two_ranks=$(OMP_NUM_THREADS=1 "$python" -m torch.distributed.run --nproc_per_node=2 \
    --master_addr=127.0.0.1 --master_port="$port" --redirects 1 --tee 1 --log_dir /tmp/stars-bench-dist \
    --no_python "$bench" --steps "$steps" --warm 3 --threads 1 $sets 2>/dev/null |
    grep -o '{.*}' | tail -n 1)
  "$python" - "$name" "$one" "$two_threads" "$two_ranks" <<'PY'
import json, sys
name, rows = sys.argv[1], [json.loads(r) for r in sys.argv[2:]]
base = rows[0]["tokens_per_s"]
for layout, r in zip(["1 process, 1 thread", "1 process, 2 threads", "2 ranks x 1 thread (gloo)"], rows):
    print(f"| {name} | {layout} | {r['step_ms']:.0f} | {r['tokens_per_s']:.0f} | {r['tokens_per_s'] / base:.2f}x |")
PY
done
