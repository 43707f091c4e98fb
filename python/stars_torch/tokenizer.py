"""stars' vocabularies: one token per character (arithmetic) or per byte (text), then pad
and eos."""
import torch


class Tokenizer:
    def __init__(self, chars="0123456789+*= "):
        self.chars = chars
        self.index = {c: i for i, c in enumerate(chars)}
        self.pad_id = len(chars)
        self.eos_id = len(chars) + 1
        self.vocab_size = len(chars) + 2

    def encode(self, text):
        """Token ids of `text`; a character outside the vocabulary raises ValueError."""
        try:
            return [self.index[c] for c in text]
        except KeyError as e:
            raise ValueError(f"character {e.args[0]!r} in {text!r} is not in the vocabulary "
                             f"{self.chars!r}") from None

    def decode(self, ids):
        """Text of `ids` up to the first eos; pad and eos dropped."""
        out = []
        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            if 0 <= i < self.pad_id:
                out.append(self.chars[i])
        return "".join(out)

    def prompts(self, texts, device="cpu"):
        """(B, T) int64 batch of prompts as stars decodes them: each text then a space; all
        texts must have the same length."""
        ids = [self.encode(t + " ") for t in texts]
        if len({len(i) for i in ids}) > 1:
            raise ValueError("prompts of different lengths in one batch")
        return torch.tensor(ids, dtype=torch.long, device=device)


class ByteTokenizer:
    """The text task's vocabulary: token id = byte value 0..255, then pad (256), eos (257)."""

    pad_id, eos_id, vocab_size = 256, 257, 258

    def encode(self, text):
        """Token ids of the UTF-8 bytes of `text`."""
        return list(text.encode("utf-8"))

    def decode(self, ids):
        """Text of `ids` up to the first eos; pad and eos dropped, bytes that do not form
        UTF-8 shown as U+FFFD."""
        out = bytearray()
        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            if 0 <= i < self.pad_id:
                out.append(i)
        return out.decode("utf-8", errors="replace")


def tokenizer_for(config):
    """The vocabulary of a run's config (as in config.json): bytes for data.task "text"."""
    return ByteTokenizer() if config.get("data", {}).get("task") == "text" else Tokenizer()


def answer_text(output):
    """The answer an output states: stars writes sums least significant digit first after a
    space, so the output " 0213" answers 3120."""
    digits = output[1:] if output.startswith(" ") else output
    return digits[::-1]
