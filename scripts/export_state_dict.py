#!/usr/bin/env python3
"""Writes RUN/state_dict.pt (parameter name -> tensor, as stars-train writes it at the end
of a run) from RUN/model.pt, for models trained before runs wrote it.

    python3 scripts/export_state_dict.py models/stars-add4 [models/fixed-pre ...]

Needs Python's torch (Debian: python3-torch). An existing state_dict.pt is left alone.
"""
import os
import sys

import torch


def export(run):
    model_path, out = os.path.join(run, "model.pt"), os.path.join(run, "state_dict.pt")
    if not os.path.exists(model_path):
        sys.exit(f"export_state_dict.py: {model_path} not found (want a run directory)")
    if os.path.exists(out):
        print(f"{out} exists; left alone")
        return
    module = torch.jit.load(model_path, map_location="cpu")
    prefix = "model."  # the checkpoint wraps the LoopLM's parameters in a `model` submodule
    tensors = dict(module.named_parameters())
    tensors.update(dict(module.named_buffers()))
    sd = {name[len(prefix):]: t.detach().clone() for name, t in tensors.items()
          if name.startswith(prefix)}
    if not sd:
        sys.exit(f"export_state_dict.py: {model_path} holds no '{prefix}*' tensors")
    torch.save(sd, out + ".tmp")
    os.replace(out + ".tmp", out)
    print(f"wrote {out} ({len(sd)} tensors)")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for run in sys.argv[1:]:
        export(run)
