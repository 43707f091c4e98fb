#!/usr/bin/env bash
# The text workflow end to end on a small file: train a byte-level model, evaluate bits per
# byte by depth (with diagnostics and adaptive exit), sample at two depths (the same seed
# repeats a sample), and refuse bad text and task-only flags with exit codes and messages.
set -euo pipefail
train="$1"; eval="$2"; generate="$3"; work="$4"; tiny="$5"; python="$6"
package="$(cd "$(dirname "$0")/../../python" && pwd)"
rm -rf "$work"; mkdir -p "$work"; cd "$work"
fail() { echo "FAIL: $1"; exit 1; }
for i in $(seq 1 400); do echo "a loop is a block run again, time $((i % 9))."; done >corpus.txt
export OMP_NUM_THREADS=1
model=(--set model.d_model=32 --set model.n_heads=2 --set model.d_ff=64 --set model.max_len=32)
"$train" --threads 1 --set data.task=text --set data.train_file=corpus.txt \
  --set data.seq_len=32 "${model[@]}" --set train.batch=16 --set train.log_every=10 \
  --set train.eval_every=0 --set phases.0.steps=30 --set phases.0.until.accuracy=0 \
  --set phases.1.steps=10 --set eval.depths=1,2,4 --set eval.n=8 --set eval.monitor_depths=1,2 \
  --out run >train.txt 2>&1 || { cat train.txt; fail "training on text failed"; }
grep -q "validation bits per byte by depth" train.txt || { cat train.txt; fail "no bits-per-byte table"; }
grep -q '"corpus"' run/metrics.jsonl || fail "the split is not recorded in metrics.jsonl"

"$eval" --checkpoint run --depths 1..4,8 --diagnostics --diag-n 4 --out eval.json >eval.txt 2>&1 \
  || { cat eval.txt; fail "stars-eval on a text model failed"; }
grep -q "bits_per_byte" eval.txt || fail "no bits per byte in the table"
"$python" - eval.json <<'PY' || fail "eval.json"
import json, sys
rows = json.load(open(sys.argv[1]))["depths"]
assert [r["depth"] for r in rows] == [1, 2, 3, 4, 8], rows
assert all(0 < r["bits_per_byte"] < 9 and "rho_max" in r for r in rows), rows
PY
"$eval" --checkpoint run --depths 4 --exit-tol 0.5 --text corpus.txt --n 4 >exit.txt 2>&1 \
  || { cat exit.txt; fail "adaptive exit on --text failed"; }
grep -q "mean_loops" exit.txt || fail "no mean_loops with adaptive exit"

"$generate" --checkpoint run --prompt "a loop " --depths 1,4 --seed 3 --max-tokens 20 >s1.txt \
  2>&1 || { cat s1.txt; fail "stars-generate failed"; }
"$generate" --checkpoint run/model.safetensors --prompt "a loop " --depths 1,4 --seed 3 \
  --max-tokens 20 >s2.txt 2>&1 || fail "stars-generate from safetensors failed"
grep -q -- "--- 4 loops" s1.txt || { cat s1.txt; fail "no sample at 4 loops"; }
cmp -s s1.txt s2.txt || fail "the same seed gave another sample"

# The Python package reads a text model with its byte vocabulary and scores the same
# windows (offsets 0, 32, 64, 96 of corpus.txt) with the same bits per byte.
"$eval" --checkpoint run --depths 4 --text corpus.txt --n 4 --out parity.json >/dev/null 2>&1 \
  || fail "stars-eval --text corpus.txt"
PYTHONPATH="$package" "$python" - run parity.json <<'PY' || fail "stars_torch disagrees on the text model"
import json, math, sys, torch, torch.nn.functional as F, stars_torch as st
model = st.load(sys.argv[1])
tok = st.tokenizer_for(model.config)
assert tok.vocab_size == 258 and tok.decode(tok.encode("café")) == "café"
data = open("corpus.txt", "rb").read()
rows = torch.tensor([list(data[o:o + 33]) for o in (0, 32, 64, 96)])
with torch.no_grad():
    logits = model(rows[:, :32], 4)
nats = F.cross_entropy(logits.reshape(-1, 258), rows[:, 1:].reshape(-1)).item()
want = json.load(open(sys.argv[2]))["depths"][0]["bits_per_byte"]
assert abs(nats / math.log(2) - want) < 1e-4, (nats / math.log(2), want)
PY

expect() {  # expect RC TEXT command...
  local want="$1" text="$2"; shift 2
  set +e; "$@" >bad.txt 2>&1; local rc=$?; set -e
  [ "$rc" = "$want" ] && grep -q -- "$text" bad.txt || { cat bad.txt; fail "$* : exit $rc, want $want with '$text'"; }
}
printf 'caf\xe9 au lait\n' >latin1.txt
expect 2 "latin1.txt: byte 3 (line 1) is not valid UTF-8" "$train" --set data.task=text \
  --set data.train_file=latin1.txt --set phases.0.until.accuracy=0 --out bad1
expect 2 'data.train_file = "missing.txt": no such file' "$train" --set data.task=text \
  --set data.train_file=missing.txt --set phases.0.until.accuracy=0 --out bad2
# A shipped text model whose corpus was not built says how to build it, and the alternative.
# (Its corpus.txt is a path relative to where the run was trained: elsewhere it is missing.)
mkdir -p elsewhere
for text in "python3 scripts/text_corpus.py" 'data.train_file = "corpus.txt": no such file' \
            "stars-eval --text FILE"; do
  expect 2 "$text" env -C elsewhere "$eval" --checkpoint ../run --depths 1 --n 2
done
expect 2 "until.accuracy" "$train" --set data.task=text --set data.train_file=corpus.txt --out bad3
expect 2 "--difficulties applies to task models" "$eval" --checkpoint run --difficulties 1..2
expect 2 "--text applies to models trained on text" "$eval" --checkpoint "$tiny" --text corpus.txt
echo "text workflow: ok"
