#!/usr/bin/env python3
"""Markdown tables of stars-eval difficulty grids: one table per file, a row per depth and
a column per difficulty (exact-match accuracy, or with --value loss the teacher-forced answer
loss of stars-eval --loss), plus loops per token where recorded.

    scripts/grid_table.py A.json B.json --labels a,b [--value loss] > tables.md
"""
import argparse
import json
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--labels")
    ap.add_argument("--value", choices=["accuracy", "loss"], default="accuracy",
                    help="what a cell shows (loss: the grid must come from stars-eval --loss)")
    a = ap.parse_args()
    labels = a.labels.split(",") if a.labels else a.files
    if len(labels) != len(a.files):
        sys.exit(f"grid_table.py: {len(labels)} labels for {len(a.files)} files")
    grids = [load(f) for f in a.files]
    for f, cells in zip(a.files, grids):
        if any(a.value not in c for c in cells):
            sys.exit(f"grid_table.py: '{f}' has no {a.value} in its cells (stars-eval --loss writes it)")
    print("\n".join(table(label, cells, a.value) for label, cells in zip(labels, grids)))


if __name__ == "__main__":
    main()
