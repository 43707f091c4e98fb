"""The latent dynamics' Jacobian J = dΦ/dh at a state: its spectral radius by power
iteration over vector-Jacobian products (J and Jᵀ share eigenvalues)."""
import torch

from ._compat import renamed


def vjp(state_map, state, v):
    """vᵀJ, J the Jacobian of `state_map` at `state`."""
    with torch.enable_grad():
        x = state.detach().requires_grad_(True)
        (u,) = torch.autograd.grad(state_map(x), x, v)
    return u


def spectral_radius(state_map, state, max_iters=100, tol=1e-3, start=None):
    """Per-sequence estimate of ρ(J) at `state` (B, T, D) by power iteration on vᵀJ from
    `start` (default: random normal): (rho (B), iterations run). Stops when every
    sequence's estimate moved by less than `tol`, relatively."""
    with torch.enable_grad():
        x = state.detach().requires_grad_(True)
        y = state_map(x)
        v = torch.randn_like(x) if start is None else start.to(x)
        v = v / v.flatten(1).norm(dim=1).clamp_min(1e-30).view(-1, 1, 1)
        prev = None
        for it in range(1, max_iters + 1):
            (u,) = torch.autograd.grad(y, x, v, retain_graph=True)
            rho = u.flatten(1).norm(dim=1)
            v = u / rho.clamp_min(1e-30).view(-1, 1, 1)
            if prev is not None and bool(((rho - prev).abs() / (prev + 1e-30)).max() < tol):
                break
            prev = rho
    return rho.detach(), it


@renamed(n_loops="depth")
def loop_diagnostics(model, tokens, depth):
    """State norm, relative residual of one more loop, and ρ at h_t (the state after `depth`
    loops), per sequence."""
    from .model import relative_residual
    with torch.no_grad():
        _, h, e, _ = model(tokens, depth, return_state=True)
        nxt = model.core_step(h, e)
    rho, _ = spectral_radius(model.state_map(e), h)
    return {"state_norm": h.flatten(1).norm(dim=1), "residual": relative_residual(nxt, h),
            "rho": rho}
