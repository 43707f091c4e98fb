"""Models in the Hugging Face layout of Ouro's checkpoints (docs/pretrained.md), as the C++
side reads and writes them: config.json with Ouro's keys (and the complete stars config
under "stars" when stars wrote it), the weights under Ouro's tensor names in
model.safetensors or in shards listed by model.safetensors.index.json."""
import json
import os

import torch

from . import safetensors
from .model import LoopLM, model_config
from .tokenizer import tokenizer_for

CONFIG_FILE, WEIGHTS_FILE, INDEX_FILE = (
    "config.json", "model.safetensors", "model.safetensors.index.json")
GATE_TENSOR = "model.early_exit_gate.weight"

_USED_KEYS = {
    "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
    "head_dim", "intermediate_size", "rms_norm_eps", "rope_theta", "vocab_size", "hidden_act",
    "max_position_embeddings", "initializer_range", "model_type", "layer_types",
    "tie_word_embeddings", "attention_dropout", "rope_scaling", "use_sliding_window",
    "total_ut_steps", "stars"}
_IGNORED_KEYS = {
    "architectures", "auto_map", "torch_dtype", "transformers_version", "use_cache",
    "bos_token_id", "eos_token_id", "pad_token_id", "sliding_window", "max_window_layers",
    "early_exit_threshold", "early_exit_step", "chunk_size", "_name_or_path"}
# What the layout fixes, whatever config.json says.
_FIXED = {"n_prelude_layers": 0, "n_coda_layers": 0, "inject": "none", "positions": "rope",
          "mlp": "swiglu", "bias": False, "norm_type": "rmsnorm",
          "norm_placement": "pre_sandwich", "norm_in_loop": True}
_DTYPE_NAMES = {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}


def _int(config, key, origin):
    value = config.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{origin}: {key!r} = {value!r} must be a positive integer")
    return value


def _check_keys(config, origin):
    unknown = sorted(set(config) - _USED_KEYS - _IGNORED_KEYS)
    if unknown:
        raise ValueError(f"{origin}: unknown keys {unknown}; stars reads Ouro's config.json keys")
    for key, needed in (("hidden_act", "silu"), ("model_type", "ouro")):
        if key in config and config[key] != needed:
            raise ValueError(f"{origin}: {key!r} = {config[key]!r}: stars implements only "
                             f"{needed!r}")
    if config.get("use_sliding_window"):
        raise ValueError(f"{origin}: 'use_sliding_window' = true: full attention only")
    if any(t != "full_attention" for t in config.get("layer_types") or []):
        raise ValueError(f"{origin}: 'layer_types' must all be 'full_attention'")
    scaling = config.get("rope_scaling")
    if scaling is not None and (scaling.get("rope_type", scaling.get("type")) != "default"):
        raise ValueError(f"{origin}: 'rope_scaling' = {scaling!r}: unscaled rotary only (null)")


def model_settings(config, exit_gate, origin=CONFIG_FILE, base_kv_heads=0):
    """The stars model settings of an Ouro config.json (a dict). One key/value head per
    query head is n_kv_heads 0 or n_heads in stars: `base_kv_heads` (the "stars" config's)
    keeps its spelling, as the C++ reader does."""
    _check_keys(config, origin)
    d, heads = _int(config, "hidden_size", origin), _int(config, "num_attention_heads", origin)
    if "head_dim" in config and _int(config, "head_dim", origin) * heads != d:
        raise ValueError(f"{origin}: 'head_dim' = {config['head_dim']} is not "
                         f"hidden_size / num_attention_heads")
    kv = _int(config, "num_key_value_heads", origin) if "num_key_value_heads" in config else heads
    if kv == heads and base_kv_heads in (0, heads):
        kv = base_kv_heads
    settings = {
        "d_model": d, "n_heads": heads, "n_kv_heads": kv,
        "d_ff": _int(config, "intermediate_size", origin),
        "n_core_layers": _int(config, "num_hidden_layers", origin),
        "max_len": _int(config, "max_position_embeddings", origin)
        if "max_position_embeddings" in config else 32768,
        "norm_eps": float(config.get("rms_norm_eps", 1e-6)),
        "rope_theta": float(config.get("rope_theta", 10000.0)),
        "init_std": float(config.get("initializer_range", 0.02)),
        "dropout": float(config.get("attention_dropout", 0.0)),
        "tied_head": bool(config.get("tie_word_embeddings", False)),
        "exit_gate": bool(exit_gate), **_FIXED}
    return model_config(settings)


