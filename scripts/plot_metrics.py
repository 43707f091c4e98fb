#!/usr/bin/env python3
"""Plots training curves from one or more runs' metrics.jsonl: loss, cross-entropy, the
Jacobian penalty R, loops per step, learning rate, gradient norm, held-out accuracy (one
line per monitored depth, with the phases' goal checks) and tokens/s, against step, one
colour per run; dotted vertical lines mark where a phase begins.

    scripts/plot_metrics.py runs/quick [runs/other ...] --labels quick,other \
        --out runs/quick/metrics.png
"""
import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PANELS = [("loss", "loss"), ("ce", "cross-entropy"), ("reg", "Jacobian penalty R"),
          ("loops", "loops (mean per logged window)"), ("lr", "learning rate"),
          ("grad_norm", "gradient norm"), ("eval_accuracy", "held-out accuracy"),
          ("tokens_per_s", "tokens / s")]
LOG_SCALE = {"loss", "ce", "grad_norm"}


def read_run(path):
    """The run's training lines and held-out checks; exits naming the file on bad input."""
    metrics = os.path.join(path, "metrics.jsonl") if os.path.isdir(path) else path
    steps, checks = [], []
    try:
        with open(metrics) as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError as e:
                    sys.exit(f"plot_metrics.py: {metrics}:{number}: not JSON ({e})")
                if "loss" in record:
                    steps.append(record)
                elif "eval_accuracy" in record:
                    checks.append(record)
                elif "goal_check" in record:  # a phase's goal: accuracy at one depth
                    goal = record["goal_check"]
                    checks.append({"step": record["step"],
                                   "eval_accuracy": {str(goal["depth"]): goal["accuracy"]}})
    except OSError as e:
        sys.exit(f"plot_metrics.py: cannot read '{metrics}': {e.strerror} "
                 "(want a run directory or its metrics.jsonl)")
    if not steps:
        sys.exit(f"plot_metrics.py: '{metrics}' has no training lines (step, loss, ...)")
    return steps, checks


def phase_segments(steps):
    """The training lines split where the phase changes."""
    segments = [[steps[0]]]
    for a, b in zip(steps, steps[1:]):
        if a.get("phase") != b.get("phase"):
            segments.append([])
        segments[-1].append(b)
    return segments


def phase_changes(steps):
    return [b["step"] for a, b in zip(steps, steps[1:]) if a.get("phase") != b.get("phase")]


def draw(ax, key, steps, checks, label, color):
    if key == "eval_accuracy":
        depths = sorted({d for c in checks for d in c["eval_accuracy"]}, key=int)
        for style, depth in zip(["-", "--", ":", "-."] * 4, depths):
            points = [(c["step"], c["eval_accuracy"][depth]) for c in checks
                      if depth in c["eval_accuracy"]]
            ax.plot(*zip(*points), style, color=color, marker=".",
                    label=f"{label} @ {depth} loops")
        return
    # One line per phase: a phase that ends early at its goal skips the step numbers it left.
    for i, segment in enumerate(phase_segments(steps)):
        points = [(s["step"], s[key]) for s in segment if key in s]
        if points:
            ax.plot(*zip(*points), color=color, label=label if i == 0 else None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="run directories (or metrics.jsonl files)")
    parser.add_argument("--labels", help="comma-separated names, one per run")
    parser.add_argument("--out", required=True, help="image to write (PNG, SVG, PDF)")
    args = parser.parse_args()
    labels = args.labels.split(",") if args.labels else [os.path.basename(os.path.normpath(r))
                                                         for r in args.runs]
    if len(labels) != len(args.runs):
        sys.exit(f"plot_metrics.py: {len(labels)} labels for {len(args.runs)} runs")
    runs = [read_run(r) for r in args.runs]  # every input is checked before anything is drawn
    fig, axes = plt.subplots(2, 4, figsize=(18, 7.5))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (key, title) in zip(axes.flat, PANELS):
        for i, ((steps, checks), label) in enumerate(zip(runs, labels)):
            color = colors[i % len(colors)]
            draw(ax, key, steps, checks, label, color)
            for step in phase_changes(steps):
                ax.axvline(step, color=color, linestyle=":", linewidth=0.8)
        ax.set_title(title)
        ax.set_xlabel("step")
        if key in LOG_SCALE:
            ax.set_yscale("log")
        if key == "eval_accuracy":
            ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes.flat[6].legend(fontsize=7)
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
