"""Parity of stars' LoopLM with the PyTorch reference peer (looplm_ref.py): the weights a
stars run exported to state_dict.pt are loaded into the reference model, and logits and
loss on the same batch must agree within a tolerance. Prints the max difference.

usage: parity_with_reference.py RUN_DIR PEER_DIR [LOOPS]
"""
import json
import sys

import torch

run, peer = sys.argv[1], sys.argv[2]
loops = int(sys.argv[3]) if len(sys.argv) > 3 else 4
sys.path.insert(0, peer)
import looplm_ref as ref  # noqa: E402

cfg = json.load(open(f"{run}/config.json"))["model"]
assert cfg["norm_placement"] == "post_sandwich" and cfg["norm_type"] == "layernorm", cfg
sd = torch.load(f"{run}/state_dict.pt")
names = {"tok_emb.weight": "tok.weight", "pos_emb.weight": "pos.weight",
         "norm_f.weight": "lnf.weight", "norm_f.bias": "lnf.bias"}
for ours, theirs in [("norm1_in", "ln1a"), ("norm1_out", "ln1b"), ("norm2_in", "ln2a"),
                     ("norm2_out", "ln2b"), ("attn.qkv", "qkv"), ("attn.proj", "proj"),
                     ("fc", "fc"), ("out", "out")]:
    for p in ("weight", "bias"):
        names[f"core.0.{ours}.{p}"] = f"block.{theirs}.{p}"
model = ref.LoopLM(cfg["d_model"], cfg["n_heads"], cfg["d_ff"], 0.0, cfg["max_len"])
state = {names[k]: v for k, v in sd.items() if k in names}
# stars' vocabulary has '*' at id 11, the peer's has none: drop that row and shift ids.
keep = [i for i in range(16) if i != 11]
state["tok.weight"] = state["tok.weight"][keep]
state["head.weight"] = state["tok.weight"]
missing, unexpected = model.load_state_dict(state, strict=False)
assert not missing and not unexpected, (missing, unexpected)
model.eval()

# The batch stars' own test writes next to the run: tokens and stars' logits at `loops`.
batch = torch.load(f"{run}/parity_batch.pt")
ids, want = batch["tokens"], batch["logits"][..., keep]
assert not (ids == 11).any()
ids = torch.where(ids > 11, ids - 1, ids)
h = model(ids, loops)
got = model.logits(h)
diff = (got - want).abs().max().item()
print(f"max |logits_ref - logits_stars| = {diff:.3e} at depth {loops}")
assert diff < 1e-4, diff

# Loss and gradients on the same targets, with stars' '*' logit put back (it takes part
# in the softmax even though addition never uses it).
star = sd["tok_emb.weight"][11].clone().requires_grad_(True)
logits16 = torch.cat([got[..., :11], (model.lnf(h) @ star).unsqueeze(-1), got[..., 11:]], -1)
loss = torch.nn.functional.cross_entropy(logits16.reshape(-1, 16), batch["targets"].reshape(-1), ignore_index=-100)
loss.backward()
print(f"loss ref {loss.item():.6f} stars {batch['loss'].item():.6f}")
assert abs(loss.item() - batch["loss"].item()) < 1e-4
worst = 0.0
for ours, theirs in names.items():
    g_ref = dict(model.named_parameters())[theirs].grad
    g_ours = batch["grad." + ours]
    if theirs == "tok.weight":
        g_ours = g_ours[keep]
    rel = ((g_ref - g_ours).norm() / (g_ref.norm() + 1e-12)).item()
    worst = max(worst, rel)
    if rel > 1e-4: print(f"  {ours}: {rel:.2e}")
print(f"max relative gradient difference {worst:.3e}")
assert worst < 1e-3, worst
