#!/usr/bin/env python3
"""Runs a grid of stars-train runs over seeds, evaluates each with stars-eval, and aggregates.

    python3 scripts/sweep.py SPEC.json --out DIR [--jobs 2] [--bin build/apps] [--report-only]

SPEC (JSON):
    base           stars-train config every run starts from
    seeds          list of train.seed values; every cell runs once per seed
    shared_phases  phases [0, k) train once per seed (DIR/shared/seed-S) and every cell of
                   that seed starts from their weights through --init, running phases k..
                   (0: every run trains all phases itself)
    set            --set values for every run ("key=value")
    cells          {name: [--set values]}: named variants (optional)
    axes           {key: [values]}: every combination (optional); crossed with cells
    eval           {"depths", "n", "seed", "diagnostics", "diag_n", "batch"}: stars-eval;
                   "texts": {LABEL: FILE} evaluates every text run on these files too
                   (--text), each reported on its own; "exits": {LABEL: RULE} evaluates
                   every run again with per-token exit (--exit RULE, e.g. "kl:0.01") on
                   each of those sets, the depths then being caps, without diagnostics;
                   "average": {LABEL: K} evaluates, on each of those sets, the mean of
                   each run's last K saved steps (stars-average, RUN/average-lastK.pt)
    summary        {"min_from": 4, "at": [64, 1000], "floor": 0.99, "rise": 0.01}: the
                   report's columns; for accuracy each seed's worst from depth min_from on
                   and how many seeds keep at least floor at every such depth; for bits per
                   byte each seed's best from min_from on, the rise above it at the "at"
                   depths and how many seeds stay within rise of their best there
    pairs          [["A", "B"], ...]: cells compared seed by seed, B minus A (optional; by
                   default, with shared_phases and exactly two cells, those two in order,
                   otherwise none; [] for none)

Keys name phases as in the base config (phases.1.x is the second phase); with shared phases
the runner renumbers them for the cell runs, and refuses a cell that changes a shared phase.

Each run is one stars-train process with one thread, --jobs of them at a time. Finished runs
(model.pt present) and evaluations (JSON present) are skipped; a run interrupted after a
checkpoint resumes from it, one interrupted before restarts. So a killed sweep loses at most
the steps since each run's last checkpoint. Outputs under DIR: runs/CELL-seedS/ (run
directories), evals/CELL-seedS.json, evals/CELL-seedS.LABEL.json per extra text and
evals/CELL-seedS[.LABEL].exit-EXIT.json per exit rule, evals/CELL-seedS[.LABEL].avg-AVG.json
per average (with the run's training time and the STARS_CPU_GEMM the sweep ran with, so the report needs only
these), and sweep.csv (one row per run, depth and evaluation set), sweep.json (per-cell
means and spreads, and per seed the worst accuracy or the best bits per byte), sweep.md
(the tables) and sweep.png (the metric by depth).
--report-only rebuilds these four from the evaluations already under DIR, training and
evaluating nothing: rerun it to redo the analysis of a finished sweep.

Paired report: cells that run with the same seed (from the same first-phase weights with
shared_phases) are compared seed by seed. For each pair (A, B) and evaluated depth the
report gives the per-seed differences B minus A of the evaluation's metric (accuracy:
positive favours B; bits per byte: negative favours B), their mean, a Student t 95% interval
and a bootstrap percentile 95% interval over seeds, and how many seeds favour B, favour A
or tie; only seeds where both cells were evaluated are paired. They go to sweep.json
("paired") and to sweep.md ("Paired differences"); scripts/paired_stats.py computes them and
scripts/sweep_report.py writes the report.
Pairs are allowed without shared phases too; the runs are then paired by seed only.
"""
import argparse
import concurrent.futures as futures
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import sweep_report

PHASE_KEY = re.compile(r"^phases\.(\d+)\.(.+)$")


class SpecError(Exception):
    pass


