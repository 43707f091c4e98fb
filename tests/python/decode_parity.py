"""Greedy decoding in Python (python/stars_torch) gives stars-eval's outputs problem for
problem: reads stars-eval --predictions JSONL files and decodes the same prompts at the same
depths from the model's model.safetensors (and, for the first file, its state_dict.pt).

usage: decode_parity.py MODEL_DIR PREDICTIONS.jsonl [EXIT_TOL PREDICTIONS.jsonl ...]
"""
import json
import os
import sys
from collections import defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
import stars_torch as st  # noqa: E402


def check(model, path, exit_tol, label):
    by_depth = defaultdict(list)
    for line in open(path):
        record = json.loads(line)
        by_depth[record["depth"]].append(record)
    tok = st.Tokenizer()
    digits = model.config["data"]["digits"]
    mismatches = 0
    for depth, records in sorted(by_depth.items()):
        outputs = st.answer(model, tok, [r["prompt"] for r in records], depth,
                            max_tokens=digits + 2, exit_tol=exit_tol)
        same = sum(o == r["output"] for o, r in zip(outputs, records))
        correct = sum(r["correct"] for r in records)
        print(f"{label} depth {depth:4d}: {same}/{len(records)} outputs equal "
              f"(stars-eval accuracy {correct / len(records):.4f})")
        mismatches += len(records) - same
    return mismatches


model_dir, first = sys.argv[1], sys.argv[2]
bad = check(st.load(os.path.join(model_dir, "model.safetensors")), first, 0.0, "safetensors")
bad += check(st.load(os.path.join(model_dir, "state_dict.pt")), first, 0.0, "state_dict ")
rest = sys.argv[3:]
for tol, path in zip(rest[::2], rest[1::2]):
    bad += check(st.load(model_dir), path, float(tol), f"exit {tol}")
if bad:
    sys.exit(f"{bad} outputs differ from stars-eval's")
print("decode parity: every output equal")
