#!/usr/bin/env python3
"""Plots stars-eval results: accuracy against depth for one or more runs, and a panel of
latent-dynamics diagnostics (spectral radius, relative residual, state norm, entropy).

    scripts/plot_depth.py results/stars.json results/baseline.json --labels STARS,fixed \
        --out results/accuracy.png --diagnostics results/diagnostics.png
"""
import argparse
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(path):
    try:
        with open(path) as f:
            data = json.load(f)
        return data["depths"]
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"plot_depth.py: cannot read stars-eval JSON '{path}': {e}")


def column(rows, key):
    pairs = [(r["depth"], r[key]) for r in rows if r.get(key) is not None]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def plot_accuracy(runs, out):
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, rows in runs:
        ax.plot(*column(rows, "accuracy"), marker="o", markersize=3, label=label)
    ax.set_xlabel("loops at test time (depth)")
    ax.set_ylabel("exact-match accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=130)


def plot_diagnostics(runs, out):
    panels = [("rho_mean", "spectral radius ρ(J) (mean)", False),
              ("residual", "relative residual |h_t − h_{t−1}| / |h_{t−1}|", True),
              ("state_norm", "state norm |h_t| per token", False),
              ("entropy", "answer entropy (nats)", False)]
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for ax, (key, title, log) in zip(axes.flat, panels):
        for label, rows in runs:
            xs, ys = column(rows, key)
            if xs:
                ax.plot(xs, ys, marker="o", markersize=3, label=label)
        if key == "rho_mean":
            ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
        if log:
            ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("depth")
        ax.grid(alpha=0.3)
    axes.flat[0].legend()
    fig.tight_layout()
    fig.savefig(out, dpi=130)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", help="stars-eval --out JSON files")
    ap.add_argument("--labels", help="comma-separated labels, one per file (default: file names)")
    ap.add_argument("--out", default="accuracy.png", help="accuracy figure (PNG)")
    ap.add_argument("--diagnostics", help="diagnostics panel (PNG); needs stars-eval --diagnostics")
    a = ap.parse_args()
    labels = a.labels.split(",") if a.labels else [f.rsplit("/", 1)[-1].removesuffix(".json") for f in a.files]
    if len(labels) != len(a.files):
        sys.exit(f"plot_depth.py: {len(labels)} labels for {len(a.files)} files")
    runs = [(label, load(f)) for label, f in zip(labels, a.files)]
    plot_accuracy(runs, a.out)
    print(f"wrote {a.out}")
    if a.diagnostics:
        if not any(r.get("rho_mean") is not None for _, rows in runs for r in rows):
            sys.exit("plot_depth.py: no diagnostics in these files; run stars-eval with --diagnostics")
        plot_diagnostics(runs, a.diagnostics)
        print(f"wrote {a.diagnostics}")


if __name__ == "__main__":
    main()
