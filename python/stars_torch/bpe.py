"""Byte-level BPE, as stars' C++ BpeTokenizer reads it: a Hugging Face tokenizer.json, or
GPT-2's vocab.json + merges.txt. The same pre-tokenizer (GPT-2's pattern, Digits, prefix
space), the same added-token matching and the same refusals, so that a tokenizer gives the
same ids in Python and in C++ (tests/python/bpe_parity.py).

    tok = BpeTokenizer.load("path/to/tokenizer.json")   # or a model directory
    ids = tok.encode("<|im_start|>user\\nHi<|im_end|>")
    tok.decode(ids) == "<|im_start|>user\\nHi<|im_end|>"
"""
import bisect
import heapq
import json
import os

from ._unicode_classes import LETTERS, NUMBERS

GPT2_PATTERN = (r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"
                r"|\s+")
_WHITE_SPACE = frozenset([*range(0x09, 0x0E), 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
                          0x2028, 0x2029, 0x202F, 0x205F, 0x3000])
_LETTER_STARTS = [a for a, _ in LETTERS]
_NUMBER_STARTS = [a for a, _ in NUMBERS]
LETTER, NUMBER, SPACE, OTHER = range(4)


def _in(starts, ranges, cp):
    i = bisect.bisect_right(starts, cp) - 1
    return i >= 0 and cp <= ranges[i][1]


def char_class(ch):
    """LETTER (\\p{L}), NUMBER (\\p{N}), SPACE (Unicode White_Space) or OTHER."""
    cp = ord(ch)
    if cp < 0x80:
        if ch.isalpha():
            return LETTER
        if ch.isdigit():
            return NUMBER
        return SPACE if cp in _WHITE_SPACE else OTHER
    if cp in _WHITE_SPACE:
        return SPACE
    if _in(_LETTER_STARTS, LETTERS, cp):
        return LETTER
    return NUMBER if _in(_NUMBER_STARTS, NUMBERS, cp) else OTHER


def _run_end(text, i, end, cls):
    while i < end and char_class(text[i]) == cls:
        i += 1
    return i


def split_gpt2(text, begin=0, end=None):
    """GPT-2's pattern over text[begin:end] as (start, stop) pairs."""
    end = len(text) if end is None else end
    out, i = [], begin
    while i < end:
        if text[i] == "'" and i + 1 < end:
            n = 2 if text[i + 1] in "stmd" else (
                3 if i + 2 < end and text[i + 1:i + 3] in ("re", "ve", "ll") else 0)
            if n:
                out.append((i, i + n))
                i += n
                continue
        cls, body = char_class(text[i]), i
        if text[i] == " " and i + 1 < end and char_class(text[i + 1]) != SPACE:
            cls, body = char_class(text[i + 1]), i + 1
        if cls != SPACE:
            j = _run_end(text, body, end, cls)
            out.append((i, j))
            i = j
            continue
        j = _run_end(text, i, end, SPACE)
        stop = j if (j == end or j - i == 1) else j - 1
        out.append((i, stop))
        i = stop
    return out


def split_digits(text, begin, end, individual):
    out, i, start = [], begin, begin
    while i < end:
        if char_class(text[i]) != NUMBER:
            i += 1
            continue
        if start < i:
            out.append((start, i))
        j = i + 1 if individual else _run_end(text, i, end, NUMBER)
        out.append((i, j))
        i = start = j
    if start < end:
        out.append((start, end))
    return out


def pre_tokenize(text, steps=("gpt2",), add_prefix_space=False):
    """The pieces of `text` after each split step in turn ("gpt2", "digits", "digit-runs")."""
    if add_prefix_space and text and text[0] != " ":
        text = " " + text
    spans = [(0, len(text))] if text else []
    for step in steps:
        nxt = []
        for b, e in spans:
            nxt += split_gpt2(text, b, e) if step == "gpt2" else \
                split_digits(text, b, e, step == "digits")
        spans = nxt
    return [text[b:e] for b, e in spans]


