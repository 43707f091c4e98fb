"""Paired differences between two sweep cells, seed by seed (used by scripts/sweep.py).

Two cells run with the same seed (and, with "shared_phases", from the same first-phase
weights) form a pair of runs; their difference, cell B minus cell A, is taken per seed and
per evaluated depth. Per depth the report gives the differences, their mean and standard
deviation, two 95% intervals for the mean and how many seeds favour each cell:

- t_ci95: the two-sided Student t interval over seeds, mean ± t(0.975, n−1)·sd/√n. The t
  quantile is computed here, without scipy: the t CDF is written with the regularized
  incomplete beta function (continued fraction, Lentz's method) and inverted by bisection.
- bootstrap_ci95: the percentile interval of the mean over 10000 resamples of the seeds with
  replacement, drawn from a fixed seed, so the same evaluations give the same interval.

With one seed neither interval is defined (None in JSON, "n/a (1 seed)" in Markdown).
Standard library only: runs with any python3.
"""
import math
import random

# The metrics stars-eval writes per depth: exact-match accuracy (higher is better) for
# reasoning tasks, bits per byte (lower is better) for text models.
METRICS = {"accuracy": {"higher_is_better": True, "digits": 3},
           "bits_per_byte": {"higher_is_better": False, "digits": 4}}
BOOTSTRAP_RESAMPLES = 10000
BOOTSTRAP_SEED = 12345


# --- statistics ------------------------------------------------------------------------------
def mean(values):
    """Arithmetic mean of a non-empty list."""
    return sum(values) / len(values)


def sample_sd(values):
    """Sample standard deviation (n − 1 in the denominator); None for fewer than 2 values."""
    if len(values) < 2:
        return None
    m = mean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


def _beta_continued_fraction(a, b, x):
    """The continued fraction of the incomplete beta function (modified Lentz's method)."""
    tiny, eps = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 1000):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h


def regularized_beta(a, b, x):
    """I_x(a, b), the regularized incomplete beta function, for 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(b, a, 1.0 - x) / b


def t_cdf(t, df):
    """P(T <= t) for Student's t with df degrees of freedom."""
    tail = 0.5 * regularized_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(p, df):
    """The p quantile of Student's t with df degrees of freedom: t_cdf inverted by bisection,
    e.g. t_quantile(0.975, 3) = 3.18245 (within 1e-8 relative of scipy's at p = 0.975 for
    df 1..100000)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"t_quantile: p must lie in (0, 1), got {p}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * hi:
            break
    return 0.5 * (lo + hi)


def t_interval(values, level=0.95):
    """Two-sided Student t interval for the mean: [lo, hi], or None for fewer than 2 values."""
    if len(values) < 2:
        return None
    half = t_quantile(0.5 + level / 2.0, len(values) - 1) * sample_sd(values) / math.sqrt(len(values))
    return [mean(values) - half, mean(values) + half]


def percentile(sorted_values, q):
    """The q quantile (0..1) of sorted values, interpolated linearly between order statistics."""
    pos = q * (len(sorted_values) - 1)
    i = int(math.floor(pos))
    j = min(i + 1, len(sorted_values) - 1)
    return sorted_values[i] + (pos - i) * (sorted_values[j] - sorted_values[i])


def bootstrap_interval(values, level=0.95, resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED):
    """Percentile bootstrap interval for the mean, resampling values with replacement from a
    fixed seed: [lo, hi], or None for fewer than 2 values."""
    if len(values) < 2:
        return None
    rng = random.Random(seed)
    means = sorted(mean(rng.choices(values, k=len(values))) for _ in range(resamples))
    return [percentile(means, (1.0 - level) / 2.0), percentile(means, (1.0 + level) / 2.0)]


def favour_counts(diffs, higher_is_better):
    """(favour_b, favour_a, ties) for differences B − A; a tie is a difference of exactly 0."""
    b_better = [d > 0 if higher_is_better else d < 0 for d in diffs if d != 0]
    return sum(b_better), len(b_better) - sum(b_better), sum(1 for d in diffs if d == 0)


# --- one pair of cells -----------------------------------------------------------------------
def metric_of(rows):
    """The metric one evaluation's depth rows carry (accuracy, or bits_per_byte for text)."""
    for name in METRICS:
        if rows and name in rows[0]:
            return name
    raise ValueError(f"no known metric ({', '.join(METRICS)}) in the evaluation's depth rows")


def direction(metric, b):
    """How to read a difference B − A: which sign favours cell b."""
    if METRICS[metric]["higher_is_better"]:
        return f"positive favours {b} (higher {metric} is better)"
    return f"negative favours {b} (lower {metric} is better)"


