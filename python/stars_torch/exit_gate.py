"""Ouro's learned exit, as stars/model/exit_gate.hpp: λ_t = σ(gate(h_t)) is the probability
of stopping after loop t given no earlier loop stopped, and p_t = λ_t Π_{s<t}(1 − λ_s), the
last loop taking the remaining mass."""
import torch


def exit_probability(model, state):
    """λ for every position: (B, T, D) -> (B, T)."""
    gate = getattr(model, "exit_gate", None)
    if gate is None:
        raise ValueError("this model has no exit gate (model.exit_gate = false)")
    return torch.sigmoid(gate(state).squeeze(-1))


def exit_distribution(lambdas):
    """The exit distribution (T, ...) from the per-loop λ_1..λ_T; sums to one over loops."""
    if not lambdas:
        raise ValueError("exit_distribution: no loops")
    p, survive = [], torch.ones_like(lambdas[0])
    for lam in lambdas[:-1]:
        p.append(lam * survive)
        survive = survive * (1 - lam)
    p.append(survive)
    return torch.stack(p)
