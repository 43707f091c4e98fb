#!/usr/bin/env python3
"""Writes a byte-level BPE tokenizer of any vocabulary size and chat rows long enough to fill
a training window, so that a model of a real LoopLM's shape (Ouro-1.4B: vocabulary 49152,
2048-token windows) trains and is timed without its tokenizer or data. The tokenizer is
ChatML's three special tokens, the 256 byte symbols and merges of symbol pairs ("ab"), in
the tokenizer.json layout stars and Hugging Face read; the rows are {"problem", "solution"}
of random lowercase words, seeded.

    python3 scripts/synthetic_chat.py --vocab 49152 --tokens 2048 --rows 64 --out DIR

DIR/tokenizer.json and DIR/chat.jsonl; then, for example,
    stars-train --config configs/ouro-numina.json --set data.tokenizer=DIR \
        --set data.train_file=DIR/chat.jsonl ...
"""
import argparse
import json
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from stars_torch.bpe import bytes_to_unicode  # noqa: E402

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def tokenizer(vocab_size):
    """tokenizer.json with `vocab_size` tokens: specials, bytes, then pair merges."""
    symbols = [bytes_to_unicode()[b] for b in range(256)]
    base = len(SPECIALS) + len(symbols)
    if not base < vocab_size <= base + len(symbols) ** 2:
        raise SystemExit(f"synthetic_chat: --vocab must be in {base + 1}..{base + 256 ** 2}, "
                         f"got {vocab_size}")
    vocab = {t: i for i, t in enumerate(SPECIALS + symbols)}
    # Letters first, so that the rows' words use the merged tokens.
    order = sorted(symbols, key=lambda s: (not ("a" <= s <= "z"), s))
    merges = []
    for a in order:
        for b in order:
            if len(vocab) == vocab_size:
                break
            vocab[a + b] = len(vocab)
            merges.append([a, b])
    flags = {"single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
             "special": True}
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [dict(id=i, content=t, **flags) for i, t in enumerate(SPECIALS)],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                          "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False,
                           "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }


def words(rng, n):
    return " ".join("".join(rng.choice("abcdefghijklmnopqrstuvwxyz")
                            for _ in range(rng.randint(2, 9))) for _ in range(n))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vocab", type=int, default=49152, help="tokens in the vocabulary")
    ap.add_argument("--tokens", type=int, default=2048,
                    help="each row is at least this many tokens long (the training window)")
    ap.add_argument("--rows", type=int, default=64, help="chat rows to write")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True, help="directory for tokenizer.json and chat.jsonl")
    args = ap.parse_args()
    if args.tokens < 1 or args.rows < 1:
        raise SystemExit("synthetic_chat: --tokens and --rows must be at least 1")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "tokenizer.json"), "w") as f:
        json.dump(tokenizer(args.vocab), f)
    rng = random.Random(args.seed)
    # A word (its leading space is a token of its own here, and its 2-9 letters at least
    # one more) is at least two tokens: half as many words as tokens fill the window.
    with open(os.path.join(args.out, "chat.jsonl"), "w") as f:
        for _ in range(args.rows):
            # A short question, so that the answer starts within a short window too.
            row = {"problem": words(rng, max(1, min(16, args.tokens // 16))),
                   "solution": words(rng, args.tokens // 2 + 16)}
            f.write(json.dumps(row) + "\n")
    print(f"synthetic_chat: {args.out}/tokenizer.json ({args.vocab} tokens), "
          f"{args.out}/chat.jsonl ({args.rows} rows)", file=sys.stderr)


if __name__ == "__main__":
    main()
