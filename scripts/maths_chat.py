#!/usr/bin/env python3
"""Maths problems in chat form, written from stars' tasks, and text as chat rows.

    python3 scripts/maths_chat.py problems --task addition --difficulties 1..3 --n 20000 \
        --seed 1 --out train.jsonl
    python3 scripts/maths_chat.py problems --task chain --difficulties 5..6 --n 200 \
        --seed 77 --answers --out test.jsonl
    python3 scripts/maths_chat.py text data/fortunes.txt --out text.jsonl

`problems` writes word problems with a worked solution that ends in \\boxed{ANSWER}, as
NuminaMath rows {"problem", "solution"}; with --answers, evaluation rows {"problem",
"answer"} in MATH500's shape (stars-eval --math reads them). Tasks, with their difficulty:

- addition: digits of both operands; the solution adds column by column with carries;
- chain: operations applied left to right modulo 10 (+d, or *d with d in 1, 3, 7, 9);
- list_end: hops from the start to the end of its list in a table where each digit points
  to the next (the end points to itself); the other digits form a second list.

`text` turns a text file's paragraphs (blank-line separated) into rows with one assistant
turn each, so that a chat model can be pretrained on plain text with the loss on every
text token. The same arguments give the same file on every machine.
"""
import argparse
import json
import random
import sys


def parse_range(spec):
    lo, _, hi = spec.partition("..")
    lo, hi = int(lo), int(hi or lo)
    if not 1 <= lo <= hi:
        raise argparse.ArgumentTypeError(f"difficulties '{spec}': expected LO..HI with 1 <= LO <= HI")
    return lo, hi


def number(rng, digits):
    return rng.randrange(10 ** (digits - 1) if digits > 1 else 0, 10 ** digits)


def addition(rng, digits):
    a, b = number(rng, digits), number(rng, digits)
    steps, carry = [], 0
    da, db = str(a)[::-1], str(b)[::-1]
    for i in range(digits):
        x, y = int(da[i]) if i < len(da) else 0, int(db[i]) if i < len(db) else 0
        s = x + y + carry
        step = f"{x} + {y}" + (" + 1" if carry else "") + f" = {s}"
        carry = s // 10
        steps.append(step + (", carry 1" if carry else ""))
    answer = a + b
    solution = ("Add the digits from the right: " + "; ".join(steps) +
                f". So {a} + {b} = \\boxed{{{answer}}}.")
    return f"What is {a} + {b}?", solution, str(answer)


def chain(rng, operations):
    x = rng.randrange(10)
    words, steps, value = [], [], x
    for _ in range(operations):
        if rng.random() < 0.5:
            d = rng.randrange(1, 10)
            words.append(f"add {d}")
            s = value + d
            steps.append(f"{value} + {d} = {s}" + (f" -> {s % 10}" if s >= 10 else ""))
        else:
            d = rng.choice([1, 3, 7, 9])
            words.append(f"multiply by {d}")
            s = value * d
            steps.append(f"{value} * {d} = {s}" + (f" -> {s % 10}" if s >= 10 else ""))
        value = s % 10
    problem = (f"Start with {x}, then " + ", ".join(words) +
               ", keeping only the last digit after each step. What is the result?")
    solution = "; ".join(steps) + f". The result is \\boxed{{{value}}}."
    return problem, solution, str(value)


def list_end(rng, hops):
    if hops > 8:
        raise SystemExit("maths_chat: list_end has at most 8 hops (ten digits, two lists)")
    digits = list(range(10))
    rng.shuffle(digits)
    path, rest = digits[:hops + 1], digits[hops + 1:]
    table = {}
    for a, b in zip(path, path[1:]):
        table[a] = b
    table[path[-1]] = path[-1]
    for a, b in zip(rest, rest[1:]):
        table[a] = b
    table[rest[-1]] = rest[-1]
    links = ", ".join(f"{i}->{table[i]}" for i in range(10))
    problem = (f"Each digit points to the next: {links}. Start at {path[0]} and follow the "
               "pointers until a digit points to itself. Which digit is it?")
    walk = " -> ".join(str(n) for n in path)
    solution = f"{walk}, and {path[-1]} points to itself. The answer is \\boxed{{{path[-1]}}}."
    return problem, solution, str(path[-1])


TASKS = {"addition": addition, "chain": chain, "list_end": list_end}


def problems(args):
    rng = random.Random(args.seed)
    lo, hi = args.difficulties
    with open(args.out, "w", encoding="utf-8") as f:
        for i in range(args.n):
            difficulty = lo + i % (hi - lo + 1)  # every difficulty equally often
            problem, solution, answer = TASKS[args.task](rng, difficulty)
            row = {"problem": problem, "answer": answer} if args.answers else \
                {"problem": problem, "solution": solution}
            row["difficulty"] = difficulty
            f.write(json.dumps(row) + "\n")
    print(f"maths_chat: {args.out}: {args.n} {args.task} problems, difficulty {lo}..{hi}")


def text(args):
    with open(args.file, encoding="utf-8") as f:
        paragraphs = [p.strip() for p in f.read().split("\n\n") if p.strip()]
    with open(args.out, "w", encoding="utf-8") as f:
        for p in paragraphs:
            f.write(json.dumps({"messages": [{"role": "assistant", "content": p}]}) + "\n")
    print(f"maths_chat: {args.out}: {len(paragraphs)} paragraphs of {args.file}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("problems", help="word problems with worked solutions")
    p.add_argument("--task", choices=sorted(TASKS), required=True)
    p.add_argument("--difficulties", type=parse_range, required=True, help="LO..HI")
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--answers", action="store_true", help="evaluation rows {problem, answer}")
    p.add_argument("--out", required=True)
    t = sub.add_parser("text", help="a text file's paragraphs as assistant turns")
    t.add_argument("file")
    t.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.command == "problems" and args.n < 1:
        sys.exit("maths_chat: --n must be at least 1")
    (problems if args.command == "problems" else text)(args)


if __name__ == "__main__":
    main()
