"""Greedy decoding at a chosen depth, with the key/value cache stars uses."""
import warnings
from collections import defaultdict

import torch

from ._compat import renamed
from .model import DecodeCache
from .prompt_format import training_format_warning


@renamed(n_loops="depth", max_new_tokens="max_tokens")
@torch.no_grad()
def greedy_decode(model, prompts, depth, max_tokens, eos_id, exit_tol=0.0, use_cache=True):
    """Generated tokens (B, max_tokens), eos-padded after each sequence's eos, for a batch
    of prompts (B, T) decoded at `depth` loops (exit_tol > 0: adaptive exit)."""
    cache = DecodeCache() if use_cache else None
    seq = prompts
    done = torch.zeros(prompts.shape[0], dtype=torch.bool, device=prompts.device)
    logits = model(prompts, depth, exit_tol, cache)[:, -1]
    generated = []
    for i in range(max_tokens):
        nxt = logits.argmax(-1)
        nxt = torch.where(done, torch.full_like(nxt, eos_id), nxt)
        done = done | (nxt == eos_id)
        generated.append(nxt)
        if i + 1 == max_tokens or bool(done.all()):
            break
        seq = torch.cat([seq, nxt[:, None]], 1)
        logits = model(nxt[:, None] if use_cache else seq, depth, exit_tol, cache)[:, -1]
    out = torch.stack(generated, 1)
    pad = max_tokens - out.shape[1]
    if pad:
        out = torch.cat([out, out.new_full((out.shape[0], pad), eos_id)], 1)
    return out


@renamed(n_loops="depth", max_new_tokens="max_tokens")
def answer(model, tokenizer, prompts, depth, max_tokens, exit_tol=0.0, batch=256):
    """The decoded output text of each prompt (a list of strings, in order) at `depth`
    loops, at most `max_tokens` tokens each; prompts are batched by length as stars-eval
    does. A UserWarning says when prompts are outside the format the model (with a
    `model.config`, as st.load gives) was trained on: their answers are guesses."""
    config = getattr(model, "config", None)
    warning = training_format_warning(config, prompts) if config is not None else ""
    if warning:
        warnings.warn(warning, UserWarning, stacklevel=2)
    device = next(model.parameters()).device
    by_length = defaultdict(list)
    for i, p in enumerate(prompts):
        by_length[len(p)].append(i)
    texts = [None] * len(prompts)
    for idx in by_length.values():
        for s in range(0, len(idx), batch):
            chunk = idx[s:s + batch]
            tokens = greedy_decode(model, tokenizer.prompts([prompts[i] for i in chunk], device),
                                   depth, max_tokens, tokenizer.eos_id, exit_tol)
            for row, i in zip(tokens.tolist(), chunk):
                texts[i] = tokenizer.decode(row)
    return texts
