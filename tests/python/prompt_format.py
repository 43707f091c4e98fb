"""stars_torch.prompt_format agrees with the C++ tasks: the prompts stars-eval generates for
every task inside its default training range are in the training format, prompts one
difficulty past it and other out-of-format prompts are not, and stars-eval --data words its
warning as Python does. st.answer warns about such prompts, and the helpers' former
argument names (n_loops, max_new_tokens) still work, with a DeprecationWarning.

usage: prompt_format.py STARS_EVAL RUN_DIR MODEL_DIR
  RUN_DIR: any task run (its model only serves to generate prompts); MODEL_DIR: stars-add4.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
import stars_torch as st  # noqa: E402
from stars_torch.prompt_format import _example  # noqa: E402

stars_eval, run_dir, model_dir = sys.argv[1:4]
scratch = tempfile.TemporaryDirectory(prefix="prompt_format.")  # removed at exit
work = scratch.name


def eval_(*args, data=None):
    """stars-eval on RUN_DIR at depth 1: its stderr."""
    cmd = [stars_eval, "--checkpoint", run_dir, "--depths", "1", "--quiet", *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, (cmd, done.stderr)
    return done.stderr


def generated(task, digits, difficulties, n=50):
    """stars-eval's prompts of `task`, by difficulty."""
    path = os.path.join(work, f"{task}.jsonl")
    eval_("--task", task, "--digits", str(digits), "--n", str(n),
          "--difficulties", ",".join(map(str, difficulties)), "--save-data", path)
    prompts = [json.loads(line)["prompt"] for line in open(path)]
    return {d: prompts[i * n:(i + 1) * n] for i, d in enumerate(difficulties)}


# (task, digits, training range by default; one past it is refused, except for list_end,
# whose prompts do not show the hop count)
cases = [("addition", 4, (4, 4)), ("addition", 2, (2, 2)), ("multiplication", 3, (3, 3)),
         ("multi_add", 2, (3, 3)), ("chain", 4, (1, 4)), ("pointer", 4, (1, 4)),
         ("list_end", 4, (1, 4)), ("list_end_mixed", 4, (1, 4))]
for task, digits, (lo, hi) in cases:
    config = {"data": {"task": task, "digits": digits}}
    past = [] if task.startswith("list_end") else [hi + 1]
    sets = generated(task, digits, list(range(lo, hi + 1)) + past)
    for d, prompts in sets.items():
        inside = [st.in_training_format(config, p) for p in prompts]
        assert all(inside) if d <= hi else not any(inside), (task, d, prompts[:3])
    assert st.training_format_warning(config, sets[hi]) == ""
    assert st.in_training_format(config, _example(task, hi, config["data"])), task
    print(f"{task:15s} digits {digits}: difficulties {lo}..{hi} in the training format"
          + (f", {hi + 1} outside" if past else ""))

add4 = {"data": {"task": "addition", "digits": 4}}
pointer = {"data": {"task": "pointer", "digits": 4}}
chain = {"data": {"task": "chain", "digits": 4}}
refused = [(add4, "12+34="), (add4, "0012+0034="), (add4, "1750*4733="), (add4, "1750+4733"),
           (add4, " 1750+4733="), (pointer, "4528069173+8*07="), (pointer, "4528069173+8*1="),
           (chain, "3+7="), (chain, " 3+7="), (chain, "              3*2="),
           ({"data": {"task": "multiplication", "digits": 3}}, "1750*4733=")]
for config, prompt in refused:
    assert not st.in_training_format(config, prompt), (config, prompt)
assert st.in_training_format({}, "1750+4733=")  # no data section: 4-digit addition
assert st.in_training_format({"data": {"task": "text"}}, "anything at all")
assert st.training_format_warning({"data": {"task": "text"}}, ["12+34="]) == ""
assert st.in_training_format({"data": {"task": "chain", "max_difficulty": 2}}, "      3+7=")
print(f"{len(refused)} out-of-format prompts refused")

# stars-eval --data words the warning as Python does (the example prompt aside).
prompts = ["12+34=", "1234+5678=", "02+34=", "99+10="]
path = os.path.join(work, "ood.jsonl")
with open(path, "w") as f:
    f.writelines(json.dumps({"prompt": p, "answer": "0"}) + "\n" for p in prompts)
cpp = re.search(r"\[warning\] (\d+ of \d+ prompts .*)", eval_("--data", path)).group(1)
py = st.training_format_warning(json.load(open(os.path.join(run_dir, "config.json"))), prompts)
unlike = re.compile(r', like "[^"]*"')
assert unlike.sub("", cpp) == unlike.sub("", py), (cpp, py)
print("stars-eval --data warns as Python does:", py)

# st.answer warns once about prompts outside the format, and not about the others.
model, tok = st.load(model_dir), st.Tokenizer()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    st.answer(model, tok, ["12+34=", "1234+5678=", "99+1="], depth=4, max_tokens=6)
texts = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
assert len(texts) == 1, texts
assert "2 of 3 prompts" in texts[0] and "outside the format this model was trained on" in texts[0]
assert "addition at difficulty 4" in texts[0], texts[0]
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    new = st.answer(model, tok, ["1234+5678="], depth=4, max_tokens=6)
assert not caught, [str(w.message) for w in caught]
print("st.answer warns about 12+34= to a 4-digit model:", texts[0])

# The former names still work, with a DeprecationWarning naming the new one.
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    old = st.answer(model, tok, ["1234+5678="], n_loops=4, max_new_tokens=6)
    tokens = tok.prompts(["1234+5678="])
    old_tokens = st.greedy_decode(model, tokens, n_loops=4, max_new_tokens=6, eos_id=tok.eos_id)
    old_diag = st.loop_diagnostics(model, tokens, n_loops=2)
deprecated = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
assert old == new, (old, new)
assert (old_tokens == st.greedy_decode(model, tokens, 4, 6, tok.eos_id)).all()
assert (old_diag["state_norm"] == st.loop_diagnostics(model, tokens, depth=2)["state_norm"]).all()
for name, replacement in [("n_loops", "depth"), ("max_new_tokens", "max_tokens")]:
    assert any(f"'{name}'" in m and f"'{replacement}'" in m for m in deprecated), deprecated
assert len(deprecated) == 5, deprecated
with warnings.catch_warnings(record=True):
    try:
        st.answer(model, tok, ["1234+5678="], 4, max_tokens=6, n_loops=4)
        raise AssertionError("depth given twice was accepted")
    except TypeError:
        pass
print(f"n_loops= and max_new_tokens= still work ({len(deprecated)} DeprecationWarnings), "
      f"same answer: {new}")
