"""The aggregated report of a sweep (used by scripts/sweep.py): sweep.csv, sweep.json, sweep.md
and sweep.png (sweep.LABEL.png for each further evaluation set) from the evaluation JSONs
under DIR/evals.

Each evaluation set is reported on its own: the validation set every run is evaluated on
(evals/CELL-seedS.json), each extra text the spec names under eval.texts
(evals/CELL-seedS.LABEL.json) and each of these with every eval.exits rule. Per cell: the metric at the summary's depths, mean and spread
over seeds, and per seed where it is worst:

- accuracy (reasoning tasks): each seed's lowest accuracy from depth min_from on, and how
  many seeds keep at least summary.floor (default 0.99) at every such depth;
- bits per byte (text): each seed's best (lowest) value from depth min_from on, the rise
  above it at each summary depth (value / best − 1), and how many seeds stay within
  summary.rise (default 0.01) of their best at every summary depth.

The paired differences come from paired_stats.py.
"""
import csv
import json
import math
import os
import statistics
import sys

import paired_stats


class ReportError(Exception):
    pass


def final_train_seconds(run_dir):
    seconds = None
    try:
        with open(os.path.join(run_dir, "metrics.jsonl")) as f:
            for line in f:
                if '"train_seconds"' in line:
                    seconds = json.loads(line)["train_seconds"]
    except OSError:
        pass
    return seconds


def eval_sets(spec):
    """[(label, text, exit rule, average)]: the validation set (label None), each eval.texts
    file, and each of these again with every eval.exits rule (label exit-EXIT, after the
    text's label and a dot) and with every eval.average (label avg-AVG: the mean of the
    run's last `average` saved steps, stars-average)."""
    e = spec["eval"]
    plain = [(None, None)] + sorted(e.get("texts", {}).items())
    sets = [(label, path, None, None) for label, path in plain]
    prefix = lambda label: f"{label}." if label else ""
    for exit_label, rule in sorted(e.get("exits", {}).items()):
        sets += [(prefix(label) + f"exit-{exit_label}", path, rule, None)
                 for label, path in plain]
    for avg_label, last in sorted(e.get("average", {}).items()):
        sets += [(prefix(label) + f"avg-{avg_label}", path, None, last) for label, path in plain]
    return sets


def is_text(metric):
    return metric != "accuracy"


def run_summary(result, summary):
    """One run's report columns from its stars-eval JSON."""
    rows = {r["depth"]: r for r in result["depths"]}
    metric = paired_stats.metric_of(result["depths"])
    deepest = rows[max(rows)]
    out = {"deepest": max(rows), "metric": metric,
           "rho_max_deepest": deepest.get("rho_max", math.nan),
           "rho_mean_deepest": deepest.get("rho_mean", math.nan),
           "residual_deepest": deepest.get("residual", math.nan),
           "loops_deepest": deepest.get("mean_loops", math.nan)}
    far = [(r[metric], d) for d, r in sorted(rows.items()) if d >= summary.get("min_from", 4)]
    if is_text(metric):
        best = min(far, key=lambda x: x[0]) if far else (math.nan, None)
        out.update(best=best[0], best_depth=best[1])
        for d in summary.get("at", []):
            value = rows[d][metric] if d in rows else math.nan
            out[f"value@{d}"] = value
            out[f"rise@{d}"] = value / best[0] - 1 if far else math.nan
    else:
        worst = min(far, key=lambda x: x[0]) if far else (math.nan, None)
        out.update(min_acc=worst[0], min_acc_depth=worst[1])
        for d in summary.get("at", []):
            out[f"acc@{d}"] = rows[d][metric] if d in rows else math.nan
    return out


def spread(values):
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return {"mean": None, "min": None, "max": None, "n": 0}
    return {"mean": sum(values) / len(values), "min": min(values), "max": max(values),
            "n": len(values)}


def fmt(s, digits=3, scale=1.0, suffix=""):
    if s["mean"] is None:
        return "–"
    f = f"{{:.{digits}f}}{suffix}"
    text = f.format(s["mean"] * scale)
    if s["n"] > 1:
        text += f" ({f.format(s['min'] * scale)}–{f.format(s['max'] * scale)})"
    return text


def fmt_small(s):
    """A spread of small positive numbers (residuals) in scientific notation."""
    if s["mean"] is None:
        return "–"
    text = f"{s['mean']:.1e}"
    return text + (f" ({s['min']:.1e}–{s['max']:.1e})" if s["n"] > 1 else "")


# Per-seed values kept beside the spreads, not averaged.
PER_SEED = ("seed", "curve", "deepest", "metric", "min_acc_depth")


