"""stars_torch's Hugging Face layout (docs/pretrained.md) on its own, without the C++ side:
save_hf then load_hf round-trips tiny Ouro-shaped models (grouped and full key/value heads,
1 and 3 layers, exit gate on and off, tied and untied heads) tensor for tensor with equal
logits at loops 1-4; bfloat16 reads back as the rounded weights; shards come with an index;
hostile directories and models the layout cannot hold are refused naming the key, tensor or
file; the exit distribution is the survival product.

usage: PYTHONPATH=python python3 tests/python/hf_layout.py [WORK_DIR]
(exits non-zero on the first failure; WORK_DIR defaults to a temporary directory)
"""
import json
import os
import shutil
import sys
import tempfile

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import stars_torch as st  # noqa: E402
from stars_torch import safetensors  # noqa: E402

VOCAB = 20
OURO = {"positions": "rope", "mlp": "swiglu", "bias": False, "norm_type": "rmsnorm",
        "norm_placement": "pre_sandwich", "norm_in_loop": True, "norm_eps": 1e-6,
        "rope_theta": 1e6, "d_model": 32, "n_heads": 4, "d_ff": 48, "max_len": 16}
VARIANTS = (
    {"n_kv_heads": 2, "n_core_layers": 1, "exit_gate": True, "tied_head": False},
    {"n_kv_heads": 4, "n_core_layers": 3, "exit_gate": False, "tied_head": True},
    {"n_kv_heads": 2, "n_core_layers": 3, "exit_gate": True, "tied_head": True},
    {"n_kv_heads": 4, "n_core_layers": 1, "exit_gate": False, "tied_head": False},
    {"n_kv_heads": 0, "n_core_layers": 1, "exit_gate": True, "tied_head": False},
)


def model(vocab=VOCAB, **options):
    """A random Ouro-shaped model, its norms and biases moved off their initial 1 and 0."""
    torch.manual_seed(3)
    m = st.LoopLM(dict(OURO, **options), vocab)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return m.eval()


def fresh(name):
    path = os.path.join(work, name)
    shutil.rmtree(path, ignore_errors=True)
    return path


def expect_refusal(action, *needles):
    """`action` raises ValueError whose message contains every needle."""
    try:
        action()
    except ValueError as e:
        for needle in needles:
            assert needle in str(e), f"{needle!r} not in: {e}"
        return str(e).replace(work + os.sep, "")
    raise AssertionError(f"not refused: {needles}")