def bytes_to_unicode():
    """GPT-2's map from bytes to printable characters: byte -> character."""
    printable = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    out, shifted = {}, 0
    for b in range(256):
        if b in printable:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + shifted)
            shifted += 1
    return out


_UNICODE_TO_BYTE = {c: b for b, c in bytes_to_unicode().items()}


class TokenizerFileError(ValueError):
    """A tokenizer file stars cannot read; the message names the file and the key."""


def _refuse(where, what):
    raise TokenizerFileError(f"{where}: {what}")


class BpeTokenizer:
    def __init__(self, vocab, merges, added=(), steps=("gpt2",), add_prefix_space=False,
                 ignore_merges=False, where="tokenizer"):
        """vocab: byte-level token string -> id; merges: (left, right) pairs in rank order;
        added: (content, id, special) triples; steps: "gpt2", "digits", "digit-runs"."""
        self.steps, self.add_prefix_space = tuple(steps), add_prefix_space
        self.ignore_merges = ignore_merges
        self.token_bytes, self.special = {}, set()
        self.id_of_bytes = {}
        added = list(added)
        added_contents = {c for c, _, _ in added}
        for content, i, special in added:
            if not content:
                _refuse(where, "an added token with empty content")
            self._place(i, content.encode("utf-8"), where)
            if special:
                self.special.add(i)
        for token, i in vocab.items():
            if token in added_contents:
                continue
            try:
                raw = bytes(_UNICODE_TO_BYTE[c] for c in token)
            except KeyError:
                _refuse(where, f'token "{token}" is not byte-level (a character outside the 256 '
                               f"of the byte map); stars reads byte-level BPE vocabularies only")
            self._place(i, raw, where)
            self.id_of_bytes.setdefault(raw, i)
        self.merges = {}
        for rank, (left, right, where_m) in enumerate(merges):
            ids = []
            for t in (left, right, left + right):
                if t not in vocab or t in added_contents:
                    _refuse(where_m, f'"{t}" is not in the vocabulary')
                ids.append(vocab[t])
            self.merges.setdefault((ids[0], ids[1]), (rank, ids[2]))
        self.byte_id = []
        for b in range(256):
            if bytes([b]) not in self.id_of_bytes:
                _refuse(where, f"byte {b} has no token, so some text could not be encoded; "
                               f"a byte-level vocabulary holds all 256 bytes")
            self.byte_id.append(self.id_of_bytes[bytes([b])])
        self.added = sorted(added, key=lambda t: -len(t[0]))  # longest first
        self._cache = {}

    def _place(self, i, raw, where):
        if not 0 <= i < 2 ** 31:
            _refuse(where, f"token id {i} is outside 0..{2 ** 31 - 1}")
        if self.token_bytes.get(i, raw) != raw:
            _refuse(where, f"token id {i} is given to two tokens")
        self.token_bytes[i] = raw

    # --- reading ----------------------------------------------------------------------------
    @classmethod
    def load(cls, path):
        """tokenizer.json, or a directory with tokenizer.json or vocab.json + merges.txt."""
        if not os.path.isdir(path):
            return cls.from_tokenizer_json(path)
        if os.path.exists(os.path.join(path, "tokenizer.json")):
            return cls.from_tokenizer_json(os.path.join(path, "tokenizer.json"))
        vocab, merges = (os.path.join(path, n) for n in ("vocab.json", "merges.txt"))
        if not (os.path.exists(vocab) and os.path.exists(merges)):
            _refuse(path, "a tokenizer directory holds tokenizer.json, or vocab.json and "
                          "merges.txt; found neither")
        with open(vocab, encoding="utf-8") as f:
            vocab_table = json.load(f)
        config = os.path.join(path, "tokenizer_config.json")
        if os.path.exists(config):
            with open(config, encoding="utf-8") as f:
                decoder = json.load(f).get("added_tokens_decoder", {})
            specials = [t["content"] for t in decoder.values()
                        if isinstance(t, dict) and t.get("special") and t.get("content")]
        else:
            specials = ["<|endoftext|>"] if "<|endoftext|>" in vocab_table else []
        return cls.from_vocab_merges(vocab, merges, specials, vocab_table)

    @classmethod
    def from_vocab_merges(cls, vocab_json, merges_txt, special_tokens=(), vocab=None):
        """`vocab`: the vocab.json table when the caller has read it already."""
        if vocab is None:
            with open(vocab_json, encoding="utf-8") as f:
                vocab = json.load(f)
        missing = [t for t in special_tokens if t not in vocab]
        if missing:
            _refuse(vocab_json, f'special token "{missing[0]}" is not in the vocabulary')
        merges = []
        with open(merges_txt, encoding="utf-8", newline="") as f:
            for line_no, line in enumerate(f, 1):
                line = line.rstrip("\n").rstrip("\r")
                if not line or (line_no == 1 and line.startswith("#version")):
                    continue
                merges.append(_merge_pair(line, f"{merges_txt}:{line_no}"))
        added = [(t, vocab[t], True) for t in special_tokens]
        return cls(vocab, merges, added, where=vocab_json)

    @classmethod
    def from_tokenizer_json(cls, path):
        if not os.path.exists(path):
            _refuse(path, "no such file (a tokenizer.json)")
        try:
            with open(path, encoding="utf-8") as f:
                root = json.load(f)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            _refuse(path, f"not valid JSON ({e})")
        model = root.get("model") if isinstance(root, dict) else None
        if not isinstance(model, dict) or "vocab" not in model:
            _refuse(path, "expected a Hugging Face tokenizer.json (with model.vocab and "
                          "model.merges)" + ("; this is a stars config"
                                             if isinstance(root, dict) and "phases" in root
                                             else ""))
        _check_model(model, f"{path}: model")
        for key, allowed in (("normalizer", ()), ("decoder", ("ByteLevel",))):
            node = root.get(key)
            if node is not None and _type_of(node, f"{path}: {key}") not in allowed:
                _refuse(f"{path}: {key}", f'{key} type "{node["type"]}" is not implemented')
        steps, prefix = _read_pre_tokenizer(root.get("pre_tokenizer"), f"{path}: pre_tokenizer")
        added = []
        for i, t in enumerate(root.get("added_tokens") or []):
            where = f"{path}: added_tokens[{i}]"
            if not isinstance(t, dict) or not isinstance(t.get("id"), int) \
                    or not isinstance(t.get("content"), str):
                _refuse(where, 'needs an integer "id" and a string "content"')
            for key in ("single_word", "lstrip", "rstrip"):
                if t.get(key):
                    _refuse(where, f'"{key}": true is not implemented (token '
                                   f'{json.dumps(t["content"])})')
            added.append((t["content"], t["id"], bool(t.get("special"))))
        merges = [_merge_pair(m, f"{path}: model.merges[{i}]")
                  for i, m in enumerate(model.get("merges", []))]
        return cls(model["vocab"], merges, added, steps, prefix,
                   bool(model.get("ignore_merges")), where=f"{path}: model.vocab")

    # --- encoding -----------------------------------------------------------------------
    def encode(self, text, parse_added=True):
        """Token ids of `text`; with parse_added False, added tokens in the text are text."""
        out, begin, i = [], 0, 0
        starts = {t[0][0] for t in self.added} if parse_added else set()
        while i < len(text):
            if text[i] in starts:
                hit = next((t for t in self.added if text.startswith(t[0], i)), None)
                if hit is not None:
                    self._encode_segment(text[begin:i], out)
                    out.append(hit[1])
                    i = begin = i + len(hit[0])
                    continue
            i += 1
        self._encode_segment(text[begin:], out)
        return out

    def decode(self, ids, skip_special=False):
        out = bytearray()
        for i in ids:
            i = int(i)
            if i not in self.token_bytes:
                raise ValueError(f"token id {i} is not in the vocabulary (ids 0.."
                                 f"{self.vocab_size - 1})")
            if not (skip_special and i in self.special):
                out += self.token_bytes[i]
        return out.decode("utf-8", errors="replace")

    @property
    def vocab_size(self):
        return max(self.token_bytes) + 1

    def id_of(self, token):
        for content, i, _ in self.added:
            if content == token:
                return i
        return self.id_of_bytes.get(token.encode("utf-8"))

    def pieces(self, text):
        """The pre-tokenizer's pieces of `text` (no added tokens)."""
        return pre_tokenize(text, self.steps, self.add_prefix_space)

    def _encode_segment(self, segment, out):
        for piece in self.pieces(segment):
            ids = self._cache.get(piece)
            if ids is None:
                ids = self._cache[piece] = self._merge(piece.encode("utf-8"))
            out += ids

    def _merge(self, raw):
        if self.ignore_merges and raw in self.id_of_bytes:
            return [self.id_of_bytes[raw]]
        ids = [self.byte_id[b] for b in raw]
        while len(ids) > 1:
            best = None
            for k in range(len(ids) - 1):
                m = self.merges.get((ids[k], ids[k + 1]))
                if m is not None and (best is None or m[0] < best[0]):
                    best = (m[0], k, m[1])
            if best is None:
                break
            _, k, merged = best
            ids[k:k + 2] = [merged]
        return ids


