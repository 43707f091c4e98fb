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
  - accuracy by target digit;
  - for list_end problems ("TTTTTTTTTT+x="), where each wrong answer lies: on x's own list
    short of its end (the hops were stopped early; the mean hop reached is given), the end
    of the other list (the wrong list was followed or a self-loop was guessed), or another
    node of the other list.
"""
import argparse
import collections
import sys

from eval_records import list_end_walk, load_records


def load(path):
    return load_records(path, "--predictions", ["depth", "target", "output", "correct"])


def digit(text):
    text = text.strip()
    return int(text) if len(text) == 1 and text.isdigit() else None


def list_end_misses(group):
    """Shares of all answers that stop early on x's list, that give the other list's end, or
    that give another node; and the mean hop reached by the early stops."""
    early, other_end, elsewhere, hops = 0, 0, 0, []
    for r in group:
        walk = list_end_walk(r.get("prompt", ""))
        if walk is None:
            return None
        if r["correct"]:
            continue
        path, ends = walk
        o = digit(r["output"])
        if o in path[:-1]:
            early += 1
            hops.append(path.index(o))
        elif o in ends:
            other_end += 1
        else:
            elsewhere += 1
    n = len(group)
    return {"early": early / n, "other_end": other_end / n, "elsewhere": elsewhere / n,
            "mean_hop": sum(hops) / len(hops) if hops else None}


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
    return "\n".join(lines + list_end_table(groups)) + "\n"


def list_end_table(groups):
    """Where the wrong list_end answers lie, by (difficulty, depth); nothing for other tasks."""
    rows = []
    for (d, depth), group in sorted(groups.items()):
        m = list_end_misses(group)
        if m is None:
            return []
        hop = f"{m['mean_hop']:.1f}" if m["mean_hop"] is not None else ""
        rows.append(f"| {d} | {depth} | {m['early']:.3f} | {hop} | {m['other_end']:.3f} | "
                    f"{m['elsewhere']:.3f} |")
    return ["", "Wrong answers (shares of all answers): stopped early on x's list (mean hop "
            "reached), the other list's end, another node.", "",
            "| difficulty | depth | stopped early | mean hop reached | other end | elsewhere |",
            "|---|---|---|---|---|---|"] + rows


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
