#!/usr/bin/env bash
# A pretrained LoopLM's path end to end at tiny size: train an Ouro-shaped model, export it
# in the Hugging Face layout (bfloat16, and float32 in shards), evaluate and sample it from
# the directory, fine-tune it with --init (random loops and the penalty), read it in Python
# with the same logits, write it from Python and read that back, sample and evaluate it with
# per-token exit, and refuse what the layout cannot hold with exit code 2 and the setting
# named.
set -euo pipefail
train="$1"; eval="$2"; generate="$3"; export_tool="$4"; work="$5"; python="$6"
source_dir="$(cd "$(dirname "$0")/../.." && pwd)"
rm -rf "$work"; mkdir -p "$work"; cd "$work"
fail() { echo "FAIL: $1"; exit 1; }
export OMP_NUM_THREADS=1 PYTHONPATH="$source_dir/python"
short=(--set train.seed=3 --set phases.1.steps=100 --set eval.depths=1,4 --set eval.n=50 --set train.log_every=100)
"$train" --config "$source_dir/configs/ouro-tiny.json" --threads 1 --set model.exit_gate=true \
  "${short[@]}" --out run >train.txt 2>&1 || { cat train.txt; fail "training ouro-tiny failed"; }

"$export_tool" --checkpoint run --out hf-bf16 --dtype bfloat16 >export.txt 2>&1 \
  || { cat export.txt; fail "stars-export failed"; }
"$export_tool" --checkpoint run --out hf-sharded --shard-size 20000 >>export.txt 2>&1 \
  || { cat export.txt; fail "stars-export --shard-size failed"; }
[ -f hf-sharded/model.safetensors.index.json ] || fail "no shard index"
grep -q '"torch_dtype": "bfloat16"' hf-bf16/config.json || fail "config.json's torch_dtype"

"$eval" --checkpoint hf-sharded --depths 1..4 --n 20 >eval.txt 2>&1 \
  || { cat eval.txt; fail "stars-eval of a Hugging Face directory failed"; }
grep -q "accuracy" eval.txt || { cat eval.txt; fail "no accuracy table"; }
"$generate" --checkpoint hf-bf16 --prompt "12+34=" --depths 4 --max-tokens 3 >gen.txt 2>&1 \
  || { cat gen.txt; fail "stars-generate of a Hugging Face directory failed"; }
"$generate" --checkpoint hf-bf16 --prompt "12+34=" --depths 8 --max-tokens 3 --exit gate:0.5 \
  >gen-exit.txt 2>&1 || { cat gen-exit.txt; fail "stars-generate --exit gate:0.5 failed"; }
grep -Eq "adaptive exit: [0-9.]+ loops per token" gen-exit.txt \
  || { cat gen-exit.txt; fail "stars-generate --exit does not report loops per token"; }
"$eval" --checkpoint hf-sharded --depths 8 --n 20 --exit kl:0.001 --out exit.json \
  >eval-exit.txt 2>&1 || { cat eval-exit.txt; fail "stars-eval --exit kl:0.001 failed"; }
"$python" - <<'PY' || { cat eval-exit.txt; fail "stars-eval --exit reports no loops per token"; }
import json
j = json.load(open("exit.json"))
assert j["exit"] == "kl:0.001", j["exit"]
assert 1 <= j["depths"][0]["mean_loops"] <= 8, j["depths"]
PY

# Fine-tuning: the model comes from the directory's config.json, whatever --config says.
"$train" --config "$source_dir/configs/quick.json" --init hf-bf16 --threads 1 \
  --set phases.0.steps=1 --set phases.1.steps=10 --set phases.1.jacobian_penalty.weight=0.1 \
  --set phases.1.jacobian_penalty.start_step=0 --set phases.1.exit_gate.objective=expected_loss \
  --set eval.depths=4 --set eval.n=10 \
  --set train.log_every=5 --out tuned >tuned.txt 2>&1 || { cat tuned.txt; fail "stars-train --init DIR failed"; }
grep -q "initialised weights from the Hugging Face model" tuned.txt || fail "--init did not load"
"$python" - <<'PY' || fail "the fine-tuning ran without random loops and the penalty"
import json
rows = [json.loads(line) for line in open("tuned/metrics.jsonl") if '"phase":"stars"' in line]
assert rows and all(r["reg"] > 0 for r in rows), rows
PY

"$python" - <<'PY' || fail "Python reads and writes the layout"
import torch
import stars_torch as st
run = st.load("run")
hf = st.load_hf("hf-sharded")
torch.manual_seed(0)
tokens = torch.randint(0, run.tok_emb.num_embeddings, (2, 7))
with torch.no_grad():
    for loops in range(1, 5):
        a, b = run(tokens, loops), hf(tokens, loops)
        assert torch.equal(a, b), (loops, (a - b).abs().max())
for name, tensor in run.state_dict().items():
    assert torch.equal(tensor, hf.state_dict()[name]), name
st.save_hf(hf, "from-python")
print("python: the export reads back equal, logits equal at loops 1-4")
PY
"$eval" --checkpoint from-python --depths 4 --n 20 >eval-py.txt 2>&1 \
  || { cat eval-py.txt; fail "stars-eval of a directory written by Python failed"; }
four="$(grep -E "^ +4 " eval.txt | head -1)"
[ "$(grep -E "^ +4 " eval-py.txt | head -1)" = "$four" ] \
  || { cat eval.txt eval-py.txt; fail "the Python-written copy answers differently"; }
awk '{ exit !($2 >= 0.9) }' <<<"$four" || { cat eval.txt; fail "the exported model does not answer"; }

"$train" --config "$source_dir/configs/quick.json" --threads 1 --set phases.0.steps=2 \
  --set phases.1.steps=1 --set eval.depths=1 --set eval.n=2 --out learned >/dev/null 2>&1
set +e
"$export_tool" --checkpoint learned --out refused >refused.txt 2>&1; code=$?
set -e
[ "$code" = 2 ] || { cat refused.txt; fail "exporting a learned-positions model exited $code, not 2"; }
grep -q "model.positions = learned (the layout needs rope)" refused.txt \
  || { cat refused.txt; fail "the refusal does not name the setting"; }
set +e
"$generate" --checkpoint learned --prompt "1+2=" --exit gate:0.5 >nogate.txt 2>&1; code=$?
set -e
[ "$code" = 2 ] && grep -q "model.exit_gate = false" nogate.txt \
  || { cat nogate.txt; fail "--exit gate on a model without a gate: exit $code"; }
echo "hf workflow: ok"