def load_spec(path):
    try:
        with open(path) as f:
            spec = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise SpecError(f"{path}: {e}")
    known = {"base", "seeds", "shared_phases", "set", "cells", "axes", "eval", "summary", "pairs"}
    unknown = set(spec) - known
    if unknown:
        raise SpecError(f"{path}: unknown keys {sorted(unknown)}; valid: {sorted(known)}")
    if "base" not in spec or not spec.get("seeds"):
        raise SpecError(f"{path}: 'base' (a config path) and 'seeds' (a non-empty list) are required")
    if not all(isinstance(s, int) for s in spec["seeds"]):
        raise SpecError(f"{path}: seeds must be integers, got {spec['seeds']}")
    for key, values in spec.get("axes", {}).items():
        if not isinstance(values, list) or not values:
            raise SpecError(f"{path}: axis '{key}' needs a non-empty list of values")
    pairs = spec.get("pairs", [])
    if not isinstance(pairs, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(c, str) for c in p)
            for p in pairs):
        raise SpecError(f"{path}: 'pairs' must be a list of [A, B] cell-name pairs, got {pairs}")
    texts = spec.get("eval", {}).get("texts", {})
    if not isinstance(texts, dict) or not all(
            isinstance(k, str) and re.fullmatch(r"[A-Za-z0-9_-]+", k) and isinstance(v, str)
            for k, v in texts.items()):
        raise SpecError(f"{path}: eval.texts must map labels (letters, digits, - and _) to text "
                        f"files, e.g. {{\"licences\": \"data/licences.txt\"}}; got {texts}")
    exits = spec.get("eval", {}).get("exits", {})
    if not isinstance(exits, dict) or not all(
            isinstance(k, str) and re.fullmatch(r"[A-Za-z0-9_-]+", k) and isinstance(v, str)
            and re.fullmatch(r"[a-z]+(:[0-9.eE+-]+)?", v) for k, v in exits.items()):
        raise SpecError(f"{path}: eval.exits must map labels (letters, digits, - and _) to "
                        f"stars-eval --exit rules, e.g. {{\"kl\": \"kl:0.01\"}}; got {exits}")
    average = spec.get("eval", {}).get("average", {})
    if not isinstance(average, dict) or not all(
            isinstance(k, str) and re.fullmatch(r"[A-Za-z0-9_-]+", k) and type(v) is int and v >= 1
            for k, v in average.items()):
        raise SpecError(f"{path}: eval.average must map labels (letters, digits, - and _) to "
                        f"how many saved steps to average, e.g. {{\"last3\": 3}}; got {average}")
    spec.setdefault("shared_phases", 0)
    spec.setdefault("set", [])
    spec.setdefault("eval", {})
    spec.setdefault("summary", {})
    return spec


def short_key(key):
    """phases.1.jacobian_penalty.weight -> weight (the last part names the axis in cell names)."""
    return key.rsplit(".", 1)[-1]


def expand_cells(spec):
    """[(name, [sets])]: named cells crossed with every combination of the axes."""
    named = list(spec.get("cells", {}).items()) or [("", [])]
    axes = list(spec.get("axes", {}).items())
    combos = itertools.product(*[[(k, v) for v in vals] for k, vals in axes]) if axes else [()]
    cells = []
    for combo in combos:
        for name, sets in named:
            parts = [name] if name else []
            parts += [f"{short_key(k)}={v}" for k, v in combo]
            cells.append(("-".join(parts) or "base", list(sets) + [f"{k}={v}" for k, v in combo]))
    names = [n for n, _ in cells]
    if len(set(names)) != len(names):
        raise SpecError(f"cell names collide: {names}; rename the cells")
    return cells


def resolve_pairs(spec, cells):
    """[(A, B)]: the spec's "pairs", checked against the cell names; without the key, the
    two cells when the sweep has shared phases and exactly two cells, else none."""
    names = [n for n, _ in cells]
    if "pairs" not in spec:
        return [tuple(names)] if spec["shared_phases"] and len(names) == 2 else []
    for a, b in spec["pairs"]:
        for name in (a, b):
            if name not in names:
                raise SpecError(f"pairs: '{name}' is not a cell; valid cells: {names}")
        if a == b:
            raise SpecError(f"pairs: ['{a}', '{b}'] pairs a cell with itself")
    return [tuple(p) for p in spec["pairs"]]