def depth_stats(depth, diffs, higher_is_better):
    """The statistics of one depth's per-seed differences {seed: B − A}."""
    values = list(diffs.values())
    favour_b, favour_a, ties = favour_counts(values, higher_is_better)
    return {"depth": depth, "n": len(values), "diffs": {str(s): d for s, d in diffs.items()},
            "mean": mean(values), "sd": sample_sd(values), "t_ci95": t_interval(values),
            "bootstrap_ci95": bootstrap_interval(values),
            "favour_b": favour_b, "favour_a": favour_a, "ties": ties}


def pair_differences(a, b, evals_a, evals_b, shared_first_phase=True):
    """Paired differences of cell b minus cell a. evals_a and evals_b map seed -> that run's
    stars-eval depth rows ([{"depth": d, "accuracy": x, ...}]); only seeds both cells have
    are paired, and at each depth only the seeds where both evaluated that depth."""
    seeds = sorted(set(evals_a) & set(evals_b))
    entry = {"a": a, "b": b, "metric": None, "direction": None, "n_seeds": len(seeds),
             "seeds": seeds, "shared_first_phase": shared_first_phase, "depths": []}
    if not seeds:
        return entry
    metric = metric_of(evals_a[seeds[0]])
    if metric_of(evals_b[seeds[0]]) != metric:
        raise ValueError(f"cells '{a}' and '{b}' report different metrics")
    entry.update(metric=metric, direction=direction(metric, b))
    by_seed = {s: ({r["depth"]: r[metric] for r in evals_a[s]},
                   {r["depth"]: r[metric] for r in evals_b[s]}) for s in seeds}
    depths = sorted({d for ra, rb in by_seed.values() for d in ra if d in rb})
    for d in depths:
        diffs = {s: rb[d] - ra[d] for s, (ra, rb) in by_seed.items() if d in ra and d in rb}
        entry["depths"].append(depth_stats(d, diffs, METRICS[metric]["higher_is_better"]))
    return entry


# --- Markdown --------------------------------------------------------------------------------
def fmt_signed(x, digits):
    """A difference with its sign, or '0' where it is exactly 0 (a tie)."""
    return "0" if x == 0 else f"{x:+.{digits}f}"


def fmt_interval(ci, n, digits):
    """'[lo, hi]' with signs, or 'n/a (1 seed)' where the interval is undefined."""
    if ci is None:
        return f"n/a ({n} seed{'s' if n != 1 else ''})"
    return f"[{fmt_signed(ci[0], digits)}, {fmt_signed(ci[1], digits)}]"


def pair_markdown(entry):
    """One pair's table: a row per depth."""
    a, b, n = entry["a"], entry["b"], entry["n_seeds"]
    lines = [f"### {b} − {a}", ""]
    if n == 0:
        return "\n".join(lines + ["No seed has evaluations of both cells yet.", ""])
    digits = METRICS[entry["metric"]]["digits"]
    how = ("from the same first phase" if entry["shared_first_phase"] else
           "by seed only, not by a shared first phase (shared_phases is 0)")
    lines += [f"{entry['metric']} of {b} minus {a}, per seed; {entry['direction']}. "
              f"{n} seed{'s' if n != 1 else ''} paired ({', '.join(map(str, entry['seeds']))}), "
              f"{how}.", ""]
    head = ["depth", "seeds", "mean", "t 95% CI", "bootstrap 95% CI",
            f"seeds favouring {b} / {a} / ties", "per seed (seed: difference)"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in entry["depths"]:
        per_seed = ", ".join(f"{s}: {fmt_signed(d, digits)}" for s, d in r["diffs"].items())
        cols = [str(r["depth"]), str(r["n"]), fmt_signed(r["mean"], digits),
                fmt_interval(r["t_ci95"], r["n"], digits),
                fmt_interval(r["bootstrap_ci95"], r["n"], digits),
                f"{r['favour_b']} / {r['favour_a']} / {r['ties']}", per_seed]
        lines.append("| " + " | ".join(cols) + " |")
    return "\n".join(lines) + "\n"


def paired_markdown(entries):
    """The report's "Paired differences" section: what the columns are, then a table per pair."""
    intro = ("## Paired differences\n\n"
             "Cell B minus cell A, seed by seed. \"t 95% CI\" is the two-sided Student t "
             "interval over seeds (mean ± t(0.975, n−1)·sd/√n); \"bootstrap 95% CI\" is the "
             f"percentile interval of the mean over {BOOTSTRAP_RESAMPLES} resamples of the "
             f"seeds with replacement (resampling seed {BOOTSTRAP_SEED}). With few seeds both "
             "are rough; with one seed neither is defined. A tie is a difference of exactly 0.\n")
    return "\n".join([intro] + [pair_markdown(e) for e in entries])
