#!/usr/bin/env python3
"""Learns a byte-level BPE of a chosen size from a text file and writes tokenizer.json
(Hugging Face's format, read by stars-tokenize, stars-train and stars_torch.BpeTokenizer).

    python3 scripts/train_bpe.py data/fortunes.txt --vocab-size 4096 --out runs/bpe/tokenizer.json

Defaults follow Ouro's tokenizer: ChatML's special tokens at ids 0-2 and digits split one
by one before GPT-2's pattern (--no-split-digits keeps GPT-2's plain split).
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from stars_torch.bpe_train import CHATML_SPECIALS, train_bpe  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("text", help="UTF-8 text file to learn from")
    ap.add_argument("--vocab-size", type=int, default=4096,
                    help="tokens in all: specials + 256 bytes + merges (default 4096)")
    ap.add_argument("--out", required=True, help="tokenizer.json to write")
    ap.add_argument("--special", action="append",
                    help=f"a special token (repeatable; default: {' '.join(CHATML_SPECIALS)})")
    ap.add_argument("--no-split-digits", action="store_true",
                    help="keep runs of digits together (GPT-2's split)")
    ap.add_argument("--min-frequency", type=int, default=2,
                    help="stop when the most frequent pair occurs fewer times (default 2)")
    args = ap.parse_args(argv)
    try:
        with open(args.text, encoding="utf-8", newline="") as f:
            text = f.read()
    except OSError as e:
        print(f"train_bpe: error: {args.text}: {e.strerror}; check the path", file=sys.stderr)
        return 2
    except UnicodeDecodeError as e:
        print(f"train_bpe: error: {args.text}: not UTF-8 text ({e})", file=sys.stderr)
        return 2
    specials = tuple(args.special) if args.special else CHATML_SPECIALS
    start = time.time()
    try:
        tok = train_bpe([text], args.vocab_size, specials,
                        split_digits=not args.no_split_digits, min_frequency=args.min_frequency)
    except ValueError as e:
        print(f"train_bpe: error: {e}", file=sys.stderr)
        return 2
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out + ".tmp", "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)
    os.replace(args.out + ".tmp", args.out)
    n = len(tok["model"]["vocab"])
    print(f"train_bpe: {args.out}: {n} tokens ({len(tok['model']['merges'])} merges) from "
          f"{len(text.encode('utf-8'))} bytes in {time.time() - start:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