def split_sets(sets, shared):
    """Divides --set values between the shared stage (phases < shared, and global keys) and
    the cell runs (phases >= shared renumbered from 0, and global keys)."""
    first, rest = [], []
    for s in sets:
        key, sep, value = s.partition("=")
        if not sep:
            raise SpecError(f"--set value '{s}' is not key=value")
        m = PHASE_KEY.match(key)
        if not m or shared == 0:
            first.append(s)
            rest.append(s)
        elif int(m.group(1)) < shared:
            first.append(s)
        else:
            rest.append(f"phases.{int(m.group(1)) - shared}.{m.group(2)}={value}")
    return first, rest


class Sweep:
    def __init__(self, spec, out, bin_dir, jobs):
        self.spec, self.out, self.bin, self.jobs = spec, out, bin_dir, jobs
        self.shared = spec["shared_phases"]
        self.cells = expand_cells(spec)
        self.pairs = resolve_pairs(spec, self.cells)
        if self.pairs and "paired" in dict(self.cells):
            raise SpecError("a cell named 'paired' clashes with sweep.json's paired report")
        self.lock = threading.Lock()
        self.children = set()
        self.stopping = False

    def log(self, msg):
        with self.lock:
            print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    # --- configs -------------------------------------------------------------------------
    def write_configs(self):
        with open(self.spec["base"]) as f:
            base = json.load(f)
        phases = base.get("phases")
        if self.shared and (not isinstance(phases, list) or len(phases) <= self.shared):
            raise SpecError(
                f"shared_phases {self.shared} needs a base config with more phases than that "
                f"({self.spec['base']} has {len(phases) if isinstance(phases, list) else 0})")
        os.makedirs(self.out, exist_ok=True)
        configs = {"cell": dict(base)}
        if self.shared:
            configs["shared"] = dict(base, phases=phases[: self.shared])
            configs["cell"] = dict(base, phases=phases[self.shared :])
        for name, cfg in configs.items():
            with open(os.path.join(self.out, f"{name}.config.json"), "w") as f:
                json.dump(cfg, f, indent=2)
        for name, sets in self.cells:
            shared_keys = [s for s in sets if PHASE_KEY.match(s)
                           and int(PHASE_KEY.match(s).group(1)) < self.shared]
            if shared_keys:
                raise SpecError(f"cell '{name}' changes a shared phase: {shared_keys}; shared "
                                f"phases are trained once per seed for every cell")

    # --- processes -----------------------------------------------------------------------
    def run_process(self, args, log_path):
        env = dict(os.environ, OMP_NUM_THREADS="1")
        with open(log_path, "a") as log:
            proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)
            with self.lock:
                self.children.add(proc)
            try:
                return proc.wait()
            finally:
                with self.lock:
                    self.children.discard(proc)

    def stop_children(self, signum, _frame):
        """Passes SIGINT/SIGTERM on as SIGINT: each stars-train writes a checkpoint and stops."""
        self.stopping = True
        with self.lock:
            for proc in self.children:
                proc.send_signal(signal.SIGINT)
        self.log(f"signal {signum}: runs stopped at their next step; rerun to resume")

    def train(self, run_dir, config, sets, init=None):
        """Trains run_dir to completion: skipped when finished, resumed from its last
        checkpoint when interrupted, restarted when interrupted before one."""
        name = os.path.relpath(run_dir, self.out)
        if os.path.exists(os.path.join(run_dir, "model.pt")):
            self.log(f"skip {name} (finished)")
            return
        train = os.path.join(self.bin, "stars-train")
        ckpts = os.path.join(run_dir, "checkpoints")
        if os.path.isdir(ckpts) and any(f.endswith(".pt") for f in os.listdir(ckpts)):
            self.log(f"resume {name}")
            args = [train, "--resume", run_dir, "--threads", "1"]
        else:
            if os.path.exists(run_dir):
                shutil.rmtree(run_dir)
            self.log(f"start {name}")
            args = [train, "--config", config, "--out", run_dir, "--threads", "1"]
            args += [a for s in sets for a in ("--set", s)]
            if init:
                args += ["--init", init]
        rc = self.run_process(args, run_dir + ".log")
        if rc != 0 or not os.path.exists(os.path.join(run_dir, "model.pt")):
            why = "interrupted; rerun the sweep to resume it" if rc == 0 else f"exit {rc}"
            raise RuntimeError(f"{name} did not finish ({why}); see {run_dir}.log")
        self.log(f"trained {name}")

    def evaluate(self, run_dir, out_json, text=None, exit_rule=None, checkpoint=None):
        """stars-eval of a finished run into out_json: on its validation set, or on `text`;
        with per-token exit by `exit_rule` (then without diagnostics: they describe the
        fixed-depth dynamics, already in the evaluation without exit)."""
        if os.path.exists(out_json):
            return
        e = self.spec["eval"]
        # A name of this process's own: two sweeps over one directory (another cell subset
        # started beside a running one) may evaluate the same run; each file they leave is whole.
        tmp = f"{out_json}.{os.getpid()}.tmp"
        args = [os.path.join(self.bin, "stars-eval"), "--checkpoint", checkpoint or run_dir,
                "--threads", "1",
                "--out", tmp] + (["--text", text] if text else [])
        for key, flag in (("depths", "--depths"), ("n", "--n"), ("seed", "--seed"),
                          ("diag_n", "--diag-n"), ("batch", "--batch")):
            if key in e:
                args += [flag, str(e[key])]
        if exit_rule:
            args += ["--exit", exit_rule]
        elif e.get("diagnostics"):
            args.append("--diagnostics")
        start = time.time()
        rc = self.run_process(args, out_json[: -len(".json")] + ".eval.log")
        if rc != 0:
            raise RuntimeError(f"evaluation of {run_dir} failed (exit {rc})")
        with open(tmp) as f:
            result = json.load(f)
        result["eval_seconds"] = time.time() - start
        result["train_seconds"] = sweep_report.final_train_seconds(run_dir)
        # The CPU GEMM path the sweep ran with (STARS_CPU_GEMM; unset: the build's default,
        # oneDNN where it is built in), so results from both kernel paths stay told apart.
        result["cpu_gemm"] = os.environ.get("STARS_CPU_GEMM", "default")
        with open(tmp, "w") as f:
            json.dump(result, f, indent=1)
        os.replace(tmp, out_json)
        self.log(f"evaluated {os.path.basename(out_json)} in {result['eval_seconds']:.0f}s")

    # --- the grid ------------------------------------------------------------------------
    def run(self, seeds=None, cells=None):
        """Trains and evaluates `cells` for `seeds` (default: all of the spec's)."""
        seeds = self.spec["seeds"] if seeds is None else seeds
        chosen = [(n, s) for n, s in self.cells if cells is None or n in cells]
        self.write_configs()
        for sub in ("runs", "evals", "shared"):
            os.makedirs(os.path.join(self.out, sub), exist_ok=True)
        first_sets, cell_common = split_sets(self.spec["set"], self.shared)
        shared_done = {}
        failures = []
        with futures.ThreadPoolExecutor(self.jobs) as pool:
            # Shared stages are queued first, so a cell never waits on one not yet started.
            for seed in seeds:
                if self.shared:
                    shared_done[seed] = pool.submit(
                        self.train, self.shared_dir(seed),
                        os.path.join(self.out, "shared.config.json"),
                        first_sets + [f"train.seed={seed}"])
            # All training is queued before any evaluation: runs finish first, and the
            # evaluations (the deep, slow part) follow. Each evaluation is queued when its
            # run finishes, so that none holds a worker while it waits on a longer run.
            trained, jobs = {}, {}
            for seed in seeds:
                for name, sets in chosen:
                    cell_sets = cell_common + split_sets(sets, self.shared)[1]
                    job = pool.submit(self.cell_job, name, seed, cell_sets, shared_done.get(seed))
                    trained[job] = (name, seed)
            for job in futures.as_completed(trained):
                name, seed = trained[job]
                jobs[pool.submit(self.eval_job, name, seed, job)] = f"{name}-seed{seed}"
            for job, label in jobs.items():
                try:
                    job.result()
                except Exception as e:  # one failed run does not stop the others
                    failures.append(f"{label}: {e}")
        for f in failures:
            self.log(f"FAILED {f}")
        return failures

    def shared_dir(self, seed):
        return os.path.join(self.out, "shared", f"seed-{seed}")

    def cell_job(self, name, seed, sets, shared_future):
        if self.stopping:
            raise RuntimeError("sweep stopped by a signal")
        if shared_future is not None:
            shared_future.result()
        run_dir = os.path.join(self.out, "runs", f"{name}-seed{seed}")
        self.train(run_dir, os.path.join(self.out, "cell.config.json"),
                   sets + [f"train.seed={seed}"],
                   init=self.shared_dir(seed) if self.shared else None)

    def eval_job(self, name, seed, trained):
        trained.result()
        if self.stopping:
            raise RuntimeError("sweep stopped by a signal")
        run_dir = os.path.join(self.out, "runs", f"{name}-seed{seed}")
        for label, path, rule, average in sweep_report.eval_sets(self.spec):
            suffix = f".{label}.json" if label else ".json"
            out_json = os.path.join(self.out, "evals", f"{name}-seed{seed}{suffix}")
            checkpoint = self.averaged(run_dir, average) if average else None
            self.evaluate(run_dir, out_json, text=path, exit_rule=rule, checkpoint=checkpoint)

    def averaged(self, run_dir, last):
        """RUN/average-lastK.pt, the mean of the run's last K saved steps, written once."""
        path = os.path.join(run_dir, f"average-last{last}.pt")
        if not os.path.exists(path):
            args = [os.path.join(self.bin, "stars-average"), "--run", run_dir, "--last",
                    str(last), "--out", path, "--quiet"]
            rc = self.run_process(args, path[: -len(".pt")] + ".log")
            if rc != 0:
                raise RuntimeError(f"averaging the last {last} steps of {run_dir} failed (exit {rc})")
        return path


