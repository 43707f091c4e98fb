#!/usr/bin/env python3
"""scripts/wrong_answers.py on hand-made predictions: reversed answers recognised from the
correct rows, each kind of wrong answer counted, wrong positions and carries, bad rows refused.

    python3 tests/cli/wrong_answers.py scripts/wrong_answers.py WORK
"""
import json
import os
import subprocess
import sys

SCRIPT, WORK = sys.argv[1:3]
os.makedirs(WORK, exist_ok=True)


def check(cond, what):
    if not cond:
        sys.exit(f"FAIL: {what}")


def row(depth, prompt, target, output):
    return {"depth": depth, "prompt": prompt, "target": target, "output": output,
            "correct": output == target[::-1]}


rows = [row(8, "1234+1111=", "2345", "5432"),    # right, written reversed; no carry
        row(8, "9999+0001=", "10000", "00001"),  # right; four carries
        row(8, "5000+5000=", "10000", "000"),    # stops early after a correct prefix; 1 carry
        row(8, "1299+0001=", "1300", "00 1"),    # a non-digit after a correct prefix; 2 carries
        row(8, "2222+1111=", "3333", "3343"),    # right length, wrong digit 2; no carry
        row(64, "1234+1111=", "2345", "5432")]
path = os.path.join(WORK, "predictions.jsonl")
with open(path, "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in rows)
out = subprocess.run([sys.executable, SCRIPT, path], capture_output=True, text=True)
check(out.returncode == 0, f"exit {out.returncode}: {out.stderr}")
text = out.stdout
for want in ("depth 8: 3 of 5 wrong", "  stops early after a correct prefix: 1",
             "  a non-digit where a digit belongs, after a correct prefix: 1",
             "  right length, wrong digits: 1", "[3, 4] x1, [2, 3] x1, [2] x1",
             "error rate by carries: 0: 1/2, 1: 1/1, 2: 1/1, 4: 0/1", "depth 64: 0 of 1 wrong",
             "e.g. 5000+5000= wants '00001' (as written), wrote '000'"):
    check(want in text, f"output lacks {want!r}:\n{text}")
with open(path, "a") as f:
    f.write('{"depth": 8}\n')
out = subprocess.run([sys.executable, SCRIPT, path], capture_output=True, text=True)
check(out.returncode != 0 and "predictions.jsonl:7: not a stars-eval prediction row" in out.stderr,
      f"bad row: {out.returncode} {out.stderr}")
print("wrong_answers: kinds, positions, carries, reversed order, bad row refused")