def _links(cfg, vocab_size):
    """(stars name, [(Hugging Face name, shape), ...]) in the layout's order."""
    d, f = cfg["d_model"], cfg["d_ff"]
    kv = (cfg["n_kv_heads"] or cfg["n_heads"]) * (d // cfg["n_heads"])
    out = [("tok_emb.weight", [("model.embed_tokens.weight", (vocab_size, d))])]
    for i in range(cfg["n_core_layers"]):
        hf, st = f"model.layers.{i}.", f"core.{i}."
        out += [
            (st + "attn.qkv.weight", [(hf + "self_attn.q_proj.weight", (d, d)),
                                      (hf + "self_attn.k_proj.weight", (kv, d)),
                                      (hf + "self_attn.v_proj.weight", (kv, d))]),
            (st + "attn.proj.weight", [(hf + "self_attn.o_proj.weight", (d, d))]),
            (st + "gate.weight", [(hf + "mlp.gate_proj.weight", (f, d))]),
            (st + "up.weight", [(hf + "mlp.up_proj.weight", (f, d))]),
            (st + "down.weight", [(hf + "mlp.down_proj.weight", (d, f))]),
            (st + "norm1_in.weight", [(hf + "input_layernorm.weight", (d,))]),
            (st + "norm1_out.weight", [(hf + "input_layernorm_2.weight", (d,))]),
            (st + "norm2_in.weight", [(hf + "post_attention_layernorm.weight", (d,))]),
            (st + "norm2_out.weight", [(hf + "post_attention_layernorm_2.weight", (d,))])]
    out.append(("norm_f.weight", [("model.norm.weight", (d,))]))
    if cfg["exit_gate"]:
        out += [("exit_gate.weight", [(GATE_TENSOR, (1, d))]),
                ("exit_gate.bias", [("model.early_exit_gate.bias", (1,))])]
    if not cfg["tied_head"]:
        out.append(("head.weight", [("lm_head.weight", (vocab_size, d))]))
    return out


def _read_tensors(directory):
    index_path = os.path.join(directory, INDEX_FILE)
    if not os.path.exists(index_path):
        return safetensors.read(os.path.join(directory, WEIGHTS_FILE))[0]
    with open(index_path) as f:
        weight_map = json.load(f).get("weight_map")
    if not isinstance(weight_map, dict) or not weight_map:
        raise ValueError(f"{index_path}: needs a 'weight_map' of tensor name to file name")
    tensors = {}
    for file in sorted(set(weight_map.values())):
        if not isinstance(file, str) or not file or "/" in file or "\\" in file or \
                file in (".", ".."):
            raise ValueError(f"{index_path}: {file!r} must name a file in the model's directory")
        shard = safetensors.read(os.path.join(directory, file))[0]
        for name in shard:
            if weight_map.get(name) != file:
                raise ValueError(f"{file} holds tensor {name!r}, which {INDEX_FILE} does not "
                                 f"list there")
        tensors.update(shard)
    missing = sorted(set(weight_map) - set(tensors))
    if missing:
        raise ValueError(f"{index_path} lists tensors its shards do not hold: {missing}")
    return tensors


def _to_stars(tensors, cfg, vocab_size, origin):
    out, known = {}, set()
    for name, parts in _links(cfg, vocab_size):
        pieces = []
        for hf_name, shape in parts:
            known.add(hf_name)
            if hf_name not in tensors:
                raise ValueError(f"{origin}: no tensor {hf_name!r}; its config.json needs it")
            t = tensors[hf_name]
            if tuple(t.shape) != shape:
                raise ValueError(f"{origin}: tensor {hf_name!r} is {list(t.shape)}; its "
                                 f"config.json makes it {list(shape)}")
            pieces.append(t.float())
        out[name] = pieces[0] if len(pieces) == 1 else torch.cat(pieces, 0)
    unknown = sorted(set(tensors) - known)
    if unknown:
        raise ValueError(f"{origin}: tensors the model its config.json describes does not "
                         f"have: {unknown}")
    return out


def load_hf(directory, device="cpu", config=None):
    """The model in a Hugging Face directory, in eval mode, with its stars config as
    `model.config`. Without a "stars" config in config.json, `config` (a stars config)
    names the data settings; else the vocabulary is config.json's vocab_size."""
    origin = os.path.join(directory, CONFIG_FILE)
    with open(origin) as f:
        hf_config = json.load(f)
    tensors = _read_tensors(directory)
    declared = model_config(hf_config["stars"].get("model", {})) if "stars" in hf_config else None
    settings = model_settings(hf_config, GATE_TENSOR in tensors, origin,
                              declared["n_kv_heads"] if declared else 0)
    stars = hf_config.get("stars") or config
    if declared is not None:
        differ = {k: (declared[k], v) for k, v in settings.items() if declared[k] != v}
        if differ:
            raise ValueError(f"{origin}: its 'stars' config disagrees with its Ouro keys "
                             f"(stars, Ouro): {differ}")
    vocab_size = _int(hf_config, "vocab_size", origin)
    if stars is not None and tokenizer_for(stars).vocab_size != vocab_size:
        raise ValueError(f"{origin}: vocab_size = {vocab_size}, but the tokenizer of its stars "
                         f"config has {tokenizer_for(stars).vocab_size} tokens")
    model = LoopLM(settings, vocab_size)
    model.load_state_dict(_to_stars(tensors, settings, vocab_size, directory))
    model.config = dict(stars or {}, model=settings)
    return model.to(device).eval()


def _layout_mismatch(cfg):
    for key, needed in _FIXED.items():
        if cfg[key] != needed:
            return f"model.{key} = {cfg[key]!r} (the layout needs {needed!r})"
    return None


def save_hf(model, directory, config=None, dtype=torch.float32, max_shard_bytes=None, loops=4):
    """Writes `model` in the layout into `directory`, readable by stars-eval --checkpoint,
    stars-train --init and load_hf; shards of at most `max_shard_bytes` when it is given."""
    cfg = model.cfg
    why = _layout_mismatch(cfg)
    if why:
        raise ValueError(f"cannot write the Hugging Face layout: {why}")
    if dtype not in _DTYPE_NAMES:
        raise ValueError(f"dtype {dtype}: float32, bfloat16 or float16 only")
    config = config or getattr(model, "config", None) or {"model": cfg}
    state = model.state_dict()
    vocab_size = state["tok_emb.weight"].shape[0]
    tensors = {}
    for name, parts in _links(cfg, vocab_size):
        row = 0
        for hf_name, shape in parts:
            tensors[hf_name] = state[name][row:row + shape[0]].to(dtype)
            row += shape[0]
    os.makedirs(directory, exist_ok=True)
    _write_weights(directory, tensors, max_shard_bytes)
    d = cfg["d_model"]
    hf_config = {
        "architectures": ["OuroForCausalLM"], "model_type": "ouro", "hidden_size": d,
        "num_hidden_layers": cfg["n_core_layers"], "num_attention_heads": cfg["n_heads"],
        "num_key_value_heads": cfg["n_kv_heads"] or cfg["n_heads"],
        "head_dim": d // cfg["n_heads"], "intermediate_size": cfg["d_ff"],
        "rms_norm_eps": cfg["norm_eps"], "rope_theta": cfg["rope_theta"],
        "max_position_embeddings": cfg["max_len"], "initializer_range": cfg["init_std"],
        "tie_word_embeddings": cfg["tied_head"], "attention_dropout": cfg["dropout"],
        "vocab_size": vocab_size, "hidden_act": "silu", "use_cache": True,
        "use_sliding_window": False, "total_ut_steps": loops, "early_exit_threshold": 1.0,
        "torch_dtype": _DTYPE_NAMES[dtype], "stars": dict(config, model=cfg)}
    with open(os.path.join(directory, CONFIG_FILE), "w") as f:
        json.dump(hf_config, f, indent=2)


def _write_weights(directory, tensors, max_shard_bytes):
    shards, size = [{}], 0
    for name, t in tensors.items():
        nbytes = t.numel() * t.element_size()
        if max_shard_bytes and shards[-1] and size + nbytes > max_shard_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = t
        size += nbytes
    for stale in (WEIGHTS_FILE, INDEX_FILE):
        if os.path.exists(os.path.join(directory, stale)):
            os.remove(os.path.join(directory, stale))
    if len(shards) == 1:
        safetensors.write(os.path.join(directory, WEIGHTS_FILE), shards[0], {"format": "pt"})
        return
    weight_map, total = {}, 0
    for i, shard in enumerate(shards):
        file = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        safetensors.write(os.path.join(directory, file), shard, {"format": "pt"})
        for name, t in shard.items():
            weight_map[name] = file
            total += t.numel() * t.element_size()
    with open(os.path.join(directory, INDEX_FILE), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