def parse_subset(flag, text, allowed, kind):
    """A comma list of values from `allowed` (the spec's seeds or cells)."""
    try:
        values = [kind(t.strip()) for t in text.split(",")]
    except ValueError:
        raise SpecError(f"{flag} '{text}': expected a comma list of integers, e.g. 4,5")
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise SpecError(f"{flag} {unknown}: not in the spec, which has {allowed}")
    return values


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("spec", help="sweep specification (JSON)")
    ap.add_argument("--out", required=True, help="sweep directory (created; reused to resume)")
    ap.add_argument("--jobs", type=int, default=2, help="runs at a time (one thread each)")
    ap.add_argument("--bin", default="build/apps", help="folder with stars-train and stars-eval")
    ap.add_argument("--report-only", action="store_true",
                    help="aggregate the evaluations already in --out without running anything")
    ap.add_argument("--seeds", help="run only these of the spec's seeds (comma list), e.g. to "
                    "finish a few seeds at a time; the report covers every evaluation present")
    ap.add_argument("--cells", help="run only these cells (comma list)")
    args = ap.parse_args(argv)
    try:
        if args.jobs < 1:
            raise SpecError(f"--jobs must be >= 1, got {args.jobs}")
        spec = load_spec(args.spec)
        seeds = parse_subset("--seeds", args.seeds, spec["seeds"], int) if args.seeds else None
        cells = parse_subset("--cells", args.cells, [n for n, _ in expand_cells(spec)], str) if args.cells else None
        sweep = Sweep(spec, args.out, args.bin, args.jobs)
        failures = []
        if not args.report_only:
            for tool in ("stars-train", "stars-eval"):
                if not os.access(os.path.join(args.bin, tool), os.X_OK):
                    raise SpecError(f"{tool} not found in --bin {args.bin} (bash scripts/build.sh)")
            signal.signal(signal.SIGINT, sweep.stop_children)
            signal.signal(signal.SIGTERM, sweep.stop_children)
            failures = sweep.run(seeds, cells)
        per_cell = sweep_report.report(spec, args.out, sweep.cells, sweep.pairs)
        if per_cell is None:
            print("no evaluations yet: nothing to report", file=sys.stderr)
            return 1
        with open(os.path.join(args.out, "sweep.md")) as f:
            print(f.read())
        return 1 if failures or sweep.stopping else 0
    except (SpecError, sweep_report.ReportError) as e:
        print(f"sweep: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
