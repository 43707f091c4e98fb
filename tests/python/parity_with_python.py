"""Parity of the Python package (python/stars_torch) with stars' C++ model, for every model
option written by parity_dump: the C++ model.safetensors loads into the Python LoopLM, and
its logits at 0, 1, 3 and 7 loops and under adaptive exit agree with stars' within 1e-5,
as do vᵀJ, the step of the spectral-radius estimate, for the core's Jacobian at 3 loops,
and the exit gate's distribution over loops 1..4; Ouro-shaped models written by stars in
the Hugging Face layout read back tensor for tensor.
Prints the largest difference per option.

usage: parity_with_python.py DUMP_DIR
"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
import stars_torch as st  # noqa: E402

TOL = 1e-5
dump = sys.argv[1]
cases = sorted(os.listdir(dump))
assert len(cases) >= 16, f"expected a case per model option in {dump}, found {cases}"
failed = []
for case in cases:
    model = st.load(os.path.join(dump, case, "model.safetensors"))
    want = st.load_archive(os.path.join(dump, case, "expected.pt"))
    tokens = want["tokens"]
    worst = 0.0
    with torch.no_grad():
        for loops in (0, 1, 3, 7):
            got = model(tokens, loops)
            worst = max(worst, (got - want[f"logits.{loops}"]).abs().max().item())
        got, _, _, used = model(tokens, 7, exit_tol=0.2, return_state=True)
        _, h3, e, _ = model(tokens, 3, return_state=True)
    worst = max(worst, (got - want["logits.exit"]).abs().max().item())
    same_exit = torch.equal(used, want["loops_used.exit"])
    vjp = st.vjp(model.state_map(e), h3, want["vjp.v"])
    worst_vjp = (vjp - want["vjp.3"]).abs().max().item()
    print(f"{case:20s} max |logit difference| {worst:.2e}  loops used {used.tolist()} "
          f"{'==' if same_exit else '!='} {want['loops_used.exit'].tolist()}  "
          f"max |vjp difference| {worst_vjp:.2e}")
    for key in [k for k in want if k.startswith("loops.token_exit.")]:  # per-token exit
        rule = key[len("loops.token_exit."):]
        with torch.no_grad():
            got, _, _, used = model(tokens, 7, token_exit=rule, return_state=True)
        diff = (got - want["logits.token_exit." + rule]).abs().max().item()
        same = torch.equal(used, want[key])
        print(f"{case:20s} token exit {rule}: max |logit difference| {diff:.2e}, loops "
              f"{'equal' if same else 'differ'} (mean {used.float().mean().item():.2f})")
        worst = max(worst, diff)
        same_exit = same_exit and same
    if "exit.p" in want:  # Ouro's exit distribution from the states after loops 1..4
        with torch.no_grad():
            lambdas = [st.exit_probability(model, model(tokens, t, return_state=True)[1])
                       for t in range(1, 5)]
        worst_gate = (st.exit_distribution(lambdas) - want["exit.p"]).abs().max().item()
        print(f"{case:20s} max |exit distribution difference| {worst_gate:.2e}")
        worst_vjp = max(worst_vjp, worst_gate)  # held to the same tolerance
    hf_dir = os.path.join(dump, case, "hf")
    if os.path.isdir(hf_dir):  # the Hugging Face export reads back to the same model
        hf = st.load_hf(hf_dir)
        for name, tensor in model.state_dict().items():
            if not torch.equal(tensor, hf.state_dict()[name]):
                failed.append(f"{case} (hf tensor {name})")
        with torch.no_grad():
            worst = max(worst, (hf(tokens, 3) - want["logits.3"]).abs().max().item())
    if worst > TOL or not same_exit or worst_vjp > TOL:
        failed.append(case)
if failed:
    sys.exit(f"parity above {TOL} or different adaptive exit for: {', '.join(failed)}")
print(f"parity: {len(cases)} model options within {TOL}")
