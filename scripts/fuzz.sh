#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang + ASan + UBSan and runs each for a
# bounded time. Usage: scripts/fuzz.sh [SECONDS_PER_TARGET (default 60)] [TARGET ...]
# Targets: config override depths jsonl bpe chat checkpoint safetensors text hf. A finding stops the script with a non-zero exit
# and leaves the crashing input under build-fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"; shift || true
targets=("$@"); [ "${#targets[@]}" -gt 0 ] || targets=(config override depths jsonl bpe chat checkpoint safetensors text hf)
bash scripts/setup.sh
CXX=clang++ cmake -S fuzz -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz --parallel "$(nproc)"
mkdir -p build-fuzz/artifacts
for t in "${targets[@]}"; do
  corpus="build-fuzz/corpus/$t"  # a working copy: the fuzzer adds to it, fuzz/corpus stays clean
  mkdir -p "$corpus"
  cp -n fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
  echo "fuzz: $t for ${seconds}s"
  max_len=4096 leaks=1
  # A small model.pt is 25 KB. LibTorch leaks small allocations on some of its own error
  # paths (as in scripts/sanitize.sh), so the loader target checks memory errors, not leaks.
  case "$t" in
    checkpoint | safetensors) max_len=32768 leaks=0 ;;
    bpe) max_len=16384 ;;  # a small tokenizer.json is a few kilobytes
  esac
  ASAN_OPTIONS="detect_leaks=$leaks" ./build-fuzz/fuzz_"$t" -max_total_time="$seconds" \
    -max_len="$max_len" -timeout=10 -detect_leaks="$leaks" \
    -artifact_prefix=build-fuzz/artifacts/"$t"- -print_final_stats=1 "$corpus" \
    2>build-fuzz/"$t".log || { tail -40 build-fuzz/"$t".log; echo "fuzz: $t FAILED"; exit 1; }
  grep -E "^stat::number_of_executed_units|^stat::new_units_added" build-fuzz/"$t".log |
    sed "s/^/fuzz: $t /"
done
echo "fuzz: no findings in ${targets[*]}"
