#!/usr/bin/env bash
# The one script to run on the GPU machine (device tool), in this order, so that what
# matters most is done first if the time runs out:
#   1. build (scripts/device-build.sh; without c10d if only c10d fails to compile there)
#   2. the Cuda.* tests: CPU-CUDA agreement of the forward, the Jacobian products, the
#      penalty and its gradient, cached decoding and a short training run
#   3. speed at the paper's size (d_model 512, 8 heads, d_ff 1024, batch 512): bench-train
#      beside the PyTorch peer, the two alternating, fixed 9 loops and log-normal loops,
#      each with and without the penalty, in fp32, TF32 and bf16 (the peer's autocast, and
#      in bf16 its --sdpa too); stars with LibTorch's per-parameter AdamW
#      (train.adamw=loop) against the default; and the card's fp32 / TF32 / bf16 GEMM rates
#   4. a shape that fills the card: d_model 2048, a 4-layer looped block, 512-byte text
#      windows, batch 16, bf16 (data/fortunes.txt: carry it), fixed 4 loops and STARS
#   5. Ouro-1.4B's shape (configs/ouro-numina.json, random weights, a synthetic 49152-token
#      tokenizer and chat rows from scripts/synthetic_chat.py), bf16, 2048 tokens,
#      micro-batch 1: STARS steps with truncated backprop, then Ouro's fixed 4 loops
#      without the penalty; step time and peak GPU memory (nvidia-smi) against stars'
#      memory estimate
#   6. the main command on CUDA in bf16 (the embedded default, both phases) beside
#   7. the whole test suite, in what is left of BUDGET_S
# Writes at most 8 files under $OUT (default ./device-out): machine.txt, build.log,
# ctest-cuda.log, bench.jsonl, ouro.log, ctest.log, main.log, main-metrics.jsonl.
# scripts/device_table.py turns bench.jsonl into docs/performance.md's table.
#   usage: OUT=DIR [BUDGET_S=480] scripts/device-check.sh [BENCH_STEPS (default 20)]
#   SMOKE=1 runs the same stages on the CPU at a tiny size, to check the script itself
#   before device time is spent (PYTHON=/usr/bin/python3 on Debian, for its torch;
#   BUILD_DIR=build uses the build scripts/build.sh made instead of building again).
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-device-out}"; mkdir -p "$out"
out=$(cd "$out" && pwd)
steps="${1:-20}"
budget="${BUDGET_S:-480}"
python="${PYTHON:-$(command -v python3)}"
build="${BUILD_DIR:-build-device}"
start=$SECONDS
stage() { echo "[$((SECONDS - start)) s] $*"; }
left() { local l=$((budget - (SECONDS - start))); echo $((l > 10 ? l : 10)); }

if [ "${SMOKE:-0}" = 1 ]; then
  dev=cpu; size=(--d 32 --heads 2 --ff 64 --batch 16); main_steps=(--set phases.0.steps=20
    --set phases.1.steps=20 --set eval.n=16 --set eval.depths=1,4 --set train.eval_every=0)
  precisions=(fp32 bf16)  # TF32 is a CUDA mode
  large=(model.d_model=32 model.n_heads=2 model.d_ff=64 data.seq_len=32 model.max_len=32
         train.batch=4)
  ouro=(model.d_model=64 model.n_heads=4 model.n_kv_heads=2 model.d_ff=176
        model.n_core_layers=2 data.seq_len=64); ouro_vocab=1024; ouro_tokens=64
else
  dev=cuda; size=(--d 512 --heads 8 --ff 1024 --batch 512); main_steps=()
  precisions=(fp32 tf32 bf16)
  large=(model.d_model=2048 model.n_heads=16 model.d_ff=8192 data.seq_len=512
         model.max_len=512 train.batch=16)
  ouro=(data.seq_len=2048); ouro_vocab=49152; ouro_tokens=2048
fi
stars_size=(--set model.d_model="${size[1]}" --set model.n_heads="${size[3]}"
            --set model.d_ff="${size[5]}" --set train.batch="${size[7]}")

{ nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
  "$python" -c 'import os, torch; inc = os.path.join(os.path.dirname(torch.__file__), "include")
print("torch", torch.__version__, "cuda", torch.version.cuda, "| gloo headers in the wheel:",
      os.path.isdir(os.path.join(inc, "gloo")))'
  "${CXX:-c++}" --version | head -n 1; cmake --version | head -n 1; nvcc --version | tail -n 1
  nproc; } >"$out/machine.txt" 2>&1
cat "$out/machine.txt"

stage "1. build"
if [ "${SMOKE:-0}" = 1 ] && [ -n "${BUILD_DIR:-}" ]; then
  echo "smoke run: using $build as it is" >"$out/build.log"
elif ! bash scripts/device-build.sh "$build" >"$out/build.log" 2>&1; then
  grep -E "error:|FAILED:" "$out/build.log" | head -n 30
  if grep -q "FAILED: .*c10d_adapter" "$out/build.log"; then
    stage "c10d does not compile against this LibTorch: building without it"
    STARS_WITH_C10D=OFF bash scripts/device-build.sh "$build" >>"$out/build.log" 2>&1 ||
      grep -E "error:|FAILED:" "$out/build.log" | tail -n 20
  fi
fi
grep -E "^device-build:|stars: (c10d|oneDNN)" "$out/build.log"

stage "2. Cuda tests"
(cd "$build" && ctest -R '^Cuda\.' --output-on-failure --timeout 120) >"$out/ctest-cuda.log" 2>&1
grep -E "Test +#|tests passed|tests failed" "$out/ctest-cuda.log"

stage "3. speed, $dev, ${size[*]}"
# mode | stars overrides | peer flags (the peer's loop cap is 100; stars' is set to match)
modes=(
  "fixed-9|sampler=fixed n=9|--sampler fixed --loops 9|0"
  "fixed-9 + JSRR|sampler=fixed n=9|--sampler fixed --loops 9|0.1"
  "lognormal|sampler=lognormal mu=2.0 sigma=0.7 max=100|--sampler lognormal --mu 2.0 --sigma 0.7|0"
  "STARS (lognormal + JSRR)|sampler=lognormal mu=2.0 sigma=0.7 max=100|--sampler lognormal --mu 2.0 --sigma 0.7|0.1"
)
peer="../shared/peers/looplm_ref.py"; [ -f "$peer" ] || peer="shared/peers/looplm_ref.py"
[ -f "$peer" ] || echo "peer not found (../shared/peers or shared/peers): stars side only"
warm=5
# The peer under PyTorch >= 2.0 also runs with --sdpa (fused attention outside the penalty)
# in bf16, stars' own choice on CUDA there.
peer_sdpa=$("$python" -c 'import torch; print(int(int(torch.__version__.split(".")[0]) >= 2))')
peer_run() {  # NAME FLAGS REG MODE_FLAGS VARIANT
  # The peer times from its first step on: run it for WARM and for WARM + STEPS steps (the
  # same seeded draws), and keep the difference, the steady-state steps alone.
  for n in "$warm" $((warm + steps)); do
    # shellcheck disable=SC2086
    r=$("$python" "$peer" --device "$dev" --bench "$n" "${size[@]}" --dropout 0 --warmup 0 \
      $2 --reg "$3" $4 | tail -n 1)
    echo "{\"label\": \"peer|$1${5:+|$5}\", \"bench_steps\": $n, \"warm\": $warm, \"batch\": ${size[7]}, \"peer_flags\": \"$2\", \"peer_mode\": \"$4\", \"row\": $r}" |
      tee -a "$out/bench.jsonl"
  done
}
for precision in "${precisions[@]}"; do
  suffix=""; [ "$precision" = fp32 ] || suffix=" ($precision)"
  for m in "${modes[@]}"; do
    IFS='|' read -r name sets peer_flags reg <<<"$m"
    # TF32: the two modes that bound the rest (fixed depth and STARS).
    if [ "$precision" = tf32 ]; then case "$name" in fixed-9 | STARS*) ;; *) continue ;; esac; fi
    args=(); for s in $sets; do args+=(--set "phases.0.loops.$s"); done
    ./"$build"/bench/bench-train --device "$dev" --steps "$steps" --warm "$warm" "${stars_size[@]}" \
      "${args[@]}" --set phases.0.jacobian_penalty.weight="$reg" --set train.precision="$precision" \
      --label "stars|$name$suffix" | tail -n 1 | tee -a "$out/bench.jsonl"
    [ -f "$peer" ] || continue
    peer_run "$name$suffix" "$peer_flags" "$reg" "--precision $precision"
    if [ "$precision" = bf16 ] && [ "$peer_sdpa" = 1 ]; then
      peer_run "$name$suffix" "$peer_flags" "$reg" "--precision bf16 --sdpa" sdpa
    fi
  done