def _type_of(node, where):
    if not isinstance(node, dict) or not isinstance(node.get("type"), str):
        _refuse(where, 'expected an object with a string "type"')
    return node["type"]


def _check_model(model, where):
    if _type_of(model, where) != "BPE":
        _refuse(where, f'model type "{model["type"]}" is not implemented; stars reads '
                       f"byte-level BPE")
    if model.get("dropout") is not None:
        _refuse(f"{where}.dropout", "BPE dropout is not implemented (set it to null)")
    if model.get("byte_fallback"):
        _refuse(f"{where}.byte_fallback", "byte_fallback is for sentencepiece-style BPE; "
                                          "not implemented")
    for key in ("continuing_subword_prefix", "end_of_word_suffix"):
        if model.get(key):
            _refuse(f"{where}.{key}", f"must be empty for byte-level BPE, got "
                                      f"{json.dumps(model[key])}")


def _read_pre_tokenizer(node, where):
    steps, state = [], {"byte_level": False, "prefix": False}

    def visit(n, w):
        kind = _type_of(n, w)
        if kind == "Sequence":
            for i, child in enumerate(n.get("pretokenizers") or []):
                visit(child, f"{w}.pretokenizers[{i}]")
        elif kind == "ByteLevel":
            state["byte_level"] = True
            state["prefix"] = bool(n.get("add_prefix_space"))
            if n.get("use_regex", True):
                steps.append("gpt2")
        elif kind == "Digits":
            steps.append("digits" if n.get("individual_digits") else "digit-runs")
        elif kind == "Split":
            pattern = n.get("pattern") or {}
            if not (isinstance(pattern, dict) and pattern.get("Regex") == GPT2_PATTERN
                    and n.get("behavior") == "Isolated" and not n.get("invert")):
                _refuse(w, f"a Split pre-tokenizer with pattern {json.dumps(pattern)} is not "
                           f"implemented; stars implements GPT-2's pattern, Isolated")
            steps.append("gpt2")
        else:
            _refuse(w, f'pre-tokenizer type "{kind}" is not implemented; stars reads ByteLevel, '
                       f"Digits, Split with GPT-2's pattern, and Sequence of these")

    if node is not None:
        visit(node, where)
    if not state["byte_level"]:
        _refuse(where, "has no ByteLevel step; stars reads byte-level BPE (GPT-2's family) only")
    return steps, state["prefix"]


def _merge_pair(m, where):
    if isinstance(m, str):
        parts = m.split(" ")
        if len(parts) != 2:
            _refuse(where, f'a merge is "LEFT RIGHT" (one space), got {json.dumps(m)}')
        return parts[0], parts[1], where
    if isinstance(m, list) and len(m) == 2 and all(isinstance(x, str) for x in m):
        return m[0], m[1], where
    _refuse(where, f'a merge is "LEFT RIGHT" or ["LEFT", "RIGHT"], got {json.dumps(m)}')
