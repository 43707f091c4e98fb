"""Learns a byte-level BPE from text and writes it as a Hugging Face tokenizer.json, so that
small models trained with stars use the same tokenizer path as pretrained ones.

    python3 scripts/train_bpe.py data/fortunes.txt --vocab-size 4096 --out tok/tokenizer.json

The vocabulary: the special tokens first (ChatML's by default, as Ouro's tokenizer has them
at ids 0-2), the 256 bytes, then one token per merge, most frequent pair first (ties: the
lower ids). Pieces come from the pre-tokenizer written into the file (GPT-2's pattern, and
with `split_digits` each digit on its own, as Ouro's and SmolLM's tokenizers do).
"""
import collections
import heapq

from .bpe import bytes_to_unicode, pre_tokenize

CHATML_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")


def _pairs(word):
    return zip(word, word[1:])


def _merge_word(word, pair, new_id):
    out, k = [], 0
    while k < len(word):
        if k + 1 < len(word) and (word[k], word[k + 1]) == pair:
            out.append(new_id)
            k += 2
        else:
            out.append(word[k])
            k += 1
    return tuple(out)


def learn_merges(word_counts, n_merges, first_id, min_frequency=2):
    """Byte-pair merges over `word_counts` (byte tuples -> count): [(left, right, new)]."""
    words = [tuple(w) for w in word_counts]
    freq = [word_counts[w] for w in word_counts]
    counts, where = collections.Counter(), collections.defaultdict(set)
    for i, w in enumerate(words):
        for p in _pairs(w):
            counts[p] += freq[i]
            where[p].add(i)
    heap = [(-c, p) for p, c in counts.items()]
    heapq.heapify(heap)
    merges = []
    while len(merges) < n_merges and heap:
        neg, pair = heapq.heappop(heap)
        if counts.get(pair, 0) != -neg:
            continue  # stale entry
        if -neg < min_frequency:
            break
        new_id = first_id + len(merges)
        merges.append((pair[0], pair[1], new_id))
        changed = set()
        for i in where.pop(pair, ()):
            old = words[i]
            for p in _pairs(old):
                counts[p] -= freq[i]
                changed.add(p)
            words[i] = _merge_word(old, pair, new_id)
            for p in _pairs(words[i]):
                counts[p] += freq[i]
                where[p].add(i)
                changed.add(p)
        counts.pop(pair, None)
        for p in changed:
            if counts.get(p, 0) > 0:
                heapq.heappush(heap, (-counts[p], p))
            else:
                counts.pop(p, None)
    return merges


def train_bpe(texts, vocab_size, special_tokens=CHATML_SPECIALS, split_digits=True,
              min_frequency=2):
    """A tokenizer.json (as a dict) learnt from `texts` (an iterable of strings)."""
    steps = ("digits", "gpt2") if split_digits else ("gpt2",)
    first_byte = len(special_tokens)
    if vocab_size < first_byte + 256:
        raise ValueError(f"vocab_size {vocab_size} is below the {first_byte} special tokens "
                         f"plus 256 bytes")
    word_counts = collections.Counter()
    for text in texts:
        for piece in pre_tokenize(text, steps):
            word_counts[tuple(first_byte + b for b in piece.encode("utf-8"))] += 1
    merges = learn_merges(word_counts, vocab_size - first_byte - 256, first_byte + 256,
                          min_frequency)
    byte_char = bytes_to_unicode()
    names = {first_byte + b: byte_char[b] for b in range(256)}
    for left, right, new in merges:
        names[new] = names[left] + names[right]
    vocab = {t: i for i, t in enumerate(special_tokens)}
    vocab.update({name: i for i, name in names.items()})
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                  "use_regex": True}
    pre = ({"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True}, byte_level]} if split_digits
        else byte_level)
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": t, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True}
                         for i, t in enumerate(special_tokens)],
        "normalizer": None, "pre_tokenizer": pre,
        "post_processor": dict(byte_level, trim_offsets=False),
        "decoder": dict(byte_level),
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab,
                  "merges": [[names[a], names[b]] for a, b, _ in merges]},
    }
