#!/usr/bin/env bash
# scripts/sweep.py on byte-level text: tiny runs over two seeds and two cells, evaluated on
# their validation windows and on a second text (eval.texts), reported in bits per byte
# with each seed's best and the rise above it, and paired on both evaluation sets; and
# each set again with per-token exit (eval.exits), the loops run reported per depth cap, and
# with the mean of each run's last two saved steps (eval.average).
set -euo pipefail
python="$1"; sweep="$2"; bin="$3"; config="$4"; work="$5"
rm -rf "$work"; mkdir -p "$work"; cd "$work"
fail() { echo "FAIL: $1"; [ -n "${2:-}" ] && cat "$2"; exit 1; }
for i in $(seq 1 300); do echo "a loop is a block run again, time $((i % 9))."; done >corpus.txt
for i in $(seq 1 60); do echo "Section $i. The licence is granted as is."; done >other.txt
cat >spec.json <<JSON
{"base": "$config", "seeds": [1, 2], "shared_phases": 1,
 "set": ["data.task=text", "data.train_file=corpus.txt", "data.seq_len=32", "model.max_len=32",
         "phases.0.until.accuracy=0", "phases.1.until.accuracy=0", "eval.depths=2",
         "eval.n=4", "eval.monitor_depths=2", "train.eval_every=0"],
 "cells": {"none": ["phases.1.jacobian_penalty.weight=0"],
           "paper": ["phases.1.jacobian_penalty.weight=0.1"]},
 "eval": {"depths": "1..4,8", "n": 8, "diagnostics": true, "diag_n": 4,
          "texts": {"other": "other.txt"}, "exits": {"kl": "kl:0.05"},
          "average": {"last2": 2}},
 "summary": {"min_from": 2, "at": [4, 8], "rise": 0.5}}
JSON
STARS_CPU_GEMM=blas "$python" "$sweep" spec.json --out out --bin "$bin" --jobs 2 >sweep.log 2>&1 ||
  fail "the sweep failed" sweep.log
for cell in none paper; do
  for seed in 1 2; do
    [ -s "out/runs/$cell-seed$seed/average-last2.pt" ] ||
      fail "no averaged checkpoint in runs/$cell-seed$seed" sweep.log
    for suffix in json other.json exit-kl.json other.exit-kl.json avg-last2.json other.avg-last2.json; do
      [ -e "out/evals/$cell-seed$seed.$suffix" ] ||
        fail "no evals/$cell-seed$seed.$suffix" sweep.log
    done
  done
done
"$python" - out <<'PY' || fail "the text report" out/sweep.md
import json, os, sys
out = sys.argv[1]
j = json.load(open(os.path.join(out, "sweep.json")))
md = open(os.path.join(out, "sweep.md")).read()
valid, other = j["none"], j["texts"]["other"]["none"]
assert valid["metric"] == other["metric"] == "bits_per_byte", (valid["metric"], other["metric"])
assert valid["seeds"] == other["seeds"] == [1, 2]
for c in (valid, other):
    assert all(2 <= w["depth"] <= 8 and w["best"] > 0 and set(w["rise"]) == {"4", "8"}
               for w in c["per_seed"]), c["per_seed"]
# The best and the rises agree with the evaluation file they come from.
rows = {r["depth"]: r["bits_per_byte"] for r in json.load(
    open(os.path.join(out, "evals", "paper-seed2.other.json")))["depths"]}
w = next(w for w in j["texts"]["other"]["paper"]["per_seed"] if w["seed"] == 2)
best = min(v for d, v in rows.items() if d >= 2)
assert abs(w["best"] - best) < 1e-12 and abs(w["rise"]["8"] - (rows[8] / best - 1)) < 1e-12, w
assert j["paired"][0]["metric"] == "bits_per_byte" and j["paired"][0]["n_seeds"] == 2
assert j["texts"]["other"]["paired"][0]["n_seeds"] == 2
assert j["texts"]["other"]["path"] == "other.txt"
# Per-token exit: each set evaluated again with the rule, the loops run reported per cap.
for label in ("exit-kl", "other.exit-kl"):
    assert j["texts"][label]["exit"] == "kl:0.05", j["texts"][label]
    assert j["texts"][label]["none"]["loops_deepest"]["n"] == 2
    rows = json.load(open(os.path.join(out, "evals", f"paper-seed1.{label}.json")))["depths"]
    assert all(0 < r["mean_loops"] <= r["depth"] for r in rows), rows
assert "# Validation set 'exit-kl', per-token exit kl:0.05: depths are caps" in md, md
assert "# Text 'other.exit-kl' (other.txt), per-token exit kl:0.05" in md, md
assert md.count("mean loops @ 8") == 2, md
# The averaged checkpoint: evaluated on both sets, with diagnostics, and titled as such.
for label in ("avg-last2", "other.avg-last2"):
    assert j["texts"][label]["average"] == 2 and j["texts"][label]["paper"]["seeds"] == [1, 2]
    result = json.load(open(os.path.join(out, "evals", f"none-seed2.{label}.json")))
    assert result["checkpoint"].endswith("runs/none-seed2/average-last2.pt"), result["checkpoint"]
    assert all("rho_max" in r for r in result["depths"]), result["depths"][0]
assert "# Validation set 'avg-last2', the mean of each run's last 2 saved steps" in md, md
# The GEMM path the sweep ran with is kept with each evaluation.
assert json.load(open(os.path.join(out, "evals", "none-seed1.json")))["cpu_gemm"] == "blas"
# The residual at the deepest depth (a fixed point's test) is a column of the table.
res = valid["residual_deepest"]
assert res["n"] == 2 and res["mean"] > 0, res
assert f"{res['mean']:.1e} ({res['min']:.1e}–{res['max']:.1e})" in md, md
for text in ("best, depth ≥ 2", "residual @ 8", "# Text 'other' (other.txt)", "seeds within 50% at every depth",
             "negative favours paper"):
    assert md.count(text) >= (2 if text != "# Text 'other' (other.txt)" else 1), text
PY
if "$python" -c "import matplotlib" 2>/dev/null; then  # a figure per evaluation set
  for png in sweep.png sweep.other.png sweep.exit-kl.png sweep.other.exit-kl.png; do
    [ -s "out/$png" ] || fail "no figure $png" sweep.log
  done
fi
grep -q ',other.$' out/sweep.csv && grep -q ',valid.$' out/sweep.csv ||
  fail "sweep.csv lacks the evaluation sets" out/sweep.csv
# An exit that is not a stars-eval --exit rule is refused before anything runs.
sed 's/"kl": "kl:0.05"/"kl": "kl 0.05"/' spec.json >bad-exit.json
if "$python" "$sweep" bad-exit.json --out bad --bin "$bin" 2>bad.log; then fail "bad exit accepted"; fi
grep -q "eval.exits must map labels" bad.log || fail "bad exit message" bad.log
# An average that is not a count of saved steps is refused before anything runs.
sed 's/"last2": 2/"last2": 0/' spec.json >bad-average.json
if "$python" "$sweep" bad-average.json --out bad --bin "$bin" 2>bad.log; then fail "average 0 accepted"; fi
grep -q "eval.average must map labels" bad.log || fail "bad average message" bad.log
# A label that cannot be a file name part is refused before anything runs.
sed 's/"other": "other.txt"/"a b": "other.txt"/' spec.json >bad.json
if "$python" "$sweep" bad.json --out bad --bin "$bin" 2>bad.log; then fail "bad label accepted"; fi
grep -q "eval.texts must map labels" bad.log || fail "bad label message" bad.log
echo "sweep on text: bits per byte on two evaluation sets, best and rise per seed, paired"
