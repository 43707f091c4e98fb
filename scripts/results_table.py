#!/usr/bin/env python3
"""Writes a markdown report of stars-eval results: accuracy by depth for several runs, the
diagnostics that explain it, and the wall times from reproduce.sh.

    scripts/results_table.py results/ fixed-pre fixed-post_sandwich random-no-jsrr stars
"""
import json
import sys

DEPTHS = [1, 2, 3, 4, 5, 6, 8, 12, 16, 24, 32, 48, 64, 80, 100]


def load(folder, name):
    with open(f"{folder}/{name}.json") as f:
        return {r["depth"]: r for r in json.load(f)["depths"]}


def row(label, rows, key, fmt):
    cells = [fmt.format(rows[d][key]) if d in rows and rows[d].get(key) is not None else "–" for d in DEPTHS]
    return f"| {label} | " + " | ".join(cells) + " |"


def table(title, runs, key, fmt):
    lines = [f"**{title}**", "", "| run | " + " | ".join(str(d) for d in DEPTHS) + " |",
             "|---|" + "---|" * len(DEPTHS)]
    lines += [row(name, rows, key, fmt) for name, rows in runs]
    return "\n".join(lines) + "\n"


def main():
    folder, names = sys.argv[1], sys.argv[2:]
    runs = [(n, load(folder, n)) for n in names]
    out = [table("Exact-match accuracy by depth", runs, "accuracy", "{:.3f}"),
           table("Mean state norm |h_t| per token", runs, "state_norm", "{:.1f}"),
           table("Relative residual |h_t − h_{t−1}| / |h_{t−1}|", runs, "residual", "{:.2g}"),
           table("Spectral radius of the core's Jacobian at h_t (mean over sequences)", runs, "rho_mean", "{:.2f}"),
           table("Spectral radius, max over sequences", runs, "rho_max", "{:.2f}")]
    for name, rows in runs:
        good = [d for d in rows if 4 <= d <= 64]
        worst = min(good, key=lambda d: rows[d]["accuracy"]) if good else None
        if worst is not None:
            out.append(f"- {name}: lowest accuracy between depths 4 and 64 is "
                       f"{rows[worst]['accuracy']:.3f} (depth {worst}); at the deepest depth "
                       f"{max(rows)}: {rows[max(rows)]['accuracy']:.3f}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
