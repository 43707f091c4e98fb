#!/usr/bin/env bash
# Bad input wherever a user can type or point: each case must exit with the stated code,
# say what is wrong in one paragraph that names the culprit, and never abort or dump core.
# Usage: bad_inputs.sh STARS_TRAIN STARS_EVAL TINY_RUN CONFIG WORKDIR
set -uo pipefail
train="$1"; eval_bin="$2"; run="$3"; config="$4"; work="$5"
rm -rf "$work"; mkdir -p "$work"
printf '{"num1": 12, "num2": 34}\n{"num1": 12, "num2": }\n' >"$work/bad.jsonl"
printf '{"model": {"d_model": 1e999}}' >"$work/overflow.json"
status=0
# expected exit | text the message must contain | command...
check() {
  local want_rc="$1" want_text="$2"; shift 2
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" -ne "$want_rc" ] || ! grep -qF -- "$want_text" <<<"$out" ||
     grep -qiE "terminate called|core dumped|Aborted|AddressSanitizer" <<<"$out"; then
    echo "FAIL (exit $rc, want $want_rc, want text '$want_text'): $*"; echo "$out" | tail -3
    status=1
  else
    echo "ok   exit $rc: $(grep -F -- "$want_text" <<<"$out" | head -1 | cut -c1-150)"
  fi
}
check 2 "--threads: Value abc not in range 0 to 1024" "$train" --threads abc
check 2 "--bogus" "$train" --bogus
check 2 "train.adamw = fused on cpu" "$train" --config "$config" --set train.adamw=fused \
  --out "$work/fused"
check 2 "not valid JSON" "$train" --config "$work/overflow.json"
check 2 "'model.d_model' is a value" "$train" --set model.d_model.x=1 --print-config
check 2 "drop --config" "$train" --resume "$run" --config "$config"
check 2 "holds no config.json" "$train" --resume "$work"
check 2 "already holds a run" "$train" --config "$config" --out "$run"
check 2 "choose a writable --out" "$train" --config "$config" --out /proc/stars-forbidden/run
check 2 "train.batch = 15 is the global batch" \
  env WORLD_SIZE=2 RANK=0 MASTER_PORT=1 "$train" --config "$config" --set train.batch=15 --out "$work/odd"
check 2 "WORLD_SIZE='two'" env WORLD_SIZE=two "$train" --config "$config" --out "$work/ws"
check 2 "data.min_difficulty/max_difficulty" \
  "$train" --config "$config" --set data.task=chain --set data.max_difficulty=100 --out "$work/range"
check 2 "STARS_CPU_GEMM='onedn' is not one of blas, onednn" \
  env STARS_CPU_GEMM=onedn "$train" --config "$config" --out "$work/gemm"
check 2 "STARS_CPU_GEMM='onedn' is not one of blas, onednn" \
  env STARS_CPU_GEMM=onedn "$eval_bin" --checkpoint "$run" --depths 1
# A named file that is missing, of the wrong kind or does not fit: exit 2, like a bad flag.
check 2 "does not fit this model: tensor" "$train" --init "$run" --out "$work/init"
check 2 "cannot read checkpoint '/nonexistent'" "$train" --init /nonexistent --out "$work/init2"
check 2 "bad.jsonl:2" "$train" --config "$config" --set "data.train_file=$work/bad.jsonl" --out "$work/jl"
check 2 "bad.jsonl:2" "$eval_bin" --checkpoint "$run" --data "$work/bad.jsonl" --depths 1
check 2 "it is a JSON file, not a checkpoint (a config?" "$eval_bin" --checkpoint "$config" --depths 1
# Flag parse errors: the tool's prefix, the nearest flag, exit 2.
check 2 "stars-eval: error: The following arguments were not expected" "$eval_bin" --checkpoint "$run" --depth 4
check 2 "(did you mean --depths?)" "$eval_bin" --checkpoint "$run" --depth 4
check 2 "(did you mean --print-config?)" "$train" --print-confg
# A prompt unlike the training prompts is answered with a warning that says so.
printf '{"prompt": "1+2=", "answer": "3"}\n{"prompt": "12+34=", "answer": "46"}\n' >"$work/short.jsonl"
check 0 "1 of 2 prompts (the first: \"1+2=\") are outside the format this model was trained on" \
  "$eval_bin" --checkpoint "$run" --data "$work/short.jsonl" --depths 1
# --quiet means the same in every tool: no info lines, the results still printed.
out=$("$eval_bin" --checkpoint "$run" --depths 1,2 --n 4 --quiet 2>&1)
if grep -q "\[info\]" <<<"$out" || ! grep -q "accuracy" <<<"$out"; then
  echo "FAIL: stars-eval --quiet: $out"; status=1
else
  echo "ok   stars-eval --quiet prints the table and no info line"
fi
check 2 "outside [1, 99]" "$eval_bin" --checkpoint "$run" --task pointer --difficulties 1..200
check 2 "1..x" "$eval_bin" --checkpoint "$run" --depths 1..x
check 2 "STARS_FAULT='boom' is not a fault point" env STARS_FAULT=boom "$train" --config "$config" --out "$work/fault"
# Numbers outside their range are refused with the range, never silently replaced.
check 2 "--threads: Value -3 not in range 0 to 1024" "$train" --threads -3 --print-config
check 2 "--n: Value -1 not in range 1 to" "$eval_bin" --checkpoint "$run" --n -1
check 2 "--n: Value 0 not in range 1 to" "$eval_bin" --checkpoint "$run" --n 0
check 2 "--attention-queries: some" "$eval_bin" --checkpoint "$run" --attention-queries some
check 2 "--batch: Value 0 not in range 1 to" "$eval_bin" --checkpoint "$run" --batch 0
check 2 "--threads: Value -3 not in range 0 to 1024" "$eval_bin" --checkpoint "$run" --threads -3
check 2 "--exit-tol: must be a number >= 0 (0: off), got -1" "$eval_bin" --checkpoint "$run" --exit-tol -1
check 2 "--exit-tol: must be a number >= 0 (0: off), got abc" "$eval_bin" --checkpoint "$run" --exit-tol abc
check 2 "--digits: Value 0 not in range 1 to 9" "$eval_bin" --checkpoint "$run" --digits 0
check 2 "--seed: Value -5 not in range 0 to 2147483647" "$eval_bin" --checkpoint "$run" --seed -5
# Configs that cannot fit in memory are refused before anything is allocated (exit 2), with
# both numbers and the keys to change; the limit is pinned so the cases hold on any machine.
fits() { env STARS_MEMORY_LIMIT=20000000000 "$@"; }  # 20 GB
check 2 "or train.batch" fits "$train" --config "$config" --set phases.0.loops.n=100000 --out "$work/oom1"
check 2 "phases.0.loops.n" fits "$train" --config "$config" --set phases.0.loops.n=100000 --out "$work/oom1"
check 2 "train.batch 50000000" fits "$train" --config "$config" --set train.batch=50000000 --out "$work/oom2"
check 2 "phases.1.loops.max" fits "$train" --config "$config" --set phases.1.loops.max=400000 --out "$work/oom3"
[ ! -e "$work/oom1" ] && [ ! -e "$work/oom2" ] || { echo "FAIL: a refused config left a run directory"; status=1; }
check 2 "--no-cache" fits "$eval_bin" --checkpoint "$run" --depths 100000 --batch 100000
check 2 "lower --batch" env STARS_MEMORY_LIMIT=1000000 "$eval_bin" --checkpoint "$run" --depths 4
exit $status
