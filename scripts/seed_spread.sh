#!/usr/bin/env bash
# Trains one config over several seeds and kernel paths, two runs at a time (one thread
# each), then tabulates when each run learned and how it ended (scripts/spread_table.py).
#
#   bash scripts/seed_spread.sh OUT [--seeds "1 2 3 4 5"] [--paths "onednn:unpinned blas:pinned"]
#                               [--jobs 2] [-- stars-train arguments...]
#
# A path is GEMM:OPENBLAS. GEMM is the CPU matrix multiply of the linear layers
# (STARS_CPU_GEMM=onednn or blas); OPENBLAS is `pinned` (OPENBLAS_CORETYPE=Haswell, the
# AVX2 kernels) or `unpinned` (OpenBLAS picks its kernels for the CPU). The two change how
# matrix products round, and so a run's path through training. Runs whose model.pt exists
# are skipped, so a rerun only finishes what is missing. Arguments after `--` go to every
# stars-train run (e.g. `-- --config configs/tiny.json --set phases.1.steps=1`).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 OUT [--seeds LIST] [--paths LIST] [--jobs N] [-- ARGS]" >&2; exit 2; }
out=$1
shift
seeds="1 2 3 4 5"
paths="onednn:unpinned onednn:pinned blas:unpinned blas:pinned"
jobs=2
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) seeds=$2; shift 2 ;;
    --paths) paths=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "seed_spread.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[ -x build/apps/stars-train ] || bash scripts/build.sh
mkdir -p "$out"

run_one() {  # seed gemm openblas out extra...
  local seed=$1 gemm=$2 blas=$3 out=$4
  shift 4
  local name="seed${seed}-${gemm}-${blas}"
  [ -e "$out/$name/model.pt" ] && { echo "skip $name (done)"; return 0; }
  rm -rf "${out:?}/$name"
  local env_args=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE STARS_CPU_GEMM="$gemm" OMP_NUM_THREADS=1)
  [ "$blas" = pinned ] && env_args+=(OPENBLAS_CORETYPE=Haswell)
  echo "start $name"
  "${env_args[@]}" ./build/apps/stars-train --threads 1 --out "$out/$name" \
    --set "train.seed=$seed" "$@" >"$out/$name.log" 2>&1 || echo "FAILED $name (see $out/$name.log)"
  echo "done $name"
}
running=0
for seed in $seeds; do
  for path in $paths; do
    case "$path" in
      onednn:pinned | onednn:unpinned | blas:pinned | blas:unpinned) ;;
      *) echo "seed_spread.sh: path '$path' is not GEMM:OPENBLAS, (onednn|blas):(pinned|unpinned)" >&2; exit 2 ;;
    esac
    if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
    run_one "$seed" "${path%%:*}" "${path##*:}" "$out" "${extra[@]}" &
    running=$((running + 1))
  done
done
wait
python3 scripts/spread_table.py "$out" | tee "$out/spread.md"
