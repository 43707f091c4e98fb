"""Whether prompts have the format a task model was trained on (its task, operand sizes and
difficulty range), as stars-eval and stars-generate check (src/data/prompt_format.cpp):
"12+34=" to a model of 4-digit addition is answered, but the answer is a guess."""
import random
import re

# Each task's difficulty range where data.min_difficulty/max_difficulty are 0 (None:
# data.digits), as in the task table of src/data/task.cpp.
DEFAULT_RANGES = {"addition": (None, None), "multiplication": (None, None), "multi_add": (3, 3),
                  "chain": (1, 4), "list_end": (1, 4), "list_end_mixed": (1, 4),
                  "pointer": (1, 4)}


def _data(config):
    """The config's data section over the C++ defaults (task "addition", 4 digits)."""
    return {"task": "addition", "digits": 4, **((config or {}).get("data") or {})}


def _training_range(task_name, data):
    if task_name not in DEFAULT_RANGES:
        raise ValueError(f"unknown task '{task_name}'; valid: {', '.join(sorted(DEFAULT_RANGES))}")
    lo, hi = DEFAULT_RANGES[task_name]
    return (data.get("min_difficulty") or lo or data["digits"],
            data.get("max_difficulty") or hi or data["digits"])


def _number(digits):
    """The pattern of a number with exactly `digits` digits (0..9 for one digit)."""
    return "[0-9]" if digits == 1 else f"[1-9][0-9]{{{digits - 1}}}"


def _chain_width(data):
    """Chain prompts are padded to a chain of twice the largest training difficulty."""
    return 1 + 2 * (2 * _training_range("chain", data)[1]) + 1


def prompt_pattern(task_name, d, data_config):
    """The regular expression (for re.fullmatch) that every prompt of task `task_name` at
    difficulty `d` matches, for a model whose config's data section is `data_config`
    (its digits and, for chain, its difficulty range): Task::prompt_pattern in C++."""
    data = {"digits": 4, **(data_config or {})}
    n = data["digits"]
    _training_range(task_name, data)  # refuses unknown tasks
    if task_name == "addition":
        return f"{_number(d)}\\+{_number(d)}="
    if task_name == "multiplication":
        return f"{_number(n)}\\*{_number(d)}="
    if task_name == "multi_add":
        return f"{_number(n)}(\\+{_number(n)}){{{d - 1}}}="
    if task_name == "chain":
        return f" {{{_chain_width(data) - (2 * d + 2)}}}[0-9]([+][0-9]|[*][1379]){{{d}}}="
    if task_name == "pointer":
        return f"[0-9]{{10}}\\+[0-9]\\*{d:02d}="
    return "[0-9]{10}\\+[0-9]="  # list_end, list_end_mixed: the hop count is not in the prompt


def _patterns(data):
    lo, hi = _training_range(data["task"], data)
    return [re.compile(prompt_pattern(data["task"], d, data)) for d in range(lo, hi + 1)]


def _example(task, d, data):
    """A prompt of `task` at difficulty `d` (drawn as the C++ tasks draw theirs)."""
    rng = random.Random(d)

    def num(k):
        return str(rng.randint(0 if k == 1 else 10 ** (k - 1), 10 ** k - 1))

    n = data["digits"]
    if task == "addition":
        return f"{num(d)}+{num(d)}="
    if task == "multiplication":
        return f"{num(n)}*{num(d)}="
    if task == "multi_add":
        return "+".join(num(n) for _ in range(d)) + "="
    if task == "chain":
        ops = "".join(rng.choice(["+" + num(1), "*" + rng.choice("1379")]) for _ in range(d))
        return (num(1) + ops + "=").rjust(_chain_width(data))
    order = rng.sample("0123456789", 10)
    if task == "pointer":
        return f"{''.join(order)}+{num(1)}*{d:02d}="
    table = [""] * 10  # list_end: order[0] -> ... -> order[d] (x's list), the rest another
    for nodes in (order[:d + 1], order[d + 1:]):
        for node, nxt in zip(nodes, nodes[1:] + nodes[-1:]):
            table[int(node)] = nxt
    return "".join(table) + "+" + order[0] + "="


def in_training_format(config, prompt):
    """True when `prompt` matches the prompt pattern of the task a model with this config
    (`model.config`, as st.load gives) trained on, at a difficulty of its training range.
    Text models (data.task "text") accept every prompt."""
    data = _data(config)
    return data["task"] == "text" or any(p.fullmatch(prompt) for p in _patterns(data))


def training_format_warning(config, prompts):
    """"" when every prompt is in the training format of the model with this config (see
    in_training_format); else one line: how many are not, the first of them, and what the
    model was trained on, with an example prompt."""
    data = _data(config)
    if data["task"] == "text":
        return ""
    patterns = _patterns(data)
    outside = [p for p in prompts if not any(q.fullmatch(p) for q in patterns)]
    if not outside:
        return ""
    lo, hi = _training_range(data["task"], data)
    span = str(lo) if lo == hi else f"{lo}..{hi}"
    return (f"{len(outside)} of {len(prompts)} prompts (the first: \"{outside[0]}\") are outside "
            f"the format this model was trained on ({data['task']} at difficulty {span}, like "
            f"\"{_example(data['task'], hi, data)}\"): their answers are guesses, not what the "
            f"model learned")
