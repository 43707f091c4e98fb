#!/usr/bin/env python3
"""Plots stars-eval results: accuracy against depth for one or more runs, and a panel of
latent-dynamics diagnostics (spectral radius, relative residual, state norm, entropy).

    scripts/plot_depth.py results/stars.json results/baseline.json --labels STARS,fixed \
        --out results/accuracy.png --diagnostics results/diagnostics.png

Results by difficulty (stars-eval --difficulties) are drawn per run as a heatmap of
accuracy over (depth, difficulty) beside one accuracy-vs-depth line per difficulty; with
adaptive exit (--exit-tol), --loops draws the loops run per token against difficulty.

    scripts/plot_depth.py results/chain-stars.json results/chain-fixed.json \
        --labels STARS,fixed --out results/chain.png --loops results/chain-loops.png
"""
import argparse
import json
import sys

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(path):
    """The rows of a depth sweep, or the cells of a difficulty grid (marked by 'difficulty')."""
    try:
        with open(path) as f:
            data = json.load(f)
        return data["grid"] if "grid" in data else data["depths"]
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"plot_depth.py: cannot read stars-eval JSON '{path}': {e}")


def is_grid(rows):
    return bool(rows) and "difficulty" in rows[0]


def grid_axes(cells):
    depths = sorted({c["depth"] for c in cells})
    difficulties = sorted({c["difficulty"] for c in cells})
    return depths, difficulties


def plot_grid(runs, out, trained=None):
    """Per run: heatmap of accuracy (depth x difficulty) and accuracy-vs-depth per difficulty."""
    fig, axes = plt.subplots(len(runs), 2, figsize=(12, 4.2 * len(runs)), squeeze=False)
    cmap = plt.get_cmap("viridis")
    for (label, cells), (heat, lines) in zip(runs, axes):
        depths, difficulties = grid_axes(cells)
        acc = {(c["depth"], c["difficulty"]): c["accuracy"] for c in cells}
        image = [[acc.get((d, k), float("nan")) for d in depths] for k in difficulties]
        im = heat.imshow(image, aspect="auto", origin="lower", vmin=0, vmax=1, cmap="magma")
        heat.set_xticks(range(len(depths)), [str(d) for d in depths], fontsize=7)
        heat.set_yticks(range(len(difficulties)), [str(k) for k in difficulties], fontsize=7)
        heat.set_xlabel("loops at test time (depth)")
        heat.set_ylabel("difficulty")
        heat.set_title(f"{label}: exact-match accuracy", fontsize=10)
        if trained:
            heat.axhline(difficulties.index(trained) + 0.5 if trained in difficulties else -0.5,
                         color="white", linestyle="--", linewidth=1)
        fig.colorbar(im, ax=heat, fraction=0.046)
        for i, k in enumerate(difficulties):
            color = cmap(i / max(1, len(difficulties) - 1))
            lines.plot(depths, [acc.get((d, k)) for d in depths], marker="o", markersize=2,
                       color=color, label=f"{k}", linestyle="-" if not trained or k <= trained else "--")
        lines.set_xscale("log", base=2)
        lines.set_xlabel("loops at test time (depth)")
        lines.set_ylabel("accuracy")
        lines.set_ylim(-0.02, 1.02)
        lines.grid(alpha=0.3)
        lines.set_title(f"{label}: one line per difficulty (dashed: unseen in training)", fontsize=10)
        lines.legend(fontsize=6, ncol=2, title="difficulty", title_fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=130)


def plot_loops(runs, out):
    """Loops run per token under adaptive exit, against difficulty, at the deepest cap."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, cells in runs:
        cap = max(c["depth"] for c in cells)
        pts = sorted((c["difficulty"], c["mean_loops"]) for c in cells
                     if c["depth"] == cap and c.get("mean_loops") is not None)
        if pts:
            ax.plot(*zip(*pts), marker="o", markersize=3, label=f"{label} (cap {cap})")
    ax.set_xlabel("difficulty")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_ylabel("loops run per token (adaptive exit)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=130)


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
    ap.add_argument("--out", required=True, help="accuracy figure (PNG)")
    ap.add_argument("--diagnostics", help="diagnostics panel (PNG); needs stars-eval --diagnostics")
    ap.add_argument("--loops", help="difficulty grids: loops per token vs difficulty (PNG); needs --exit-tol")
    ap.add_argument("--trained", type=int, help="difficulty grids: largest difficulty seen in training")
    a = ap.parse_args()
    labels = a.labels.split(",") if a.labels else [f.rsplit("/", 1)[-1].removesuffix(".json") for f in a.files]
    if len(labels) != len(a.files):
        sys.exit(f"plot_depth.py: {len(labels)} labels for {len(a.files)} files")
    runs = [(label, load(f)) for label, f in zip(labels, a.files)]
    # Every input is checked before anything is written.
    if a.diagnostics and not any(r.get("rho_mean") is not None for _, rows in runs for r in rows):
        sys.exit("plot_depth.py: no diagnostics in these files; run stars-eval with --diagnostics")
    if a.loops and not any(r.get("mean_loops") is not None for _, rows in runs for r in rows):
        sys.exit("plot_depth.py: no loop counts in these files; run stars-eval with --exit-tol")
    if any(is_grid(rows) for _, rows in runs):
        if not all(is_grid(rows) for _, rows in runs):
            sys.exit("plot_depth.py: mix of depth sweeps and difficulty grids; plot them separately")
        plot_grid(runs, a.out, a.trained)
        print(f"wrote {a.out}")
        if a.loops:
            plot_loops(runs, a.loops)
            print(f"wrote {a.loops}")
        return
    plot_accuracy(runs, a.out)
    print(f"wrote {a.out}")
    if a.diagnostics:
        plot_diagnostics(runs, a.diagnostics)
        print(f"wrote {a.diagnostics}")


if __name__ == "__main__":
    main()
