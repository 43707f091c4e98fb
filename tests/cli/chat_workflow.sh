#!/usr/bin/env bash
# The maths fine-tuning path at tiny size: train an Ouro-shaped chat model on conversations
# with configs/ouro-numina.json (shrunk), export it with its tokenizer in the Hugging Face
# layout, fine-tune it from that directory with the published recipe (the tokenizer comes
# from the directory), answer maths problems by depth and with per-token exit, and refuse a
# bad row by its line with exit code 2. stars-generate answers a prompt as a user's turn.
set -euo pipefail
train="$1"; eval="$2"; export_tool="$3"; generate="$4"; work="$5"; python="$6"
source_dir="$(cd "$(dirname "$0")/../.." && pwd)"
rm -rf "$work"; mkdir -p "$work"; cd "$work"
fail() { echo "FAIL: $1"; exit 1; }
export OMP_NUM_THREADS=1
recipe="$source_dir/configs/ouro-numina.json"
tokenizer="$source_dir/tests/fixtures/bpe/chatml-tiny/tokenizer.json"

"$python" - <<'PY'
import json, random
rng = random.Random(7)
with open("chat.jsonl", "w") as f:
    for _ in range(120):
        a, b = rng.randrange(10), rng.randrange(10)
        f.write(json.dumps({"problem": f"What is {a} + {b}?",
                            "solution": f"{a} + {b} = {a + b}, so \\boxed{{{a + b}}}."}) + "\n")
with open("problems.jsonl", "w") as f:
    for _ in range(6):
        a, b = rng.randrange(10), rng.randrange(10)
        f.write(json.dumps({"problem": f"What is {a} + {b}?", "answer": str(a + b)}) + "\n")
PY

small=(--threads 1 --set train.precision=fp32 --set train.log_every=2 --set train.eval_every=0
       --set eval.depths=1,4 --set eval.n=8 --set eval.batch=8 --set "eval.monitor_depths=[2]")
"$train" --config "$recipe" "${small[@]}" --set model.d_model=32 --set model.n_heads=2 \
  --set model.n_kv_heads=1 --set model.d_ff=64 --set model.n_core_layers=1 \
  --set model.max_len=64 --set data.seq_len=64 --set data.train_file=chat.jsonl \
  --set data.tokenizer="$tokenizer" --set data.valid_fraction=0.1 --set train.batch=4 \
  --set train.accumulation=2 --set phases.0.steps=4 --set phases.0.lr=0.003 --out base \
  >base.txt 2>&1 || { cat base.txt; fail "training a chat model with ouro-numina.json failed"; }
grep -q "bits per assistant token" base.txt || { cat base.txt; fail "no validation table"; }
[ -f base/tokenizer.json ] || fail "the run directory has no copy of its tokenizer"
"$python" - <<'PY' || fail "the run's metrics do not record the chat split or the micro-batches"
import json
rows = [json.loads(line) for line in open("base/metrics.jsonl")]
chat = [r["chat"] for r in rows if "chat" in r]
assert chat and chat[0]["train_rows"] == 108 and chat[0]["valid_rows"] == 12, chat
PY

PYTHONPATH="$source_dir/python" "$python" - <<'PY' || fail "stars_torch does not read the chat run"
import torch
import stars_torch as st
tok = st.BpeTokenizer.load("base")
for model in (st.load("base"),):
    assert model.tok_emb.num_embeddings == tok.vocab_size, model.tok_emb.num_embeddings
    ids = torch.tensor([tok.encode("<|im_start|>user\nWhat is 1 + 2?<|im_end|>\n")])
    with torch.no_grad():
        assert torch.isfinite(model(ids, 4)).all()
PY

"$export_tool" --checkpoint base --out hf >export.txt 2>&1 || { cat export.txt; fail "export failed"; }
[ -f hf/tokenizer.json ] || fail "the export has no tokenizer.json"
PYTHONPATH="$source_dir/python" "$python" - <<'PY' || fail "stars_torch does not read the exported chat model"
import torch
import stars_torch as st
base, hf = st.load("base"), st.load_hf("hf")
ids = torch.tensor([st.BpeTokenizer.load("hf").encode("What is 1 + 2?")])
with torch.no_grad():
    assert torch.equal(base(ids, 3), hf(ids, 3))
PY
"$generate" --checkpoint hf --prompt "What is 2 + 3?" --depths 1,4 --max-tokens 5 \
  --temperature 0 >gen.txt 2>&1 || { cat gen.txt; fail "stars-generate of a chat model failed"; }
grep -q -- "--- 4 loops" gen.txt || { cat gen.txt; fail "no sample at 4 loops"; }

# The published recipe from the exported directory: only the data and the size change.
"$train" --config "$recipe" --init hf "${small[@]}" --set data.train_file=chat.jsonl \
  --set data.seq_len=64 --set train.batch=2 --set train.accumulation=3 --set phases.0.steps=3 \
  --out tuned >tuned.txt 2>&1 || { cat tuned.txt; fail "fine-tuning from the directory failed"; }
grep -q "data.tokenizer from hf" tuned.txt || { cat tuned.txt; fail "the tokenizer did not come from --init"; }
grep -q "initialised weights from the Hugging Face model" tuned.txt || fail "--init did not load"

"$eval" --checkpoint tuned --math problems.jsonl --depths 1,4 --max-new-tokens 6 \
  --out math.json --predictions predictions.jsonl >math.txt 2>&1 \
  || { cat math.txt; fail "stars-eval --math failed"; }
"$python" - <<'PY' || { cat math.txt; fail "the maths results are incomplete"; }
import json
j = json.load(open("math.json"))
assert [d["depth"] for d in j["depths"]] == [1, 4], j
assert all(d["n"] == 6 and 0 <= d["correct"] <= 6 for d in j["depths"]), j
lines = [json.loads(line) for line in open("predictions.jsonl")]
assert len(lines) == 12 and {"reference", "answer", "correct", "text"} <= set(lines[0]), lines[0]
PY
"$eval" --checkpoint hf --math problems.jsonl --depths 4 --max-new-tokens 4 --exit kl:0.01 \
  --out exit.json >exit.txt 2>&1 || { cat exit.txt; fail "stars-eval --math --exit failed"; }
"$python" -c "import json; d = json.load(open('exit.json'))['depths'][0]; assert 1 <= d['mean_loops'] <= 4, d" \
  || fail "per-token exit reports no loops per token"

cp chat.jsonl bad.jsonl
echo '{"problem": "What is 1 + 1?"}' >>bad.jsonl
set +e
"$train" --config "$recipe" --init hf "${small[@]}" --set data.train_file=bad.jsonl \
  --set data.seq_len=64 --set phases.0.steps=1 --out bad >bad.txt 2>&1; code=$?
set -e
[ "$code" = 2 ] && grep -q "bad.jsonl:121" bad.txt || { cat bad.txt; fail "a bad row: exit $code"; }
echo "chat workflow: ok"