class Edited:
    """A file of a model directory changed for one check, restored afterwards."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        self.saved = open(self.path, "rb").read()
        return self

    def __exit__(self, *exc):
        open(self.path, "wb").write(self.saved)


def edit_config(directory, change):
    path = os.path.join(directory, "config.json")
    config = json.load(open(path))
    change(config)
    json.dump(config, open(path, "w"))


def edit_weights(path, change):
    tensors = safetensors.read(path)[0]
    change(tensors)
    safetensors.write(path, tensors, {"format": "pt"})


def same_state(a, b, transform=lambda t: t):
    sa, sb = a.state_dict(), b.state_dict()
    assert sorted(sa) == sorted(sb), (sorted(sa), sorted(sb))
    for name, t in sa.items():
        assert torch.equal(transform(t), sb[name]), name


def check_round_trips():
    tokens = torch.randint(0, VOCAB, (2, 9))
    for options in VARIANTS:
        m, d = model(**options), fresh("roundtrip")
        st.save_hf(m, d)
        hf = json.load(open(os.path.join(d, "config.json")))
        assert hf["model_type"] == "ouro" and hf["vocab_size"] == VOCAB, hf
        assert hf["num_key_value_heads"] == (options["n_kv_heads"] or 4), hf
        assert hf["tie_word_embeddings"] == options["tied_head"], hf
        names = list(safetensors.read(os.path.join(d, "model.safetensors"))[0])
        assert ("lm_head.weight" in names) != options["tied_head"], names
        assert ("model.early_exit_gate.bias" in names) == options["exit_gate"], names
        back = st.load_hf(d)
        assert back.cfg == m.cfg, (back.cfg, m.cfg)
        same_state(m, back)
        with torch.no_grad():
            for loops in range(1, 5):
                assert torch.equal(m(tokens, loops), back(tokens, loops)), (options, loops)
        print(f"  round trip {options}: every tensor, the config and the logits at loops "
              f"1-4 equal")


def check_dtypes_and_shards():
    m = model(n_kv_heads=2, n_core_layers=3, exit_gate=True)
    for dtype, name in ((torch.bfloat16, "bfloat16"), (torch.float16, "float16")):
        d = fresh(name)
        st.save_hf(m, d, dtype=dtype)
        assert json.load(open(os.path.join(d, "config.json")))["torch_dtype"] == name
        stored = safetensors.read(os.path.join(d, "model.safetensors"))[0]
        assert all(t.dtype == dtype for t in stored.values())
        same_state(m, st.load_hf(d), lambda t: t.to(dtype).float())
        print(f"  {name}: stored as {name}, reads back as the rounded weights")

    d = fresh("sharded")
    st.save_hf(m, d, max_shard_bytes=8192)
    index = json.load(open(os.path.join(d, "model.safetensors.index.json")))
    files = sorted(set(index["weight_map"].values()))
    n = len(files)
    assert n > 2 and files == [f"model-{i:05d}-of-{n:05d}.safetensors" for i in range(1, n + 1)]
    assert not os.path.exists(os.path.join(d, "model.safetensors"))
    assert index["metadata"]["total_size"] == sum(
        p.numel() * 4 for k, p in m.state_dict().items())
    for f in files:
        size = sum(t.numel() * 4 for t in safetensors.read(os.path.join(d, f))[0].values())
        assert size <= 8192 or len(safetensors.read(os.path.join(d, f))[0]) == 1, (f, size)
    same_state(m, st.load_hf(d))
    print(f"  sharded: {n} shards of at most 8192 bytes and an index, read back equal")
    return d, index


def check_refusals(sharded, index):
    d = fresh("hostile")
    st.save_hf(model(n_kv_heads=2, exit_gate=True, tied_head=False), d)
    config, weights = os.path.join(d, "config.json"), os.path.join(d, "model.safetensors")
    refusals = [
        ("an unknown config key", config,
         lambda: edit_config(d, lambda c: c.update(sliding_windows=4)),
         ["sliding_windows", "config.json"]),
        ("hidden_act gelu", config,
         lambda: edit_config(d, lambda c: c.update(hidden_act="gelu")), ["'hidden_act'", "gelu"]),
        ("rope_scaling linear", config,
         lambda: edit_config(d, lambda c: c.update(rope_scaling={"type": "linear"})),
         ["'rope_scaling'"]),
        ("a string tie_word_embeddings", config,
         lambda: edit_config(d, lambda c: c.update(tie_word_embeddings="false")),
         ["'tie_word_embeddings'"]),
        ("a stars config that disagrees", config,
         lambda: edit_config(d, lambda c: c["stars"]["model"].update(d_ff=40)),
         ["model.d_ff is 40 under 'stars' and 48 by the Ouro keys"]),
        ("a vocabulary the stars tokenizer lacks", config,
         lambda: edit_config(d, lambda c: c["stars"].update(data={"task": "text"})),
         ["vocab_size = 20", "258 tokens"]),
        ("an unknown tensor", weights,
         lambda: edit_weights(weights, lambda t: t.update({"model.extra.weight": torch.ones(3)})),
         ["'model.extra.weight'", "model.safetensors"]),
        ("a missing tensor", weights,
         lambda: edit_weights(weights, lambda t: t.pop("model.layers.0.self_attn.k_proj.weight")),
         ["'model.layers.0.self_attn.k_proj.weight'", "model.safetensors"]),
        ("a wrong shape", weights,
         lambda: edit_weights(weights, lambda t: t.update(
             {"model.layers.0.mlp.up_proj.weight": torch.zeros(40, 32)})),
         ["'model.layers.0.mlp.up_proj.weight'", "[40, 32]", "[48, 32]", "model.safetensors"]),
        ("an integer tensor", weights,
         lambda: edit_weights(weights, lambda t: t.update(
             {"model.norm.weight": torch.zeros(32, dtype=torch.int32)})),
         ["'model.norm.weight'", "model.safetensors"]),
        ("more layers than the weights hold", config,
         lambda: edit_config(d, lambda c: (c.pop("stars"), c.update(num_hidden_layers=2))),
         ["'model.layers.1.self_attn.q_proj.weight'"]),
    ]
    for what, path, spoil, needles in refusals:
        with Edited(path):
            spoil()
            message = expect_refusal(lambda: st.load_hf(d), *needles)
        print(f"  refused {what}: {message[:150]}")
    st.load_hf(d)  # every edit undone

    index_path = os.path.join(sharded, "model.safetensors.index.json")
    first = sorted(set(index["weight_map"].values()))[0]
    shard_refusals = [
        ("a weight_map file '../x'", {"model.norm.weight": "../x"},
         ["'../x'", "model.norm.weight"]),
        ("a missing shard", {"model.norm.weight": "model-gone.safetensors"},
         ["model-gone.safetensors"]),
        ("a tensor listed in a shard that lacks it", {"model.ghost.weight": first},
         ["'model.ghost.weight'", first]),
        ("a tensor listed in another shard than its own", {"model.norm.weight": first},
         ["'model.norm.weight'", "does not list there"]),
    ]
    for what, change, needles in shard_refusals:
        with Edited(index_path):
            json.dump(dict(index, weight_map=dict(index["weight_map"], **change)),
                      open(index_path, "w"))
            message = expect_refusal(lambda: st.load_hf(sharded), *needles)
        print(f"  refused {what}: {message[:150]}")
    with Edited(index_path):
        unlisted = dict(index["weight_map"])
        unlisted.pop("model.embed_tokens.weight")
        json.dump(dict(index, weight_map=unlisted), open(index_path, "w"))
        message = expect_refusal(lambda: st.load_hf(sharded), "'model.embed_tokens.weight'")
    print(f"  refused a shard's tensor the index does not list: {message[:150]}")

    for option, needed in (({"positions": "learned"}, "model.positions = 'learned'"),
                           ({"bias": True}, "model.bias = True"),
                           ({"inject": "add"}, "model.inject = 'add'"),
                           ({"n_prelude_layers": 1}, "model.n_prelude_layers = 1")):
        message = expect_refusal(lambda: st.save_hf(model(**option), fresh("non-ouro")),
                                 needed, "the layout needs")
        print(f"  refused to write {option}: {message}")


def check_configs():
    m, d = model(vocab=258, n_kv_heads=2), fresh("text")
    run_config = {"model": m.cfg, "data": {"task": "text"}, "train": {"steps": 7}}
    st.save_hf(m, d, config=run_config)
    back = st.load_hf(d)
    assert back.config["data"] == {"task": "text"} and back.config["train"] == {"steps": 7}
    edit_config(d, lambda c: c.pop("stars"))
    assert st.load_hf(d).config == {"model": m.cfg}
    assert st.load_hf(d, config={"data": {"task": "text"}}).config["data"] == {"task": "text"}
    expect_refusal(lambda: st.load_hf(d, config={"data": {"task": "add"}}),
                   "vocab_size = 258", "16 tokens")
    print("  configs: the stars config round-trips under 'stars'; without it config= "
          "names the data, and a tokenizer of another size is refused")


def check_exit_gate():
    lam = [torch.tensor([[0.2, 0.9]]), torch.tensor([[0.5, 0.1]]), torch.tensor([[0.3, 0.7]])]
    p = st.exit_distribution(lam)
    want = torch.stack([lam[0], lam[1] * (1 - lam[0]), (1 - lam[0]) * (1 - lam[1])])
    assert p.shape == (3, 1, 2) and torch.equal(p, want), p
    assert torch.allclose(p.sum(0), torch.ones(1, 2)), p.sum(0)
    m = model(n_kv_heads=2, exit_gate=True)
    state = torch.randn(2, 5, 32)
    lam = st.exit_probability(m, state)
    assert lam.shape == (2, 5) and bool(((lam > 0) & (lam < 1)).all())
    assert torch.allclose(lam, torch.sigmoid(state @ m.exit_gate.weight[0] + m.exit_gate.bias[0]))
    assert torch.allclose(st.exit_distribution([lam] * 4).sum(0), torch.ones(2, 5))
    expect_refusal(lambda: st.exit_probability(model(n_kv_heads=2), state), "no exit gate")
    print("  exit gate: λ = σ(gate(h)) per position; p_t = λ_t Π(1 − λ_s) with the last loop "
          "taking the rest sums to one, as computed by hand for 3 loops")


def main():
    print("save_hf -> load_hf round trips (float32):")
    check_round_trips()
    print("dtypes and shards:")
    sharded, index = check_dtypes_and_shards()
    print("refusals:")
    check_refusals(sharded, index)
    check_configs()
    check_exit_gate()
    print("hf_layout: all checks passed")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        work = sys.argv[1] if len(sys.argv) > 1 else tmp
        os.makedirs(work, exist_ok=True)
        main()
