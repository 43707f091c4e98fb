#!/usr/bin/env python3
"""The sweep runner's paired report on a finished-sweep fixture (no training, no evaluation).

    python3 tests/cli/sweep_paired.py scripts/sweep.py tests/cli/fixtures/sweep_paired WORK

The fixture (fixtures/sweep_paired): cells none, paper and solo; at depth 64, paper minus
none is 0.1, 0.3, 0.2 and -0.1 on seeds 1-4 (seed 5 has paper only, so it is not paired),
all ties at depth 4; solo has seed 1 only. Checked: the statistics against hand-computed
values, sweep.json and sweep.md from --report-only, the one-seed case, the default pairs,
pairs without shared phases, and that an unknown cell in "pairs" is refused.
"""
import itertools
import json
import os
import shutil
import subprocess
import sys

SWEEP, FIXTURE, WORK = sys.argv[1:4]
sys.path.insert(0, os.path.dirname(os.path.abspath(SWEEP)))
import paired_stats as ps  # noqa: E402  (found next to sweep.py)


def check(cond, what):
    """Fails the test with a message (not assert, which python -O drops)."""
    if not cond:
        sys.exit(f"FAIL: {what}")


def close(x, want, tol=1e-4):
    return x is not None and abs(x - want) <= tol


def check_statistics():
    """The statistics on the hand-computed example, the t quantile and the bootstrap."""
    for df, want in ((1, 12.7062), (2, 4.30265), (3, 3.18245), (10, 2.22814), (30, 2.04227),
                     (1000, 1.96234)):
        check(close(ps.t_quantile(0.975, df), want), f"t(0.975, {df}) = {want}")
    d = [0.1, 0.3, 0.2, -0.1]
    check(close(ps.mean(d), 0.125) and close(ps.sample_sd(d), 0.17078), "mean 0.125, sd 0.17078")
    lo, hi = ps.t_interval(d)
    check(close(lo, -0.1467) and close(hi, 0.3967), f"t interval [{lo}, {hi}]")
    check(ps.favour_counts(d + [0.0], True) == (3, 1, 1), "3 favour B, 1 A, 1 tie (accuracy)")
    check(ps.favour_counts(d, False) == (1, 3, 0), "lower-is-better: negative favours B")
    # The exact percentile bootstrap by enumerating all 4^4 equally likely resamples.
    exact = sorted(ps.mean(list(r)) for r in itertools.product(d, repeat=4))
    boot = ps.bootstrap_interval(d)
    check(boot == ps.bootstrap_interval(d), "the bootstrap is reproducible (fixed seed)")
    check(close(boot[0], ps.percentile(exact, 0.025), 0.03)
          and close(boot[1], ps.percentile(exact, 0.975), 0.03), f"bootstrap {boot}")
    check(ps.t_interval([0.2]) is None and ps.bootstrap_interval([0.2]) is None, "1 seed: None")
    check(ps.fmt_interval(None, 1, 3) == "n/a (1 seed)", "1 seed: n/a (1 seed)")
    text = ps.pair_differences("a", "b", {1: [{"depth": 1, "bits_per_byte": 2.0}]},
                               {1: [{"depth": 1, "bits_per_byte": 1.5}]})
    check(text["metric"] == "bits_per_byte" and text["depths"][0]["favour_b"] == 1
          and "negative favours b" in text["direction"], f"text sweeps: {text}")


def report_only(name, spec_changes):
    """Copies the fixture to WORK/name, applies spec_changes and runs --report-only there."""
    out = os.path.join(WORK, name)
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(FIXTURE, out)
    with open(os.path.join(FIXTURE, "spec.json")) as f:
        spec = json.load(f)
    spec.update(spec_changes)
    spec = {k: v for k, v in spec.items() if v is not None}
    with open(os.path.join(out, "spec.json"), "w") as f:
        json.dump(spec, f)
    proc = subprocess.run([sys.executable, SWEEP, os.path.join(out, "spec.json"), "--out", out,
                           "--report-only"], capture_output=True, text=True)
    return proc, out


def read(out, name):
    with open(os.path.join(out, name)) as f:
        return json.load(f) if name.endswith(".json") else f.read()


