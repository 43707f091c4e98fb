#!/usr/bin/env python3
"""Error analysis of stars-eval --predictions JSONL: where a model's answers go wrong.

    python3 scripts/error_report.py PRED.jsonl [--depths 6,64] [--out report.md]

Groups the predictions by (difficulty, depth) (difficulty as stars-eval --difficulties
writes it; 0 when the file has none) and reports, as a markdown table:
  - exact-match accuracy;
  - for one-digit answers (chain, list_end, pointer): the share of outputs right modulo 2
    and modulo 5 (10 = 2 x 5, so an answer is right exactly when both are) and the digits
    the model never outputs, which tell a lookup that is half-learned (one residue exact,
    the other at chance) or a collapsed output from a step not learned at all;
  - accuracy by target digit.
"""
import argparse
import collections
import json
import sys


def load(path):
    rows = []
    try:
        f = open(path)
    except OSError as e:
        sys.exit(f"{path}: {e.strerror}; pass a stars-eval --predictions file")
    with f:
        for n, line in enumerate(f, 1):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                sys.exit(f"{path}:{n}: not a JSON line ({e}); pass a stars-eval --predictions file")
    if not rows or not {"depth", "target", "output", "correct"} <= set(rows[0]):
        sys.exit(f"{path}: want stars-eval --predictions lines with depth, target, output, correct")
    return rows


def digit(text):
    text = text.strip()
    return int(text) if len(text) == 1 and text.isdigit() else None


def summarise(group):
    n = len(group)
    out = {"n": n, "accuracy": sum(r["correct"] for r in group) / n}
    pairs = [(digit(r["output"]), digit(r["target"])) for r in group]
    if all(t is not None for _, t in pairs):
        out["mod2"] = sum(o is not None and (o - t) % 2 == 0 for o, t in pairs) / n
        out["mod5"] = sum(o is not None and (o - t) % 5 == 0 for o, t in pairs) / n
        said = {o for o, _ in pairs if o is not None}
        out["never_output"] = sorted(set(range(10)) - said)
        by_target = collections.defaultdict(list)
        for r, (_, t) in zip(group, pairs):
            by_target[t].append(r["correct"])
        out["by_target"] = {t: sum(v) / len(v) for t, v in sorted(by_target.items())}
    return out


def report(rows, depths):
    groups = collections.defaultdict(list)
    for r in rows:
        if depths is None or r["depth"] in depths:
            groups[(r.get("difficulty", 0), r["depth"])].append(r)
    lines = ["| difficulty | depth | n | exact | right mod 2 | right mod 5 | never output | "
             "accuracy by target digit 0..9 |", "|---|---|---|---|---|---|---|---|"]
    for (d, depth), group in sorted(groups.items()):
        s = summarise(group)
        acc = s.get("by_target")  # "-": no problem has that answer
        by_target = " ".join(f"{acc[t]:.2f}" if t in acc else "-" for t in range(10)) if acc else ""
        mod2 = f"{s['mod2']:.3f}" if "mod2" in s else ""
        mod5 = f"{s['mod5']:.3f}" if "mod5" in s else ""
        never = ",".join(map(str, s.get("never_output", [])))
        lines.append(f"| {d} | {depth} | {s['n']} | {s['accuracy']:.3f} | {mod2} | {mod5} | "
                     f"{never} | {by_target} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("predictions")
    ap.add_argument("--depths", help="comma-separated depths to report (default: all)")
    ap.add_argument("--out", help="also write the table to this file")
    a = ap.parse_args()
    depths = None
    if a.depths:
        try:
            depths = {int(x) for x in a.depths.split(",")}
        except ValueError:
            sys.exit(f"--depths {a.depths}: want comma-separated integers such as 6,64")
    table = report(load(a.predictions), depths)
    sys.stdout.write(table)
    if a.out:
        with open(a.out, "w") as f:
            f.write(table)


if __name__ == "__main__":
    main()
