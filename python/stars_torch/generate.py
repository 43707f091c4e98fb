"""Greedy decoding at a chosen depth, with the key/value cache stars uses."""
from collections import defaultdict

import torch

from .model import DecodeCache


@torch.no_grad()
def greedy_decode(model, prompts, n_loops, max_new_tokens, eos_id, exit_tol=0.0, use_cache=True):
    """Generated tokens (B, max_new_tokens), eos-padded after each sequence's eos, for a batch
    of prompts (B, T) decoded at `n_loops` loops (exit_tol > 0: adaptive exit)."""
    cache = DecodeCache() if use_cache else None
    seq = prompts
    done = torch.zeros(prompts.shape[0], dtype=torch.bool, device=prompts.device)
    logits = model(prompts, n_loops, exit_tol, cache)[:, -1]
    generated = []
    for i in range(max_new_tokens):
        nxt = logits.argmax(-1)
        nxt = torch.where(done, torch.full_like(nxt, eos_id), nxt)
        done = done | (nxt == eos_id)
        generated.append(nxt)
        if i + 1 == max_new_tokens or bool(done.all()):
            break
        seq = torch.cat([seq, nxt[:, None]], 1)
        logits = model(nxt[:, None] if use_cache else seq, n_loops, exit_tol, cache)[:, -1]
    out = torch.stack(generated, 1)
    pad = max_new_tokens - out.shape[1]
    if pad:
        out = torch.cat([out, out.new_full((out.shape[0], pad), eos_id)], 1)
    return out


def answer(model, tokenizer, prompts, n_loops, max_new_tokens, exit_tol=0.0, batch=256):
    """The decoded output text of each prompt (a list of strings, in order) at `n_loops`
    loops; prompts are batched by length as stars-eval does."""
    device = next(model.parameters()).device
    by_length = defaultdict(list)
    for i, p in enumerate(prompts):
        by_length[len(p)].append(i)
    texts = [None] * len(prompts)
    for idx in by_length.values():
        for s in range(0, len(idx), batch):
            chunk = idx[s:s + batch]
            tokens = greedy_decode(model, tokenizer.prompts([prompts[i] for i in chunk], device),
                                   n_loops, max_new_tokens, tokenizer.eos_id, exit_tol)
            for row, i in zip(tokens.tolist(), chunk):
                texts[i] = tokenizer.decode(row)
    return texts
