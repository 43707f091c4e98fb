"""Per-token adaptive exit, as stars/model/token_exit.hpp: each position stops looping at the
first loop where its rule holds, keeps that state (deeper loops read it from there), and the
loops each position ran are counted.

Rules: "residual:TOL", "kl:TOL", "entropy:TOL", "gate:Q" (the exit gate's cumulative
probability >= Q), "expected" (no exit; logits weighted by the gate's exit distribution).
"""
import copy
import math

import torch

from .exit_gate import exit_probability

_FORMS = "residual:TOL, kl:TOL, entropy:TOL (TOL > 0), gate:P (0 < P <= 1), expected or off"


def parse_token_exit(spec):
    """(criterion, threshold) of a rule; ValueError naming the valid forms otherwise."""
    name, sep, number = spec.partition(":")
    takes = name in ("residual", "kl", "entropy", "gate")
    if name not in ("residual", "kl", "entropy", "gate", "expected", "off") or bool(sep) != takes:
        raise ValueError(f'"{spec}" is not an exit rule; valid: {_FORMS}')
    if not takes:
        return name, 0.0
    try:
        value = float(number)
    except ValueError:
        value = math.nan
    ok = 0 < value <= 1 if name == "gate" else value > 0
    if not math.isfinite(value) or not ok:
        raise ValueError(f'"{spec}" has no valid threshold; valid: {_FORMS}')
    return name, value


class TokenExitState:
    """Which positions still loop, and the loops each ran (B, T)."""

    def __init__(self, model, spec, h0, cache, n_loops):
        self.model, self.cache, self.n_loops = model, cache, n_loops
        self.criterion, self.threshold = parse_token_exit(spec)
        if self.criterion in ("gate", "expected") and getattr(model, "exit_gate", None) is None:
            raise ValueError(f"the exit rule {spec} reads the exit gate, and this model has none")
        shape = h0.shape[:2]
        self.active = torch.ones(shape, dtype=torch.bool, device=h0.device)
        self.loops = torch.zeros(shape, dtype=torch.long, device=h0.device)
        self.expected = None
        if self.criterion in ("kl", "entropy"):
            self.prev_logp = self._log_probs(h0)
        self.survive = torch.ones(shape, dtype=h0.dtype, device=h0.device)
        self.cumulative = torch.zeros(shape, dtype=h0.dtype, device=h0.device)

    def _peek_logits(self, state):
        coda = copy.copy(self.cache.coda) if self.cache is not None else None
        if coda is not None:  # appending to copies leaves the cache as it is
            coda = [copy.copy(c) for c in coda]
        return self.model.readout(state, coda)

    def _log_probs(self, state):
        return torch.log_softmax(self._peek_logits(state).float(), -1)

    def _met(self, h, nxt, loop):
        c = self.criterion
        if c == "residual":
            return (nxt - h).norm(dim=-1) / (h.norm(dim=-1) + 1e-12) < self.threshold
        if c in ("kl", "entropy"):
            logp = self._log_probs(nxt)
            p = logp.exp()
            if c == "kl":
                change = (p * (logp - self.prev_logp)).sum(-1)
            else:
                change = ((p * logp).sum(-1) - (self.prev_logp.exp() * self.prev_logp).sum(-1)).abs()
            self.prev_logp = logp
            return change < self.threshold
        last = loop + 1 == self.n_loops  # the last loop takes the remaining mass
        lam = torch.ones_like(self.survive) if last else exit_probability(self.model, nxt)
        p = lam * self.survive
        self.survive = self.survive * (1 - lam)
        self.cumulative = self.cumulative + p
        if c == "gate":
            return self.cumulative >= self.threshold
        weighted = p.unsqueeze(-1) * self._peek_logits(nxt)
        self.expected = weighted if self.expected is None else self.expected + weighted
        return torch.zeros_like(self.active)

    def step(self, h, nxt, loop):
        kept = torch.where(self.active.unsqueeze(-1), nxt, h)
        self.loops += self.active.long()
        self.active = self.active & ~self._met(h, nxt, loop)
        return kept
