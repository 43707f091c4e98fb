"""Loading and saving stars models: a run directory, RUN/model.safetensors (the config in
its metadata) or RUN/state_dict.pt (the config in config.json beside it)."""
import json
import os

import torch

from . import safetensors
from .model import LoopLM
from .tokenizer import tokenizer_for

CONFIG_KEY = "stars.config"


def load_archive(path):
    """torch.load of a LibTorch-written file (RUN/state_dict.pt), on the CPU.

    PyTorch 2.6 and later load with weights_only=True, which refuses the one function
    LibTorch's pickler writes beside a typed dict, torch.jit._pickle.restore_type_tag (it
    only restores the dict's type annotation): that function alone is allowed, so the file
    still loads without running arbitrary code. Older PyTorch loads it as it is.
    """
    serialization = torch.serialization
    if hasattr(serialization, "safe_globals"):
        from torch.jit._pickle import restore_type_tag

        with serialization.safe_globals([restore_type_tag]):
            return torch.load(path, map_location="cpu", weights_only=True)
    return torch.load(path, map_location="cpu")


def _weights_and_config(path):
    if os.path.isdir(path):
        for name in ("model.safetensors", "state_dict.pt"):
            if os.path.exists(os.path.join(path, name)):
                return _weights_and_config(os.path.join(path, name))
        raise FileNotFoundError(f"{path}: no model.safetensors or state_dict.pt inside")
    beside = os.path.join(os.path.dirname(path), "config.json")
    if path.endswith(".safetensors"):
        tensors, metadata = safetensors.read(path)
        if CONFIG_KEY in metadata:
            return tensors, json.loads(metadata[CONFIG_KEY])
    else:
        tensors = load_archive(path)
    if not os.path.exists(beside):
        raise FileNotFoundError(f"{path}: no '{CONFIG_KEY}' metadata and no config.json beside it")
    with open(beside) as f:
        return tensors, json.load(f)


def load(path, device="cpu"):
    """The model at `path` (a run directory, a .safetensors file or a state_dict.pt), in
    eval mode, with its full config as `model.config`."""
    tensors, config = _weights_and_config(path)
    # A chat model's vocabulary is its BPE tokenizer's, saved beside it: read its size off
    # the embedding.
    chat = config.get("data", {}).get("task") == "chat"
    vocab_size = tensors["tok_emb.weight"].shape[0] if chat else tokenizer_for(config).vocab_size
    model = LoopLM(config.get("model", {}), vocab_size)
    model.load_state_dict({k: v.float() for k, v in tensors.items()})
    model.config = config
    return model.to(device).eval()


def save(model, path, config=None):
    """Writes the model's weights as safetensors with its config (`config`, else
    `model.config`, else its model settings) in the metadata, readable by stars-eval
    --checkpoint and stars-train --init."""
    config = config or getattr(model, "config", None) or {"model": model.cfg}
    safetensors.write(path, {k: v.float() for k, v in model.state_dict().items()},
                      {"format": "pt", CONFIG_KEY: json.dumps(config)})
