"""Loads RUN/state_dict.pt with Python's torch.load (through stars_torch.load_archive, which
PyTorch 2.6+'s weights-only loading needs) and checks names, shapes and values against the
config and the checkpoint's own parameter count."""
import json
import sys

import torch

sys.path.insert(0, f"{__file__.rsplit('/', 3)[0]}/python")
from stars_torch import load_archive, safetensors  # noqa: E402

run = sys.argv[1]
cfg = json.load(open(f"{run}/config.json"))
sd = load_archive(f"{run}/state_dict.pt")
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

# model.safetensors holds the same tensors, and the run's config in its metadata; read
# without the safetensors library, as on Debian.
tensors, metadata = safetensors.read(f"{run}/model.safetensors")
assert sorted(tensors) == sorted(sd), sorted(set(tensors) ^ set(sd))
for name, t in sd.items():
    assert torch.equal(tensors[name], t), f"{name} differs between state_dict.pt and safetensors"
assert json.loads(metadata["stars.config"]) == cfg, "config in the metadata differs"

# scripts/export_weights.py, given only model.pt and config.json, writes the same tensors.
import os, shutil, subprocess, tempfile  # noqa: E401,E402

with tempfile.TemporaryDirectory() as tmp:
    for name in ("model.pt", "config.json"):
        shutil.copy(f"{run}/{name}", tmp)
    script = f"{__file__.rsplit('/', 3)[0]}/scripts/export_weights.py"
    subprocess.run([sys.executable, script, tmp], check=True, stdout=subprocess.DEVNULL)
    exported = load_archive(os.path.join(tmp, "state_dict.pt"))
    from_model, _ = safetensors.read(os.path.join(tmp, "model.safetensors"))
    for name, t in sd.items():
        assert torch.equal(exported[name], t) and torch.equal(from_model[name], t), name
print(f"ok: model.safetensors and export_weights.py give the same {len(sd)} tensors")
