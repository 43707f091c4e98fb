#!/usr/bin/env python3
"""Builds the default text corpus, data/fortunes.txt, from the English fortune files that
Debian's `fortunes` package installs (/usr/share/games/fortunes; BSD licence, see
/usr/share/doc/fortunes/copyright). scripts/setup.sh installs the package.

Each fortune becomes a paragraph; the paragraphs are shuffled with a fixed seed, so that
the validation text (the end of the file, data.valid_fraction) is drawn from the same mix
of files as the training text. The output is UTF-8 and the same on every machine with the
same package version.

    python3 scripts/text_corpus.py [--src DIR] [--out data/fortunes.txt]
"""
import argparse
import os
import random
import sys

# Pictures drawn with characters, not language; and the Chinese files fortunes-zh puts in
# the same folder (the other languages' packages install into subfolders, never read), so
# the corpus stays English and the same whichever fortune packages a machine has.
SKIP = {"ascii-art", "art", "chinese", "song100", "tang300"}


def fortunes_of(path):
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # older files; re-encoded as UTF-8 below
    entries = []
    for entry in text.replace("\r\n", "\n").split("\n%\n"):
        entry = entry.strip("%\n")
        if entry.strip():
            entries.append(entry.rstrip() + "\n")
    return entries


def main():
    root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", default="/usr/share/games/fortunes")
    parser.add_argument("--out", default=os.path.join(root, "data", "fortunes.txt"))
    args = parser.parse_args()
    if not os.path.isdir(args.src):
        sys.exit(f"text_corpus: {args.src} does not exist; install Debian's 'fortunes' package "
                 "(bash scripts/setup.sh does)")
    names = sorted(n for n in os.listdir(args.src)
                   if "." not in n and n not in SKIP and os.path.isfile(os.path.join(args.src, n)))
    entries = [e for n in names for e in fortunes_of(os.path.join(args.src, n))]
    random.Random(0).shuffle(entries)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(entries))
    os.replace(tmp, args.out)
    size = os.path.getsize(args.out)
    print(f"text_corpus: {args.out}: {len(entries)} fortunes from {len(names)} files, "
          f"{size} bytes")


if __name__ == "__main__":
    main()
