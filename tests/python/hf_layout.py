"""stars_torch's Hugging Face layout on its own: save_hf then load_hf round-trips tiny
Ouro-shaped models (GQA on and off, 1 and 3 layers, exit gate on and off, tied and untied
heads) tensor for tensor with equal logits, bfloat16 reads back as the rounded weights,
shards come with an index, and hostile directories are refused naming the key or tensor.

usage: hf_layout.py WORK_DIR
"""
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
import stars_torch as st  # noqa: E402

work = sys.argv[1]
OURO = {"positions": "rope", "mlp": "swiglu", "bias": False, "norm_type": "rmsnorm",
        "norm_placement": "pre_sandwich", "norm_in_loop": True, "norm_eps": 1e-6,
        "d_model": 32, "n_heads": 4, "d_ff": 48, "max_len": 16}


def model(**options):
    torch.manual_seed(3)
    m = st.LoopLM(dict(OURO, **options), 16)  # the arithmetic vocabulary
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return m.eval()


def fresh(name):
    path = os.path.join(work, name)
    shutil.rmtree(path, ignore_errors=True)
    return path


def refused(directory, edit, expected):
    path = os.path.join(directory, "config.json")
    config = json.load(open(path))
    good = json.dumps(config)
    edit(config)
    json.dump(config, open(path, "w"))
    try:
        st.load_hf(directory)
    except ValueError as e:
        assert expected in str(e), (expected, str(e))
    else:
        raise AssertionError(f"not refused: {expected}")
    open(path, "w").write(good)


tokens = torch.randint(0, 16, (2, 9))
for options in ({"n_kv_heads": 2, "n_core_layers": 1, "exit_gate": True},
                {"n_kv_heads": 0, "n_core_layers": 3, "tied_head": True},
                {"n_kv_heads": 1, "n_core_layers": 2, "exit_gate": True, "tied_head": False}):
    m, d = model(**options), fresh("roundtrip")
    st.save_hf(m, d)
    back = st.load_hf(d)
    for name, t in m.state_dict().items():
        assert torch.equal(t, back.state_dict()[name]), (options, name)
    with torch.no_grad():
        for loops in range(1, 5):
            assert torch.equal(m(tokens, loops), back(tokens, loops)), (options, loops)
print("round trip: 3 models, every tensor and the logits at loops 1-4 equal")

m, d = model(n_kv_heads=2, exit_gate=True), fresh("bf16")
st.save_hf(m, d, dtype=torch.bfloat16)
back = st.load_hf(d)
for name, t in m.state_dict().items():
    assert torch.equal(t.bfloat16().float(), back.state_dict()[name]), name
assert json.load(open(os.path.join(d, "config.json")))["torch_dtype"] == "bfloat16"
print("bfloat16: reads back as the rounded weights")

d = fresh("sharded")
st.save_hf(m, d, max_shard_bytes=4096)
index = json.load(open(os.path.join(d, "model.safetensors.index.json")))
assert len(set(index["weight_map"].values())) > 2, index
assert not os.path.exists(os.path.join(d, "model.safetensors"))
back = st.load_hf(d)
assert all(torch.equal(t, back.state_dict()[n]) for n, t in m.state_dict().items())
index["weight_map"]["model.norm.weight"] = "../model.safetensors"
json.dump(index, open(os.path.join(d, "model.safetensors.index.json"), "w"))
try:
    st.load_hf(d)
    raise AssertionError("an index naming a file outside the directory was read")
except ValueError as e:
    assert "must name a file in the model's directory" in str(e), e
print("shards: an index, read back equal; a file outside the directory refused")

d = fresh("hostile")
st.save_hf(model(n_kv_heads=2, tied_head=False), d)
refused(d, lambda c: c.update(sliding_windows=4), "unknown keys ['sliding_windows']")
refused(d, lambda c: c.update(hidden_act="gelu"), "'hidden_act' = 'gelu'")
refused(d, lambda c: c["stars"]["model"].update(d_ff=40), "'d_ff': (40, 48)")


def drop_stars(c, **changes):
    c.pop("stars")
    c.update(changes)


refused(d, lambda c: drop_stars(c, intermediate_size=40),
        "tensor 'model.layers.0.mlp.gate_proj.weight' is [48, 32]")
refused(d, lambda c: drop_stars(c, num_hidden_layers=2),
        "no tensor 'model.layers.1.self_attn.q_proj.weight'")
refused(d, lambda c: drop_stars(c, tie_word_embeddings=True), "['lm_head.weight']")
try:
    st.save_hf(model(n_kv_heads=2, positions="learned"), fresh("learned"))
    raise AssertionError("a learned-positions model was written")
except ValueError as e:
    assert "model.positions = 'learned' (the layout needs 'rope')" in str(e), e
print("refused, naming it: an unknown key, hidden_act, a stars config that disagrees, a "
      "mis-shaped, a missing and an unknown tensor, a model the layout cannot hold")

lam = [torch.tensor([0.2, 0.9]), torch.tensor([0.5, 0.1]), torch.tensor([0.3, 0.7])]
p = st.exit_distribution(lam)
want = torch.stack([lam[0], lam[1] * (1 - lam[0]), (1 - lam[0]) * (1 - lam[1])])
assert torch.allclose(p, want) and torch.allclose(p.sum(0), torch.ones(2)), p
print("exit distribution: the survival product, the last loop taking the rest")