done
# The optimiser's kernel: the default (auto: fused on LibTorch >= 2.0, else foreach) against
# LibTorch's per-parameter loop, fixed 9 loops.
./"$build"/bench/bench-train --device "$dev" --steps "$steps" --warm "$warm" "${stars_size[@]}" \
  --set phases.0.loops.sampler=fixed --set phases.0.loops.n=9 \
  --set phases.0.jacobian_penalty.weight=0 --set train.adamw=loop --label "stars|fixed-9 (adamw loop)" |
  tail -n 1 | tee -a "$out/bench.jsonl"
if [ "$dev" = cuda ]; then
  "$python" - <<'PY' | tee -a "$out/bench.jsonl"
import json, time, torch
def rate(dtype, tf32):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    a = torch.randn(8192, 8192, device="cuda", dtype=dtype); b = torch.randn_like(a)
    for _ in range(3): a @ b
    torch.cuda.synchronize(); t = time.perf_counter()
    for _ in range(10): a @ b
    torch.cuda.synchronize()
    return 10 * 2 * 8192 ** 3 / (time.perf_counter() - t) / 1e12
print(json.dumps({"label": "card", "fp32_tflops": rate(torch.float32, False),
                  "tf32_tflops": rate(torch.float32, True), "bf16_tflops": rate(torch.bfloat16, False)}))
PY
fi

stage "4. a shape that fills the card: ${large[*]}, bf16"
large_sets=(); for s in "${large[@]}"; do large_sets+=(--set "$s"); done
for m in "fixed-4|sampler=fixed n=4|0" "STARS|sampler=lognormal mu=2.0 sigma=0.7 max=16|0.1"; do
  IFS='|' read -r name sets reg <<<"$m"
  args=(); for s in $sets; do args+=(--set "phases.0.loops.$s"); done
  ./"$build"/bench/bench-train --device "$dev" --steps 5 --warm 2 --config configs/text.json \
    "${large_sets[@]}" --set model.n_core_layers=4 --set train.precision=bf16 "${args[@]}" \
    --set phases.0.jacobian_penalty.weight="$reg" --label "stars|large, $name (bf16)" |
    tail -n 1 | tee -a "$out/bench.jsonl"
done

stage "5. Ouro-1.4B's shape (${ouro[*]}), bf16, micro-batch 1"
bash scripts/ouro-shape-check.sh "$build" "$dev" "$ouro_vocab" "$ouro_tokens" "${ouro[@]}" \
  >"$out/ouro.log" 2>&1
grep '^{' "$out/ouro.log" | tee -a "$out/bench.jsonl"
grep -E "error|out of memory" "$out/ouro.log" | head -n 6

stage "6-7. the main command on $dev in bf16, beside the whole suite (${budget} s budget, $(left) s left)"
main_out="$build/runs/main"; rm -rf "$main_out"
timeout "$(left)" ./"$build"/apps/stars-train --device "$dev" --threads 1 --out "$main_out" \
  --set train.precision=bf16 "${main_steps[@]}" >"$out/main.log" 2>&1 &
main_pid=$!
# One OpenMP thread per test, as scripts/test.sh runs them: with 16 tests of 16 threads each
# on 16 cores, two CPU decoding tests took 134 s and over 150 s (1.5 and 2.5 s at one thread).
(cd "$build" && OMP_NUM_THREADS=1 timeout "$(left)" ctest --output-on-failure \
  --parallel "$(nproc)" --timeout 150 -E '^Cuda\.') >"$out/ctest.log" 2>&1
grep -E "tests passed|tests failed|Failed|\(Timeout\)|Total Test time" "$out/ctest.log" | head -n 30
wait "$main_pid"; echo "main command: rc $?"
cp "$main_out/metrics.jsonl" "$out/main-metrics.jsonl" 2>/dev/null
tail -n 25 "$out/main.log"
stage "done"