def check_report():
    """sweep.json's "paired" list and sweep.md's section, from the fixture's evaluations."""
    proc, out = report_only("paired", {})
    check(proc.returncode == 0, f"--report-only exit {proc.returncode}: {proc.stderr}")
    j, md = read(out, "sweep.json"), read(out, "sweep.md")
    check([(p["a"], p["b"]) for p in j["paired"]] == [("none", "paper"), ("none", "solo")],
          "pairs in order")
    p = j["paired"][0]
    check(p["metric"] == "accuracy" and p["n_seeds"] == 4, "4 seeds paired (seed 5 lacks none)")
    d4, d64 = p["depths"]
    check(d4["depth"] == 4 and d4["ties"] == 4 and d4["mean"] == 0, "depth 4: 4 ties")
    want = {"1": 0.1, "2": 0.3, "3": 0.2, "4": -0.1}
    check(d64["diffs"].keys() == want.keys()
          and all(close(d64["diffs"][s], v, 1e-9) for s, v in want.items()), f"{d64['diffs']}")
    check(close(d64["mean"], 0.125) and close(d64["sd"], 0.17078), "mean and sd at 64")
    check(close(d64["t_ci95"][0], -0.1467) and close(d64["t_ci95"][1], 0.3967), "t CI at 64")
    check(d64["bootstrap_ci95"][0] < d64["mean"] < d64["bootstrap_ci95"][1], "bootstrap CI")
    check((d64["favour_b"], d64["favour_a"], d64["ties"]) == (3, 1, 0), "3 / 1 / 0 at 64")
    solo = j["paired"][1]
    check(solo["n_seeds"] == 1 and solo["depths"][1]["t_ci95"] is None, "one seed: no interval")
    check(j["none"]["seeds"] == [1, 2, 3, 4], "the per-cell summary is still there")
    for text in ("| none | 4 |", "## Paired differences", "### paper − none",
                 "4 seeds paired (1, 2, 3, 4), from the same first phase",
                 "positive favours paper", "| 64 | 4 | +0.125 | [-0.147, +0.397] |",
                 "| 3 / 1 / 0 | 1: +0.100, 2: +0.300, 3: +0.200, 4: -0.100 |",
                 "| 64 | 1 | +0.050 | n/a (1 seed) | n/a (1 seed) | 1 / 0 / 0 | 1: +0.050 |"):
        check(text in md, f"sweep.md lacks '{text}':\n{md}")


def check_worst_and_training_time():
    """Each seed's worst accuracy (part of choosing a recipe that holds on every seed), the
    count of seeds above the floor, and the training time kept in an evaluation JSON whose
    run directory is gone (fixture: none-seed1.json records 240 s)."""
    proc, out = report_only("worst", {"summary": {"min_from": 4, "at": [64], "floor": 0.6}})
    check(proc.returncode == 0, f"--report-only exit {proc.returncode}: {proc.stderr}")
    j, md = read(out, "sweep.json"), read(out, "sweep.md")
    check(j["none"]["worst"][0] == {"seed": 2, "acc": 0.4, "depth": 64}, f"{j['none']['worst']}")
    check([w["seed"] for w in j["paper"]["worst"]] == [1, 4, 2, 3, 5], "worst first, ties by seed")
    for text in ("## Worst accuracy per seed, depth ≥ 4", "seeds ≥ 0.6 everywhere",
                 "| none | 4 | 2 | 0.550 | 2: 0.400 @ 64, 1: 0.500 @ 64, 3: 0.600 @ 64, "
                 "4: 0.700 @ 64 |", "| paper | 5 | 5 | 0.700 |"):
        check(text in md, f"sweep.md lacks '{text}':\n{md}")
    check(close(j["none"]["train_seconds"]["mean"], 240.0) and j["none"]["train_seconds"]["n"] == 1,
          f"training time from the evaluation JSON: {j['none']['train_seconds']}")
    check("| 4.0 | 0.0 (0.0–0.0) |" in md, "train min 4.0 in the table")


def check_spec_variants():
    """Unknown cells are refused; default pairs; pairs without shared phases."""
    proc, _ = report_only("bad", {"pairs": [["none", "nope"]]})
    check(proc.returncode == 2 and "pairs: 'nope' is not a cell" in proc.stderr
          and "valid cells: ['none', 'paper', 'solo']" in proc.stderr, f"bad pair: {proc.stderr}")
    proc, out = report_only("three", {"pairs": None})
    check(proc.returncode == 0 and "paired" not in read(out, "sweep.json")
          and "Paired" not in read(out, "sweep.md"), "no pairs key, three cells: no pairs")
    proc, out = report_only("two", {"pairs": None, "cells": {"none": [], "paper": []}})
    check(proc.returncode == 0 and [(p["a"], p["b"]) for p in read(out, "sweep.json")["paired"]]
          == [("none", "paper")], "no pairs key, two cells, shared phases: that pair")
    proc, out = report_only("unshared", {"shared_phases": 0})
    check(proc.returncode == 0 and "by seed only, not by a shared first phase"
          in read(out, "sweep.md"), "shared_phases 0: paired by seed only")


check_statistics()
check_report()
check_worst_and_training_time()
check_spec_variants()
print("sweep paired report: differences, t and bootstrap intervals, counts, 1-seed n/a, "
      "worst accuracy per seed, bad pair refused")
