"""The stars LoopLM as a torch.nn.Module, equal to the C++ model for every model option.

    h0 = prelude(drop(tok_emb(x) + pos_emb(p)))       e = h0 (the embedded input)
    h_{i+1} = core(inject(h_i, e))                    (i < t; one shared block, t calls)
    logits = norm_f(coda(h_t)) @ tok_emb.weight^T     (head tied to the token embedding)

With the options of pretrained LoopLMs (Ouro): rotary positions instead of pos_emb,
SwiGLU, no biases, grouped-query attention, an untied linear head, and the final norm at
the end of every loop (norm_in_loop; the readout then applies none).

Parameter names are those of the C++ model, so its state_dict loads as is.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from .token_exit import TokenExitState

PLACEMENTS = ("pre", "post", "pre_sandwich", "post_sandwich")
NORM_TYPES = ("layernorm", "rmsnorm", "simplenorm")
INJECTIONS = ("none", "add", "concat")
POSITIONS = ("learned", "rope")
MLPS = ("gelu", "swiglu")

# The model section's keys and their defaults (those of stars' ModelConfig).
MODEL_DEFAULTS = {
    "d_model": 192, "n_heads": 6, "d_ff": 384, "n_core_layers": 1, "n_prelude_layers": 0,
    "n_coda_layers": 0, "norm_placement": "post_sandwich", "norm_type": "layernorm",
    "inject": "none", "dropout": 0.0, "max_len": 64, "init_std": 0.05,
    "positions": "learned", "rope_theta": 10000.0, "mlp": "gelu", "n_kv_heads": 0,
    "bias": True, "tied_head": True, "norm_in_loop": False, "norm_eps": 1e-5,
    "exit_gate": False,
}


def model_config(section):
    """The model section of a stars config with defaults filled in; unknown keys or values
    raise ValueError naming them."""
    unknown = set(section) - set(MODEL_DEFAULTS)
    if unknown:
        raise ValueError(f"model config: unknown keys {sorted(unknown)}; "
                         f"valid: {sorted(MODEL_DEFAULTS)}")
    cfg = dict(MODEL_DEFAULTS, **section)
    for key, valid in (("norm_placement", PLACEMENTS), ("norm_type", NORM_TYPES),
                       ("inject", INJECTIONS), ("positions", POSITIONS), ("mlp", MLPS)):
        if cfg[key] not in valid:
            raise ValueError(f"model.{key} = {cfg[key]!r}; valid: {', '.join(valid)}")
    if cfg["d_model"] % cfg["n_heads"]:
        raise ValueError(f"model.n_heads = {cfg['n_heads']} must divide "
                         f"model.d_model = {cfg['d_model']}")
    if cfg["n_kv_heads"] and cfg["n_heads"] % cfg["n_kv_heads"]:
        raise ValueError(f"model.n_kv_heads = {cfg['n_kv_heads']} must divide "
                         f"model.n_heads = {cfg['n_heads']}")
    return cfg


class Norm(nn.Module):
    """LayerNorm, RMSNorm, or SimpleNorm (LayerNorm without weight and bias)."""

    def __init__(self, kind, dim, eps=1e-5):
        super().__init__()
        self.kind, self.eps = kind, eps
        if kind != "simplenorm":
            self.weight = nn.Parameter(torch.ones(dim))
        if kind == "layernorm":
            self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        if self.kind == "rmsnorm":  # in float32 for half precisions, then the weight
            xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
            return self.weight * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
                                  ).to(x.dtype)
        if self.kind == "layernorm":
            return F.layer_norm(x, x.shape[-1:], self.weight, self.bias, self.eps)
        return F.layer_norm(x, x.shape[-1:], None, None, self.eps)


class KVCache:
    """Keys and values of the positions already seen, per attention layer."""

    def __init__(self):
        self.k = None
        self.v = None


def rotary_embedding(x, offset, theta):
    """RoPE of x (B, T, heads, head_dim) at positions offset.., halves [x1 | x2] rotated to
    [-x2 | x1], angles in float32 (the Hugging Face convention)."""
    T, dim = x.shape[1], x.shape[3]
    inv_freq = 1.0 / theta ** (torch.arange(0, dim, 2, device=x.device).float() / dim)
    positions = torch.arange(offset, offset + T, device=x.device, dtype=torch.float32)
    freqs = torch.outer(positions, inv_freq)
    angles = torch.cat([freqs, freqs], -1).view(1, T, 1, dim)
    x1, x2 = x.chunk(2, -1)
    rotated = torch.cat([-x2, x1], -1)
    return x * angles.cos().to(x.dtype) + rotated * angles.sin().to(x.dtype)


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["d_model"]
        self.n_heads = cfg["n_heads"]
        self.n_kv_heads = cfg["n_kv_heads"] or self.n_heads
        self.head_dim = d // self.n_heads
        self.rope_theta = cfg["rope_theta"] if cfg["positions"] == "rope" else None
        self.qkv = nn.Linear(d, d + 2 * self.n_kv_heads * self.head_dim, bias=cfg["bias"])
        self.proj = nn.Linear(d, d, bias=cfg["bias"])
        self.drop = nn.Dropout(cfg["dropout"])

    def _heads(self, x, offset):
        """q, k, v as (B, heads, T, head_dim): rotated, key/value heads repeated."""
        B, T, D = x.shape
        kv = self.n_kv_heads * self.head_dim
        q, k, v = self.qkv(x).split([D, kv, kv], dim=2)
        q = q.view(B, T, self.n_heads, self.head_dim)
        k = k.view(B, T, self.n_kv_heads, self.head_dim)
        v = v.view(B, T, self.n_kv_heads, self.head_dim)
        if self.rope_theta is not None:
            q = rotary_embedding(q, offset, self.rope_theta)
            k = rotary_embedding(k, offset, self.rope_theta)
        r = self.n_heads // self.n_kv_heads  # kv head j serves query heads j·r .. j·r + r − 1
        k, v = (t.repeat_interleave(r, dim=2) for t in (k, v))
        return (t.transpose(1, 2) for t in (q, k, v))

    def forward(self, x, cache=None):
        B, T, D = x.shape
        hs = self.head_dim
        offset = cache.k.shape[2] if cache is not None and cache.k is not None else 0
        q, k, v = self._heads(x, offset)
        if cache is not None:
            if cache.k is not None:
                k = torch.cat([cache.k, k], 2)
                v = torch.cat([cache.v, v], 2)
            cache.k, cache.v = k, v
        past = k.shape[2] - T
        att = q @ k.transpose(-2, -1) / math.sqrt(hs)
        allowed = (torch.arange(past + T, device=x.device)[None, :]
                   <= (torch.arange(T, device=x.device) + past)[:, None])
        att = torch.softmax(att.masked_fill(~allowed, float("-inf")), -1)
        y = (self.drop(att) @ v).transpose(1, 2).reshape(B, T, D)
        return self.proj(y)


class TransformerLayer(nn.Module):
    """Attention then a GELU MLP, each wrapped by the norm placement:
    pre x + f(N_in(x)); post N_out(x + f(x)); pre_sandwich x + N_out(f(N_in(x)));
    post_sandwich N_out(x + f(N_in(x)))."""

    def __init__(self, cfg):
        super().__init__()
        d = cfg["d_model"]
        self.placement = cfg["norm_placement"]
        f, bias = cfg["d_ff"], cfg["bias"]
        self.attn = CausalSelfAttention(cfg)
        if cfg["mlp"] == "gelu":
            self.fc = nn.Linear(d, f, bias=bias)
            self.out = nn.Linear(f, d, bias=bias)
        else:
            self.gate = nn.Linear(d, f, bias=bias)
            self.up = nn.Linear(d, f, bias=bias)
            self.down = nn.Linear(f, d, bias=bias)
        self.drop = nn.Dropout(cfg["dropout"])
        norm = lambda: Norm(cfg["norm_type"], d, cfg["norm_eps"])  # noqa: E731
        if self.placement != "post":
            self.norm1_in, self.norm2_in = norm(), norm()
        if self.placement != "pre":
            self.norm1_out, self.norm2_out = norm(), norm()

    def _wrap(self, x, f, norm_in, norm_out):
        if self.placement == "pre":
            return x + f(norm_in(x))
        if self.placement == "post":
            return norm_out(x + f(x))
        if self.placement == "pre_sandwich":
            return x + norm_out(f(norm_in(x)))
        return norm_out(x + f(norm_in(x)))

    def _mlp(self, h):
        if hasattr(self, "fc"):
            return self.out(F.gelu(self.fc(h)))
        return self.down(F.silu(self.gate(h)) * self.up(h))

    def forward(self, x, cache=None):
        attend = lambda h: self.drop(self.attn(h, cache))  # noqa: E731
        mlp = lambda h: self.drop(self._mlp(h))  # noqa: E731
        h = self._wrap(x, attend, getattr(self, "norm1_in", None), getattr(self, "norm1_out", None))
        return self._wrap(h, mlp, getattr(self, "norm2_in", None), getattr(self, "norm2_out", None))


def relative_residual(nxt, prev):
    """|next - prev| / |prev| per sequence: (B, T, D) -> (B)."""
    return (nxt - prev).flatten(1).norm(dim=1) / (prev.flatten(1).norm(dim=1) + 1e-12)


class DecodeCache:
    """Key/value caches for incremental decoding; the core has one per loop."""

    def __init__(self):
        self.prelude, self.coda, self.core, self.length = [], [], [], 0


def _run_layers(layers, x, caches):
    if caches is not None:
        caches.extend(KVCache() for _ in range(len(layers) - len(caches)))
    for i, layer in enumerate(layers):
        x = layer(x, caches[i] if caches is not None else None)
    return x


class LoopLM(nn.Module):
    def __init__(self, cfg, vocab_size):
        super().__init__()
        self.cfg = cfg = model_config(cfg)
        d = cfg["d_model"]
        self.tok_emb = nn.Embedding(vocab_size, d)
        if cfg["positions"] == "learned":
            self.pos_emb = nn.Embedding(cfg["max_len"], d)
        self.drop = nn.Dropout(cfg["dropout"])
        self.prelude = nn.ModuleList(TransformerLayer(cfg) for _ in range(cfg["n_prelude_layers"]))
        self.core = nn.ModuleList(TransformerLayer(cfg) for _ in range(cfg["n_core_layers"]))
        self.coda = nn.ModuleList(TransformerLayer(cfg) for _ in range(cfg["n_coda_layers"]))
        if cfg["inject"] == "concat":
            self.inject_proj = nn.Linear(2 * d, d)
        self.norm_f = Norm(cfg["norm_type"], d, cfg["norm_eps"])
        if not cfg["tied_head"]:
            self.head = nn.Linear(d, vocab_size, bias=False)
        if cfg["exit_gate"]:  # Ouro's early_exit_gate: one exit logit per position per loop
            self.exit_gate = nn.Linear(d, 1)
        self._init_weights(cfg["init_std"])

    def _init_weights(self, std):
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, std)
                if isinstance(m, nn.Linear) and m.bias is not None:
                    nn.init.zeros_(m.bias)

    def embed(self, tokens, offset=0, cache=None):
        """Embedding and prelude: (B, T) -> (B, T, D), positions from `offset`."""
        T = tokens.shape[1]
        if offset + T > self.cfg["max_len"]:
            raise ValueError(f"sequence of {offset + T} tokens exceeds "
                             f"model.max_len = {self.cfg['max_len']}")
        x = self.tok_emb(tokens)
        if hasattr(self, "pos_emb"):
            x = x + self.pos_emb(torch.arange(offset, offset + T, device=tokens.device))
        return _run_layers(self.prelude, self.drop(x), cache)

    def core_step(self, h, e, cache=None):
        """One application of the shared core with input injection (and the final norm when
        it sits in the loop): the state map Φ."""
        if self.cfg["inject"] == "add":
            h = h + e
        elif self.cfg["inject"] == "concat":
            h = self.inject_proj(torch.cat([h, e], -1))
        h = _run_layers(self.core, h, cache)
        return self.norm_f(h) if self.cfg["norm_in_loop"] else h

    def readout(self, h, cache=None):
        """Coda, final norm (unless in the loop) and the head: (B, T, D) -> (B, T, V)."""
        x = _run_layers(self.coda, h, cache)
        if not self.cfg["norm_in_loop"]:
            x = self.norm_f(x)
        return self.head(x) if hasattr(self, "head") else x @ self.tok_emb.weight.t()

    def forward(self, tokens, n_loops=4, exit_tol=0.0, cache=None, return_state=False,
                token_exit=None):
        """Logits (B, T, V) after `n_loops` applications of the core. With exit_tol > 0 a
        sequence stops looping once one loop moves its state by less than exit_tol,
        relatively (adaptive exit); with token_exit (a rule such as "kl:1e-3", see
        token_exit.py) each position stops on its own. `return_state` also gives (h_t, e,
        loops used): (B) per sequence, (B, T) per position with token_exit."""
        if token_exit not in (None, "off"):
            if exit_tol > 0:
                raise ValueError("adaptive exit: choose exit_tol or token_exit, not both")
            return self._forward_token_exit(tokens, n_loops, token_exit, cache, return_state)
        offset = cache.length if cache is not None else 0
        e = self.embed(tokens, offset, cache.prelude if cache is not None else None)
        if cache is not None:
            cache.core.extend([] for _ in range(n_loops - len(cache.core)))
        h = e
        active = torch.ones(tokens.shape[0], dtype=torch.bool, device=tokens.device)
        loops = torch.zeros(tokens.shape[0], dtype=torch.long, device=tokens.device)
        for i in range(n_loops):
            nxt = self.core_step(h, e, cache.core[i] if cache is not None else None)
            if exit_tol > 0:
                kept = torch.where(active.view(-1, 1, 1), nxt, h)
                loops += active.long()
                active = active & (relative_residual(nxt, h) >= exit_tol)
                h = kept
            else:
                h = nxt
        if exit_tol <= 0:
            loops.fill_(n_loops)
        logits = self.readout(h, cache.coda if cache is not None else None)
        if cache is not None:
            cache.length += tokens.shape[1]
        return (logits, h, e, loops) if return_state else logits

    def _forward_token_exit(self, tokens, n_loops, rule, cache, return_state):
        offset = cache.length if cache is not None else 0
        e = self.embed(tokens, offset, cache.prelude if cache is not None else None)
        if cache is not None:
            cache.core.extend([] for _ in range(n_loops - len(cache.core)))
        h = e
        state = TokenExitState(self, rule, e, cache, n_loops) if n_loops > 0 else None
        for i in range(n_loops):
            h = state.step(h, self.core_step(h, e, cache.core[i] if cache is not None else None), i)
        logits = self.readout(h, cache.coda if cache is not None else None)
        if state is not None and state.expected is not None:
            logits = state.expected
        if cache is not None:
            cache.length += tokens.shape[1]
        loops = state.loops if state is not None else torch.zeros(tokens.shape, dtype=torch.long)
        return (logits, h, e, loops) if return_state else logits

    def state_map(self, e):
        """Φ at a fixed input e: h -> core(inject(h, e))."""
        e = e.detach()
        return lambda h: self.core_step(h, e)
