#!/usr/bin/env python3
"""Writes RUN/state_dict.pt (parameter name -> tensor) and RUN/model.safetensors (the same
tensors, the run's config in the metadata), as stars-train writes them at the end of a run,
from RUN/model.pt, for models trained before runs wrote them.

    python3 scripts/export_weights.py models/stars-add4 [models/fixed-pre ...]

Needs Python's torch (Debian: python3-torch). Existing files are left alone.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from stars_torch import safetensors  # noqa: E402


def checksum(path):
    """stars' checksum of a file's bytes (64-bit FNV-1a), as in FILE.sum."""
    h = 14695981039346656037
    with open(path, "rb") as f:
        for byte in f.read():
            h = ((h ^ byte) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return f"fnv1a64:{h:016x}"


def write_with_checksum(path, write):
    write(path + ".tmp")
    with open(path + ".sum.tmp", "w") as f:
        f.write(checksum(path + ".tmp") + "\n")
    os.replace(path + ".sum.tmp", path + ".sum")
    os.replace(path + ".tmp", path)
    print(f"wrote {path}")


def weights_of(model_path):
    module = torch.jit.load(model_path, map_location="cpu")
    prefix = "model."  # the checkpoint wraps the LoopLM's parameters in a `model` submodule
    tensors = dict(module.named_parameters())
    tensors.update(dict(module.named_buffers()))
    sd = {name[len(prefix):]: t.detach().clone() for name, t in tensors.items()
          if name.startswith(prefix)}
    if not sd:
        sys.exit(f"export_weights.py: {model_path} holds no '{prefix}*' tensors")
    return sd


def export(run):
    model_path = os.path.join(run, "model.pt")
    if not os.path.exists(model_path):
        sys.exit(f"export_weights.py: {model_path} not found (want a run directory)")
    sd = weights_of(model_path)
    state_dict = os.path.join(run, "state_dict.pt")
    if not os.path.exists(state_dict):
        write_with_checksum(state_dict, lambda tmp: torch.save(sd, tmp))
    st_path = os.path.join(run, "model.safetensors")
    if not os.path.exists(st_path):
        with open(os.path.join(run, "config.json")) as f:
            config = json.load(f)
        metadata = {"format": "pt", "stars.config": json.dumps(config, separators=(",", ":"))}
        write_with_checksum(st_path, lambda tmp: safetensors.write(tmp, sd, metadata))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for run in sys.argv[1:]:
        export(run)
