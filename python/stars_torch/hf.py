"""Models in the Hugging Face layout of Ouro's checkpoints (docs/pretrained.md), as the C++
side reads and writes them: config.json with Ouro's keys (and the complete stars config
under "stars" when stars wrote it), the weights under Ouro's tensor names in
model.safetensors or in shards listed by model.safetensors.index.json. Every file is read
as hostile input: whatever does not fit is a ValueError naming the file and the key or
tensor."""
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


# --- config.json ------------------------------------------------------------------------

def _int(config, key, origin):
    value = config.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{origin}: {key!r} = {value!r} must be a positive integer")
    return value


def _number(config, key, fallback, origin):
    value = config.get(key, fallback)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ValueError(f"{origin}: {key!r} = {value!r} must be a number")
    return float(value)


def _flag(config, key, origin):
    """A boolean key, false when absent or null (a string "false" would read as true)."""
    value = config.get(key)
    if value is not None and not isinstance(value, bool):
        raise ValueError(f"{origin}: {key!r} = {value!r} must be true or false")
    return bool(value)


def _check_keys(config, origin):
    unknown = sorted(set(config) - _USED_KEYS - _IGNORED_KEYS)
    if unknown:
        raise ValueError(f"{origin}: unknown keys {unknown}; stars reads Ouro's config.json "
                         f"keys (docs/pretrained.md)")
    for key, needed in (("hidden_act", "silu"), ("model_type", "ouro")):
        if key in config and config[key] != needed:
            raise ValueError(f"{origin}: {key!r} = {config[key]!r}: stars implements only "
                             f"{needed!r}")
    if _flag(config, "use_sliding_window", origin):
        raise ValueError(f"{origin}: 'use_sliding_window' = true: full attention only")
    types = config.get("layer_types")
    if types is not None and (not isinstance(types, list)
                              or any(t != "full_attention" for t in types)):
        raise ValueError(f"{origin}: 'layer_types' = {types!r} must all be 'full_attention'")
    scaling = config.get("rope_scaling")
    if scaling is not None and not (isinstance(scaling, dict) and
                                    scaling.get("rope_type", scaling.get("type")) == "default"):
        raise ValueError(f"{origin}: 'rope_scaling' = {scaling!r}: unscaled rotary only (null)")


def model_settings(config, exit_gate, origin=CONFIG_FILE, base_kv_heads=0):
    """The stars model settings of an Ouro config.json (a dict). One key/value head per
    query head is n_kv_heads 0 or n_heads in stars: `base_kv_heads` (the "stars" config's)
    keeps its spelling, as the C++ reader does, so that the two agree."""
    _check_keys(config, origin)
    d, heads = _int(config, "hidden_size", origin), _int(config, "num_attention_heads", origin)
    if "head_dim" in config and _int(config, "head_dim", origin) * heads != d:
        raise ValueError(f"{origin}: 'head_dim' = {config['head_dim']} is not "
                         f"hidden_size / num_attention_heads = {d / heads:g}")
    kv = _int(config, "num_key_value_heads", origin) if "num_key_value_heads" in config else heads
    if kv == heads and base_kv_heads in (0, heads):
        kv = base_kv_heads
    settings = {
        "d_model": d, "n_heads": heads, "n_kv_heads": kv,
        "d_ff": _int(config, "intermediate_size", origin),
        "n_core_layers": _int(config, "num_hidden_layers", origin),
        "max_len": _int(config, "max_position_embeddings", origin)
        if "max_position_embeddings" in config else 32768,
        "norm_eps": _number(config, "rms_norm_eps", 1e-6, origin),
        "rope_theta": _number(config, "rope_theta", 10000.0, origin),
        "init_std": _number(config, "initializer_range", 0.02, origin),
        "dropout": _number(config, "attention_dropout", 0.0, origin),
        "tied_head": _flag(config, "tie_word_embeddings", origin),
        "exit_gate": bool(exit_gate), **_FIXED}
    try:
        return model_config(settings)
    except ValueError as e:
        raise ValueError(f"{origin}: the model it describes is not valid: {e}") from None


def _stars_section(hf_config, origin):
    """The "stars" config (a dict) and its model section with defaults, or (None, None)."""
    stars = hf_config.get("stars")
    if stars is None:
        return None, None
    if not isinstance(stars, dict) or not isinstance(stars.get("model", {}), dict):
        raise ValueError(f"{origin}: 'stars' must be a stars config (an object with a "
                         f"'model' object)")
    try:
        return stars, model_config(stars.get("model", {}))
    except ValueError as e:
        raise ValueError(f"{origin} (key 'stars'): {e}") from None