def collect(spec, out, cells, label):
    """Reads one evaluation set (label None: the validation set) of every run: per-cell
    summaries, the depth rows by cell and seed (for pairing), and the CSV rows."""
    summary = spec["summary"]
    suffix = f".{label}.json" if label else ".json"
    csv_rows, per_cell, evals = [], {}, {}
    for name, _ in cells:
        runs = []
        evals[name] = {}
        for seed in spec["seeds"]:
            path = os.path.join(out, "evals", f"{name}-seed{seed}{suffix}")
            if not os.path.exists(path):
                continue
            with open(path) as f:
                result = json.load(f)
            evals[name][seed] = result["depths"]
            # Run directories are scratch; the evaluation JSON keeps the training time too.
            run_dir = os.path.join(out, "runs", f"{name}-seed{seed}")
            train_seconds = final_train_seconds(run_dir) or result.get("train_seconds")
            s = run_summary(result, summary)
            s.update(seed=seed, train_seconds=train_seconds,
                     eval_seconds=result.get("eval_seconds"))
            s["curve"] = {r["depth"]: r[s["metric"]] for r in result["depths"]}
            runs.append(s)
            for r in result["depths"]:
                csv_rows.append({"cell": name, "seed": seed, **{k: r.get(k) for k in (
                    "depth", s["metric"], "n", "state_norm", "residual", "rho_mean", "rho_max",
                    "mean_loops")},
                                 "eval_set": label or "valid"})
        if runs:
            per_cell[name] = cell_summary(runs)
    return per_cell, evals, csv_rows


def cell_summary(runs):
    keys = [k for k in runs[0] if k not in PER_SEED]
    c = {k: spread([r[k] for r in runs]) for k in keys}
    c["metric"] = runs[0]["metric"]
    c["seeds"] = [r["seed"] for r in runs]
    depths = sorted(runs[0]["curve"])
    c["curve"] = {d: spread([r["curve"].get(d) for r in runs]) for d in depths}
    c["deepest"] = runs[0]["deepest"]
    if is_text(c["metric"]):
        c["per_seed"] = sorted(({"seed": r["seed"], "best": r["best"], "depth": r["best_depth"],
                                 "rise": {k[5:]: v for k, v in r.items() if k.startswith("rise@")}}
                                for r in runs), key=lambda w: (w["best"], w["seed"]))
    else:
        worst = [{"seed": r["seed"], "acc": r["min_acc"], "depth": r["min_acc_depth"]}
                 for r in runs]
        c["worst"] = sorted(worst, key=lambda w: (w["acc"], w["seed"]))
    return c


