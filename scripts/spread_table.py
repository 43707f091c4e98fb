#!/usr/bin/env python3
"""Tabulates a seed_spread.sh directory: for each run, when it learned and how it ended.

    python3 scripts/spread_table.py OUT > OUT/spread.md

Reads each run's metrics.jsonl: the first phase's goal checks (accuracy at the goal depth
every `until.every` steps, on problems of their own), the held-out accuracy logged when the
first phase ended, and the final sweep. Prints a markdown table and a summary line with the
median and worst time to reach 99% at the goal depth.
"""
import json
import statistics
import sys
from pathlib import Path


def read_run(run: Path):
    lines = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines() if l.strip()]
    cfg = json.loads((run / "config.json").read_text())
    first = cfg["phases"][0]
    checks = [l for l in lines if "goal_check" in l]
    reached = next((l for l in checks if l["goal_check"]["accuracy"] >= 0.99), None)
    evals = [l for l in lines if "eval_accuracy" in l]
    # The held-out evaluation at the end of the first phase is the first one logged at or
    # after the step where the goal was reached (the phase skips to its end there).
    boundary = first["steps"]
    phase_end = next((l for l in evals if l["step"] >= boundary), None)
    final = next((l for l in lines if "final_accuracy" in l), None)
    return {
        "run": run.name,
        "reached_step": reached["step"] if reached else None,
        "reached_s": reached.get("seconds") if reached else None,
        "last_check": checks[-1]["goal_check"]["accuracy"] if checks else None,
        "phase_end_acc4": phase_end["eval_accuracy"].get("4") if phase_end else None,
        "final": final["final_accuracy"] if final else None,
        "train_s": final.get("train_seconds") if final else None,
    }


def fmt(x, spec=".3f"):
    return "–" if x is None else format(x, spec)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: spread_table.py OUT")
    out = Path(sys.argv[1])
    runs = sorted(p for p in out.iterdir() if (p / "metrics.jsonl").exists())
    if not runs:
        sys.exit(f"spread_table.py: no runs with metrics.jsonl under {out}")
    rows = [read_run(r) for r in runs]
    print("| run | first 99% at depth 4 (step) | (min) | depth 4 at end of phase 1 | final depth 4 | final depth 64 | min over 3..64 | train min |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        final = r["final"] or {}
        deep = [v for k, v in final.items() if 3 <= int(k) <= 64]
        print(
            f"| {r['run']} | {r['reached_step'] if r['reached_step'] is not None else 'never (last ' + fmt(r['last_check']) + ')'} "
            f"| {fmt(r['reached_s'] / 60 if r['reached_s'] else None, '.1f')} "
            f"| {fmt(r['phase_end_acc4'])} | {fmt(final.get('4'))} | {fmt(final.get('64'))} "
            f"| {fmt(min(deep) if deep else None)} | {fmt(r['train_s'] / 60 if r['train_s'] else None, '.1f')} |"
        )
    reached = [r for r in rows if r["reached_step"] is not None]
    print()
    print(f"{len(reached)} of {len(rows)} runs reached 99% at depth 4 in the first phase.")
    if reached:
        steps = [r["reached_step"] for r in reached]
        print(f"Steps to 99%: median {statistics.median(steps):.0f}, worst {max(steps)}.")
        mins = [r["reached_s"] / 60 for r in reached if r["reached_s"]]
        if mins:
            print(f"Minutes to 99%: median {statistics.median(mins):.1f}, worst {max(mins):.1f}.")
    totals = [r["train_s"] / 60 for r in rows if r["train_s"]]
    if totals:
        print(f"Training minutes, whole run: median {statistics.median(totals):.1f}, worst {max(totals):.1f}.")


if __name__ == "__main__":
    main()