def _check_agreement(declared, settings, origin):
    differ = [f"model.{k} is {declared[k]!r} under 'stars' and {v!r} by the Ouro keys"
              for k, v in settings.items() if declared[k] != v]
    if differ:
        raise ValueError(f"{origin}: its 'stars' config disagrees with its Ouro keys: "
                         + "; ".join(differ))


def _read_config(directory):
    origin = os.path.join(directory, CONFIG_FILE)
    try:
        with open(origin, encoding="utf-8") as f:
            hf_config = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{origin}: cannot read the model's config.json: {e}") from None
    if not isinstance(hf_config, dict):
        raise ValueError(f"{origin}: config.json must be a JSON object")
    return hf_config, origin


# --- tensors ------------------------------------------------------------------------------

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


def _read_file(path):
    """The tensors of one safetensors file; whatever goes wrong reading it (the safetensors
    library raises its own errors) is a ValueError naming it."""
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such weights file")
    try:
        tensors = safetensors.read(path)[0]
    except Exception as e:  # noqa: BLE001 - hostile input: any failure names the file
        raise ValueError(f"{path}: not a readable safetensors file: {e}") from None
    for name, t in tensors.items():
        if t.dtype not in _DTYPE_NAMES:
            raise ValueError(f"{path}: tensor {name!r} is {t.dtype}; the layout holds float32, "
                             f"bfloat16 or float16")
    return tensors


def _weight_map(index_path):
    try:
        with open(index_path, encoding="utf-8") as f:
            weight_map = json.load(f).get("weight_map")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as e:
        raise ValueError(f"{index_path}: not a shard index: {e}") from None
    if not isinstance(weight_map, dict) or not weight_map:
        raise ValueError(f"{index_path}: needs a 'weight_map' of tensor name to file name")
    for tensor, file in weight_map.items():
        if not isinstance(file, str) or not file or "/" in file or "\\" in file or ".." in file:
            raise ValueError(f"{index_path}: weight_map[{tensor!r}] = {file!r} must name a "
                             f"file in the model's directory")
    return weight_map


def _read_tensors(directory):
    """(tensors by Hugging Face name, the file each came from)."""
    index_path = os.path.join(directory, INDEX_FILE)
    if not os.path.exists(index_path):
        path = os.path.join(directory, WEIGHTS_FILE)
        tensors = _read_file(path)
        return tensors, dict.fromkeys(tensors, path)
    weight_map = _weight_map(index_path)
    files = sorted(set(weight_map.values()))
    for file in files:  # all there before any is read
        if not os.path.isfile(os.path.join(directory, file)):
            raise ValueError(f"{index_path} lists shard {file!r}, which is not in "
                             f"{directory}")
    tensors, source = {}, {}
    for file in files:
        path = os.path.join(directory, file)
        for name, t in _read_file(path).items():
            if weight_map.get(name) != file:
                raise ValueError(f"{path} holds tensor {name!r}, which {INDEX_FILE} does not "
                                 f"list there")
            tensors[name], source[name] = t, path
    missing = sorted(set(weight_map) - set(tensors))
    if missing:
        raise ValueError(f"{index_path} lists tensors its shards do not hold: "
                         + ", ".join(f"{n!r} (in {weight_map[n]})" for n in missing))
    return tensors, source


def _to_stars(tensors, source, cfg, vocab_size, weights_origin):
    """The stars state dict (float32) of Hugging Face tensors that match `cfg` exactly."""
    out, known = {}, set()
    for name, parts in _links(cfg, vocab_size):
        pieces = []
        for hf_name, shape in parts:
            known.add(hf_name)
            if hf_name not in tensors:
                raise ValueError(f"{weights_origin}: no tensor {hf_name!r}; the model its "
                                 f"config.json describes needs it")
            t = tensors[hf_name]
            if tuple(t.shape) != shape:
                raise ValueError(f"{source[hf_name]}: tensor {hf_name!r} is {list(t.shape)}; "
                                 f"its config.json makes it {list(shape)}")
            pieces.append(t.float())
        out[name] = pieces[0] if len(pieces) == 1 else torch.cat(pieces, 0)
    unknown = sorted(set(tensors) - known)
    if unknown:
        raise ValueError(f"{source[unknown[0]]}: tensors the model its config.json describes "
                         f"does not have: {unknown}")
    return out


# --- load and save ------------------------------------------------------------------------