def report(spec, out, cells, pairs=()):
    """Reads every evaluation under out/evals and writes sweep.csv, .json, .md and the
    figures; returns the validation set's per-cell summary, or None when nothing is evaluated yet."""
    all_rows, doc, md, main, figures = [], {}, [], None, []
    for label, path, rule, average in eval_sets(spec):
        per_cell, evals, rows = collect(spec, out, cells, label)
        if label is None:
            if not per_cell:
                return None
            main = per_cell
        all_rows += rows
        if per_cell:
            name = f"sweep.{label}.png" if label else "sweep.png"
            figures.append((per_cell, os.path.join(out, name),
                            set_title(label, path, rule, average) if label else None))
        paired = paired_report(spec, evals, pairs) if per_cell else []
        part = dict(per_cell, paired=paired) if pairs else dict(per_cell)
        if label is None:
            doc.update(part)
        else:
            doc.setdefault("texts", {})[label] = dict(part, path=path, exit=rule, average=average)
            md.append(f"\n# {set_title(label, path, rule, average)}\n")
            if not per_cell:
                md.append("No evaluations yet.\n")
                continue
        md.append(markdown_table(per_cell, spec["summary"], loops=bool(rule)))
        md.append("\n" + per_seed_markdown(per_cell, spec["summary"]))
        if pairs:
            md.append("\n" + paired_stats.paired_markdown(paired))
    with open(os.path.join(out, "sweep.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(all_rows[0]))
        w.writeheader()
        w.writerows(all_rows)
    with open(os.path.join(out, "sweep.json"), "w") as f:
        json.dump(doc, f, indent=1)
    with open(os.path.join(out, "sweep.md"), "w") as f:
        f.write("".join(md))
    for per_cell, path, title in figures:
        plot(per_cell, path, title)
    return main


def paired_report(spec, evals, pairs):
    """The paired differences of each (A, B) pair; evals maps cell -> {seed: depth rows}."""
    try:
        return [paired_stats.pair_differences(a, b, evals[a], evals[b],
                                              shared_first_phase=bool(spec["shared_phases"]))
                for a, b in pairs]
    except ValueError as e:
        raise ReportError(f"pairs: {e}")


def set_title(label, path, rule, average=None):
    """The heading of an evaluation set's section in sweep.md."""
    title = f"Text '{label}' ({path})" if path else f"Validation set '{label}'"
    if average:
        title += f", the mean of each run's last {average} saved steps (stars-average)"
    return title + (f", per-token exit {rule}: depths are caps on the loops" if rule else "")


def markdown_table(per_cell, summary, loops=False):
    at = summary.get("at", [])
    first = next(iter(per_cell.values()))
    deepest, text = first["deepest"], is_text(first["metric"])
    min_from = summary.get("min_from", 4)
    if text:
        head = ["cell", "seeds", f"best, depth ≥ {min_from}", "at depth"]
        head += [f"{d}: value (rise)" for d in at]
    else:
        head = ["cell", "seeds", f"min acc, depth ≥ {min_from}"] + [f"acc @ {d}" for d in at]
    if loops:  # per-token exit: the loops actually run under the deepest cap
        head += [f"mean loops @ {deepest}"]
    else:
        head += [f"ρ max @ {deepest}", f"ρ mean @ {deepest}", f"residual @ {deepest}"]
    head += ["train min", "eval min"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, c in per_cell.items():
        cols = [name, str(len(c["seeds"]))]
        if text:
            cols += [fmt(c["best"], 4), fmt(c["best_depth"], 1)]
            cols += [f"{fmt(c[f'value@{d}'], 4)}; {fmt(c[f'rise@{d}'], 1, 100, '%')}" for d in at]
        else:
            cols += [fmt(c["min_acc"])] + [fmt(c[f"acc@{d}"]) for d in at]
        if loops:
            cols += [fmt(c["loops_deepest"], 2)]
        else:
            cols += [fmt(c["rho_max_deepest"], 2), fmt(c["rho_mean_deepest"], 2),
                     fmt_small(c["residual_deepest"])]
        cols += [fmt(c["train_seconds"], 1, 1 / 60), fmt(c["eval_seconds"], 1, 1 / 60)]
        lines.append("| " + " | ".join(cols) + " |")
    return "\n".join(lines) + ("\n\nMean over seeds, (min–max) in brackets.\n")


def per_seed_markdown(per_cell, summary):
    text = is_text(next(iter(per_cell.values()))["metric"])
    return (rise_markdown if text else worst_markdown)(per_cell, summary)


def worst_markdown(per_cell, summary):
    """Each seed's worst accuracy over the depths from min_from on, and how many seeds keep
    at least summary["floor"] (default 0.99) at every one of those depths."""
    floor = summary.get("floor", 0.99)
    lines = [f"## Worst accuracy per seed, depth ≥ {summary.get('min_from', 4)}", "",
             "Each seed's lowest accuracy over the depths tested and the depth where it occurs "
             "(the shallowest, on ties), worst seed first.", "",
             f"| cell | seeds | seeds ≥ {floor:g} everywhere | median | "
             "per seed (seed: accuracy @ depth) |",
             "|---|---|---|---|---|"]
    for name, c in per_cell.items():
        worst = c["worst"]
        accs = [w["acc"] for w in worst]
        kept = sum(1 for a in accs if a >= floor)
        per_seed = ", ".join(f"{w['seed']}: {w['acc']:.3f} @ {w['depth']}" for w in worst)
        lines.append(f"| {name} | {len(worst)} | {kept} | {statistics.median(accs):.3f} | "
                     f"{per_seed} |")
    return "\n".join(lines) + "\n"


def rise_markdown(per_cell, summary):
    """Each seed's best bits per byte and its rise above that best at the summary depths, and
    how many seeds stay within summary["rise"] (default 0.01) of their best at all of them."""
    limit, at = summary.get("rise", 0.01), summary.get("at", [])
    lines = [f"## Best per seed, depth ≥ {summary.get('min_from', 4)}, and the rise above it", "",
             "Each seed's lowest value and the depth where it occurs, then value / best − 1 at "
             f"depths {', '.join(map(str, at))}; best seed first.", "",
             f"| cell | seeds | seeds within {limit:.0%} at every depth listed | "
             "per seed (seed: best @ depth (depth: rise)) |", "|---|---|---|---|"]
    for name, c in per_cell.items():
        rows = c["per_seed"]
        held = sum(1 for w in rows if all(r <= limit for r in w["rise"].values()))
        per_seed = "; ".join(
            f"{w['seed']}: {w['best']:.4f} @ {w['depth']} ("
            + ", ".join(f"{d}: {r:+.1%}" for d, r in w["rise"].items()) + ")" for w in rows)
        lines.append(f"| {name} | {len(rows)} | {held} | {per_seed} |")
    return "\n".join(lines) + "\n"


def plot(per_cell, path, title=None):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no figure (scripts/setup.sh installs it)", file=sys.stderr)
        return
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, c in per_cell.items():
        depths = [int(d) for d in c["curve"]]
        mean = [c["curve"][d]["mean"] for d in c["curve"]]
        ax.plot(depths, mean, marker=".", label=f"{name} (n={len(c['seeds'])})")
        ax.fill_between(depths, [c["curve"][d]["min"] for d in c["curve"]],
                        [c["curve"][d]["max"] for d in c["curve"]], alpha=0.15)
    metric = next(iter(per_cell.values()))["metric"]
    ax.set_xscale("log")
    ax.set_xlabel("loops at test time")
    ax.set_ylabel("exact-match accuracy" if metric == "accuracy" else metric.replace("_", " "))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
