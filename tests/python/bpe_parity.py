"""stars_torch.BpeTokenizer against js-tiktoken's GPT-2 ids (the fixture), and a tokenizer
learnt by scripts/train_bpe.py read by stars-tokenize (C++) and by Python with the same ids,
round trips through both, and the refusals of both worded alike.

    python3 bpe_parity.py SOURCE_DIR STARS_TOKENIZE WORK_DIR
"""
import json
import os
import subprocess
import sys

src, tokenize_bin, work = sys.argv[1:4]
sys.path.insert(0, os.path.join(src, "python"))
from stars_torch.bpe import BpeTokenizer, TokenizerFileError  # noqa: E402

fixture = os.path.join(src, "tests", "fixtures", "bpe", "gpt2")
os.makedirs(work, exist_ok=True)


def read(path):
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


# 1. GPT-2: Python's ids equal js-tiktoken's on the whole fixture corpus.
gpt2 = BpeTokenizer.load(fixture)
corpus = read(os.path.join(fixture, "corpus.txt"))
want = [int(x) for x in read(os.path.join(fixture, "ids.txt")).split()]
ids = gpt2.encode(corpus)
assert len(ids) == len(want), (len(ids), len(want))
first = next((k for k, (a, b) in enumerate(zip(ids, want)) if a != b), None)
assert first is None, f"first difference at token {first}: {ids[first]} != {want[first]}"
assert gpt2.decode(ids) == corpus
print(f"gpt2: {len(ids)} ids equal js-tiktoken's on {len(corpus.encode())} bytes")

# 2. A tokenizer learnt here: the C++ reader gives Python's ids, both round-trip.
train_text = os.path.join(work, "train.txt")
with open(train_text, "w", encoding="utf-8", newline="") as f:
    f.write(corpus[:300_000])
tok_json = os.path.join(work, "tokenizer.json")
subprocess.run([sys.executable, os.path.join(src, "scripts", "train_bpe.py"), train_text,
                "--vocab-size", "1024", "--out", tok_json], check=True)
learnt = BpeTokenizer.load(tok_json)
with open(tok_json, encoding="utf-8") as f:
    spec = json.load(f)
assert len(spec["model"]["vocab"]) == 1024 and len(spec["model"]["merges"]) == 1024 - 3 - 256
assert [t["content"] for t in spec["added_tokens"]] == ["<|endoftext|>", "<|im_start|>",
                                                        "<|im_end|>"]
sample = corpus[-200_000:] + "\n<|im_start|>user\nWhat is 12+345?<|im_end|>\n"
sample_path = os.path.join(work, "sample.txt")
with open(sample_path, "w", encoding="utf-8", newline="") as f:
    f.write(sample)
py_ids = learnt.encode(sample)
out = subprocess.run([tokenize_bin, "--tokenizer", tok_json, "--quiet", sample_path],
                     check=True, capture_output=True, text=True).stdout
cpp_ids = [int(x) for x in out.split()]
assert cpp_ids == py_ids, "C++ and Python ids differ on the learnt tokenizer"
assert py_ids.count(1) == 1 and py_ids[-2] == 2, py_ids[-20:]  # ChatML tokens matched
digits = learnt.encode("12+345")
assert len(digits) == 6, digits  # Ouro's split: each digit a token
ids_path = os.path.join(work, "ids.txt")
with open(ids_path, "w") as f:
    f.write(out)
back = subprocess.run([tokenize_bin, "--tokenizer", tok_json, "--quiet", "--decode", ids_path],
                      check=True, capture_output=True).stdout.decode("utf-8")
assert back == sample and learnt.decode(py_ids) == sample
print(f"learnt: {len(py_ids)} ids equal between C++ and Python; both round-trip "
      f"({len(sample.encode()) / len(py_ids):.2f} bytes per token)")

# 3. Refusals name the same thing in both readers.
spec["model"]["type"] = "WordPiece"
bad = os.path.join(work, "bad.json")
with open(bad, "w", encoding="utf-8") as f:
    json.dump(spec, f)
try:
    BpeTokenizer.load(bad)
    raise AssertionError("Python read a WordPiece model")
except TokenizerFileError as e:
    assert 'model type "WordPiece" is not implemented' in str(e), e
r = subprocess.run([tokenize_bin, "--tokenizer", bad, "--text", "x"], capture_output=True, text=True)
assert r.returncode == 2 and 'model type "WordPiece" is not implemented' in r.stderr, r.stderr
print("refusals: both name the model type; stars-tokenize exits 2")