def load_hf(directory, device="cpu", config=None):
    """The model in a Hugging Face directory, in eval mode, with its stars config as
    `model.config` (its model section the one config.json describes).

    A "stars" config in config.json (stars wrote the directory) must agree with the Ouro
    keys, and the tokenizer its data section names must have vocab_size tokens. Without
    one, `config` (a stars config) supplies the data settings; with neither, the task is
    unknown and the vocabulary is config.json's vocab_size."""
    hf_config, origin = _read_config(directory)
    tensors, source = _read_tensors(directory)
    stars, declared = _stars_section(hf_config, origin)
    settings = model_settings(hf_config, GATE_TENSOR in tensors, origin,
                              declared["n_kv_heads"] if declared else 0)
    if declared is not None:
        _check_agreement(declared, settings, origin)
    vocab_size = _int(hf_config, "vocab_size", origin)
    data_config = stars if stars is not None else config
    # A "stars" config without a data section (save_hf of a model that had no config)
    # names no tokenizer, so config.json's vocab_size stands.
    chat = data_config is not None and data_config.get("data", {}).get("task") == "chat"
    if data_config is not None and "data" in data_config and not chat:
        tokens = tokenizer_for(data_config).vocab_size
        if tokens != vocab_size:
            raise ValueError(f"{origin}: vocab_size = {vocab_size}, but the tokenizer its "
                             f"stars config names has {tokens} tokens")
    weights_origin = os.path.join(directory, INDEX_FILE if os.path.exists(
        os.path.join(directory, INDEX_FILE)) else WEIGHTS_FILE)
    model = LoopLM(settings, vocab_size)
    model.load_state_dict(_to_stars(tensors, source, settings, vocab_size, weights_origin))
    model.config = dict(data_config or {}, model=settings)
    return model.to(device).eval()


def _layout_mismatch(cfg):
    for key, needed in _FIXED.items():
        if cfg[key] != needed:
            return f"model.{key} = {cfg[key]!r} (the layout needs {needed!r})"
    return None


def save_hf(model, directory, config=None, dtype=torch.float32, max_shard_bytes=None, loops=4):
    """Writes `model` in the layout into `directory`, readable by stars-eval --checkpoint,
    stars-train --init and load_hf: config.json with the stars config (`config`, else
    `model.config`, else the model section alone) under "stars", the weights in `dtype`,
    in shards of at most `max_shard_bytes` when given and needed. `loops` is Ouro's
    default loop count (total_ut_steps); stars itself takes depths from its callers."""
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
    with open(os.path.join(directory, CONFIG_FILE), "w", encoding="utf-8") as f:
        json.dump(_ouro_config(cfg, vocab_size, loops, dtype, dict(config, model=cfg)), f,
                  indent=2)
        f.write("\n")


def _ouro_config(cfg, vocab_size, loops, dtype, stars):
    d = cfg["d_model"]
    return {
        "architectures": ["OuroForCausalLM"], "model_type": "ouro", "hidden_size": d,
        "num_hidden_layers": cfg["n_core_layers"], "num_attention_heads": cfg["n_heads"],
        "num_key_value_heads": cfg["n_kv_heads"] or cfg["n_heads"],
        "head_dim": d // cfg["n_heads"], "intermediate_size": cfg["d_ff"],
        "rms_norm_eps": cfg["norm_eps"], "rope_theta": cfg["rope_theta"],
        "max_position_embeddings": cfg["max_len"], "initializer_range": cfg["init_std"],
        "tie_word_embeddings": cfg["tied_head"], "attention_dropout": cfg["dropout"],
        "vocab_size": vocab_size, "hidden_act": "silu", "use_cache": True,
        "use_sliding_window": False, "total_ut_steps": loops, "early_exit_threshold": 1.0,
        "torch_dtype": _DTYPE_NAMES[dtype], "stars": stars}


def _nbytes(t):
    return t.numel() * t.element_size()


def _write_weights(directory, tensors, max_shard_bytes):
    """model.safetensors, or (when the total exceeds max_shard_bytes) shards filled greedily
    in the layout's order, Hugging Face's file names, and the index."""
    shards, size = [{}], 0
    for name, t in tensors.items():
        if max_shard_bytes and shards[-1] and size + _nbytes(t) > max_shard_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = t
        size += _nbytes(t)
    for stale in (WEIGHTS_FILE, INDEX_FILE):  # a reader would prefer a stale index
        if os.path.exists(os.path.join(directory, stale)):
            os.remove(os.path.join(directory, stale))
    if len(shards) == 1:
        safetensors.write(os.path.join(directory, WEIGHTS_FILE), shards[0], {"format": "pt"})
        return
    weight_map = {}
    for i, shard in enumerate(shards):
        file = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        safetensors.write(os.path.join(directory, file), shard, {"format": "pt"})
        weight_map.update(dict.fromkeys(shard, file))
    total = sum(_nbytes(t) for t in tensors.values())
    with open(os.path.join(directory, INDEX_FILE), "w", encoding="utf-8") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
        f.write("\n")
