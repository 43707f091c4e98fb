#!/usr/bin/env python3
"""Markdown tables of stars-eval difficulty grids: one table per file, a row per depth and
a column per difficulty (exact-match accuracy, or with --value loss the teacher-forced answer
loss of stars-eval --loss), plus loops per token where recorded. With --trained K each
accuracy table is followed by a depth summary per difficulty: its best accuracy, the
accuracy at the deepest depth and the drop between them with its standard error, which is
the test for overthinking (a model that holds its answer keeps the drop near zero).

    scripts/grid_table.py A.json B.json --labels a,b [--value loss] [--trained K] > tables.md
"""
import argparse
import json
import math
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)["grid"]
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"grid_table.py: cannot read a stars-eval --difficulties JSON '{path}': {e}")


def table(label, cells, value="accuracy"):
    depths = sorted({c["depth"] for c in cells})
    diffs = sorted({c["difficulty"] for c in cells})
    acc = {(c["depth"], c["difficulty"]): c for c in cells}
    loops = any(c.get("mean_loops") is not None for c in cells)
    lines = [f"### {label}", "", "| depth \\ difficulty | " + " | ".join(str(k) for k in diffs) + " |",
             "|---" * (len(diffs) + 1) + "|"]
    for d in depths:
        row = []
        for k in diffs:
            c = acc.get((d, k))
            cell = "" if c is None else f"{c[value]:.3f}"
            if c is not None and loops:
                cell += f" ({c['mean_loops']:.1f})"
            row.append(cell)
        lines.append(f"| {d} | " + " | ".join(row) + " |")
    if loops:
        lines += ["", "(in brackets: loops run per token under adaptive exit)"]
    return "\n".join(lines) + "\n"


def standard_error(p, n):
    return math.sqrt(max(p * (1 - p), 0.0) / n) if n else 0.0


def held_to(row, best):
    """The deepest depth to which the accuracy stays within 2 points of its best."""
    held = best["depth"]
    for c in row:
        if c["depth"] > best["depth"]:
            if round(best["accuracy"] - c["accuracy"], 9) > 0.02:  # 0.964 - 0.944 is 2 points
                break
            held = c["depth"]
    return held


def depth_summary(cells, trained):
    """Per difficulty: best accuracy (and where), accuracy at the deepest depth, the drop in
    points with a standard error for that difference, and the deepest depth to which the
    accuracy stays within 2 points of its best. The error treats the two cells as
    independent binomials; stars-eval asks the same problems at every depth, so the cells
    are positively correlated and the error is an upper bound (a paired count needs
    --predictions). The best of many noisy cells is biased upward, so a drop within about
    two standard errors is not evidence of drift."""
    deepest = max(c["depth"] for c in cells)
    lines = [f"Depth summary (difficulties 1..{trained} trained; deepest depth {deepest}):", "",
             f"| difficulty | best | at depth | at {deepest} | drop (points) | ± SE "
             "| within 2 points of best to depth |",
             "|---|---|---|---|---|---|---|"]
    worst = None
    for k in sorted({c["difficulty"] for c in cells}):
        row = sorted((c for c in cells if c["difficulty"] == k), key=lambda c: c["depth"])
        best = max(row, key=lambda c: (c["accuracy"], -c["depth"]))
        last = row[-1]
        drop = 100 * (best["accuracy"] - last["accuracy"])
        se = 100 * math.hypot(standard_error(best["accuracy"], best.get("n", 0)),
                              standard_error(last["accuracy"], last.get("n", 0)))
        mark = "" if k <= trained else " (unseen)"
        lines.append(f"| {k}{mark} | {best['accuracy']:.3f} | {best['depth']} "
                     f"| {last['accuracy']:.3f} | {drop:.1f} | {se:.1f} | {held_to(row, best)} |")
        if k <= trained and (worst is None or drop > worst[1]):
            worst = (k, drop, se)
    if worst:
        lines += ["", f"Largest drop on a trained difficulty: {worst[1]:.1f} ± {worst[2]:.1f} "
                      f"points (difficulty {worst[0]})."]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--labels")
    ap.add_argument("--value", choices=["accuracy", "loss"], default="accuracy",
                    help="what a cell shows (loss: the grid must come from stars-eval --loss)")
    ap.add_argument("--trained", type=int, default=0,
                    help="difficulties 1..K were trained: a depth summary after each accuracy table")
    a = ap.parse_args()
    if a.trained < 0:
        sys.exit(f"grid_table.py: --trained {a.trained}: want the largest trained difficulty, "
                 ">= 1 (or 0: no summary)")
    labels = a.labels.split(",") if a.labels else a.files
    if len(labels) != len(a.files):
        sys.exit(f"grid_table.py: {len(labels)} labels for {len(a.files)} files")
    grids = [load(f) for f in a.files]
    for f, cells in zip(a.files, grids):
        if any(a.value not in c for c in cells):
            sys.exit(f"grid_table.py: '{f}' has no {a.value} in its cells (stars-eval --loss writes it)")
    parts = []
    for label, cells in zip(labels, grids):
        parts.append(table(label, cells, a.value))
        if a.trained and a.value == "accuracy":
            parts.append(depth_summary(cells, a.trained))
    print("\n".join(parts))


if __name__ == "__main__":
    main()
