#!/usr/bin/env python3
"""Where the wrong answers of an addition model go, from stars-eval --predictions.

    stars-eval --checkpoint RUN --depths 64,1000 --n 1000 --seed S --predictions P.jsonl
    python3 scripts/wrong_answers.py P.jsonl [--examples 5]

For each depth: how many answers are wrong, and of those how many stop early (the digits
written are the answer's first digits, then the answer ends or a non-digit follows), have
the right length but wrong digits, or go wrong otherwise; which digit positions are wrong
(counted in the order the model writes them); and the error rate by the number of carries
the problem needs. Answers are
compared as written: the task may write them reversed (least significant digit first), and
the targets are put in the order the correct answers are written before comparing.
"""
import argparse
import collections
import json
import sys


def carries(prompt):
    """Carries a column addition of the prompt's two operands needs ("1234+5678=")."""
    a, b = prompt.rstrip("=").split("+")
    a, b = a.zfill(len(b)), b.zfill(len(a))
    carry, count = 0, 0
    for x, y in zip(reversed(a), reversed(b)):
        carry = 1 if int(x) + int(y) + carry >= 10 else 0
        count += carry
    return count


def leading_digits(output):
    """The digits the model wrote before it ended the answer or wrote anything else."""
    n = 0
    while n < len(output) and output[n].isdigit():
        n += 1
    return output[:n]


def written_order(rows):
    """Whether outputs are the target reversed (addition writes the least significant digit
    first), judged on the answers marked correct."""
    right = [r for r in rows if r["correct"]]
    reversed_ = sum(1 for r in right if r["output"].strip() == r["target"][::-1])
    return (lambda t: t[::-1]) if right and reversed_ * 2 > len(right) else (lambda t: t)


def kind(output, target):
    digits = leading_digits(output)
    if len(digits) < len(target) and target.startswith(digits):
        return ("a non-digit where a digit belongs, after a correct prefix" if digits != output
                else "stops early after a correct prefix")
    if len(digits) == len(target) and digits == output:
        return "right length, wrong digits"
    return "other"


def wrong_positions(output, target):
    digits = leading_digits(output)
    return tuple(i for i in range(len(target)) if i >= len(digits) or digits[i] != target[i])


def summarise(rows, examples):
    order = written_order(rows)
    for r in rows:
        r["target"] = order(r["target"])
    lines = []
    for depth in sorted({r["depth"] for r in rows}):
        at = [r for r in rows if r["depth"] == depth]
        bad = [r for r in at if not r["correct"]]
        lines.append(f"depth {depth}: {len(bad)} of {len(at)} wrong")
        if not bad:
            continue
        for k, n in collections.Counter(kind(r["output"], r["target"]) for r in bad).most_common():
            lines.append(f"  {k}: {n}")
        pos = collections.Counter(wrong_positions(r["output"], r["target"]) for r in bad)
        if pos:
            lines.append("  wrong positions (0 = first written): " + ", ".join(
                f"{list(p)} x{n}" for p, n in pos.most_common(5)))
        total = collections.Counter(carries(r["prompt"]) for r in at)
        wrong = collections.Counter(carries(r["prompt"]) for r in bad)
        lines.append("  error rate by carries: " + ", ".join(
            f"{c}: {wrong[c]}/{total[c]}" for c in sorted(total)))
        for r in bad[:examples]:
            lines.append(f"  e.g. {r['prompt']} wants {r['target']!r} (as written), wrote "
                         f"{r['output']!r}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("predictions", help="stars-eval --predictions JSONL")
    ap.add_argument("--examples", type=int, default=3, help="wrong answers shown per depth")
    args = ap.parse_args()
    rows = []
    with open(args.predictions) as f:
        for number, line in enumerate(f, 1):
            try:
                r = json.loads(line)
                rows.append({k: r[k] for k in ("depth", "prompt", "target", "output", "correct")})
            except (json.JSONDecodeError, KeyError) as e:
                sys.exit(f"{args.predictions}:{number}: not a stars-eval prediction row ({e}); "
                         "want depth, prompt, target, output and correct")
    print(summarise(rows, args.examples))


if __name__ == "__main__":
    main()
