#!/usr/bin/env bash
# scripts/synthetic_chat.py: a tokenizer of the asked vocabulary that stars reads, and chat
# rows that fill the window, so Ouro's shape trains on it (here at tiny width, two steps);
# a vocabulary below its specials and bytes is refused.
# Usage: synthetic_chat.sh PYTHON SCRIPT STARS_TRAIN OURO_CONFIG WORKDIR
set -uo pipefail
python="$1" script="$2" train="$3" config="$4" work="$5"
rm -rf "$work"; mkdir -p "$work"
status=0
fail() { echo "FAIL: $*"; status=1; }
"$python" "$script" --vocab 700 --tokens 96 --rows 6 --out "$work/data" || fail "generator exit $?"
log=$("$train" --config "$config" --set data.tokenizer="$work/data" \
  --set data.train_file="$work/data/chat.jsonl" --set data.seq_len=96 --set train.batch=2 \
  --set train.accumulation=1 --set model.d_model=32 --set model.n_heads=2 \
  --set model.n_kv_heads=1 --set model.d_ff=64 --set model.n_core_layers=1 \
  --set phases.0.steps=2 --set phases.0.warmup=1 --set phases.0.loops.max=4 \
  --set train.precision=fp32 --set train.eval_every=0 --set eval.n=1 --set eval.depths=1,2 \
  --set eval.batch=1 --threads 1 --out "$work/run" 2>&1) || fail "stars-train exit $?"
grep -qF "byte-level BPE: 700 tokens, 441 merges, 3 added" <<<"$log" ||
  fail "the tokenizer is not 700 tokens (3 specials, 256 bytes, 441 merges)"
# Every row fills the 96-token window: all of them are cut, none is dropped.
grep -qF "6 conversations were longer than data.seq_len = 96 tokens" <<<"$log" ||
  fail "not every row filled the window"
grep -qF "training done" <<<"$log" || fail "the run did not finish its two steps"
out=$("$python" "$script" --vocab 200 --out "$work/bad" 2>&1) && fail "--vocab 200 accepted"
grep -qF "must be in 260.." <<<"$out" || fail "the refusal does not say the range: $out"
[ "$status" = 0 ] && echo "synthetic_chat: ok" || echo "$log" | tail -5
exit $status
