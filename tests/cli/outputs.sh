#!/usr/bin/env bash
# Where output goes: results on stdout and log lines on stderr; one progress line per
# window with its ETA; runs started together without --out get directories of their own;
# resuming a finished run says so and changes nothing; plot_depth.py and plot_metrics.py
# check their input and their --out before they write anything.
set -euo pipefail
train="$1"; config="$2"; python="$3"; plot="$4"; work="$5"
rm -rf "$work"; mkdir -p "$work"
fail() { echo "FAIL: $1"; exit 1; }
cd "$work"
short=(--config "$config" --threads 1 --set eval.depths=1,2)
OMP_NUM_THREADS=1 "$train" "${short[@]}" --out one >out.txt 2>err.txt
grep -q "accuracy by depth" out.txt || fail "no results on stdout"
! grep -q "\[info\]" out.txt || fail "log lines on stdout"
grep -q "step 5/20 \[fixed\].*| elapsed .* ETA " err.txt || fail "no progress line with its ETA on stderr"
! grep -q "^ *elapsed\|\] *elapsed" err.txt || fail "a separate ETA line"
# Two runs started in the same second without --out.
OMP_NUM_THREADS=1 "$train" "${short[@]}" >a.txt 2>&1 &
OMP_NUM_THREADS=1 "$train" "${short[@]}" >b.txt 2>&1
wait $!
[ "$(ls -d runs/tiny-* | wc -l)" = 2 ] || { cat a.txt b.txt; fail "the two runs share a directory"; }
# --resume of a finished run: exit 0, says it is complete, changes nothing.
cp one/model.pt before.pt
OMP_NUM_THREADS=1 "$train" --resume one >resume.txt 2>&1 || fail "resume of a finished run: exit $?"
grep -q "one is complete" resume.txt || { cat resume.txt; fail "no 'complete' message"; }
cmp -s before.pt one/model.pt || fail "resuming a finished run changed its model"
# plot_depth.py: --out is required; a missing diagnostics panel is refused before writing.
echo '{"depths": [{"depth": 1, "accuracy": 0.5, "n": 2}]}' >plain.json
set +e
"$python" "$plot" plain.json >/dev/null 2>&1; rc_out=$?
"$python" "$plot" plain.json --out acc.png --diagnostics diag.png 2>plot.txt; rc_diag=$?
set -e
[ "$rc_out" = 2 ] || fail "plot_depth.py without --out: exit $rc_out, want 2"
[ "$rc_diag" = 1 ] && grep -q "no diagnostics" plot.txt || fail "missing diagnostics: exit $rc_diag"
[ ! -e acc.png ] && [ ! -e accuracy.png ] || fail "plot_depth.py wrote a figure before refusing"

# plot_metrics.py: --out required; every run is read before anything is drawn; a run's
# curves are drawn.
metrics="$(dirname "$plot")/plot_metrics.py"
set +e
"$python" "$metrics" one >/dev/null 2>&1; rc_out=$?
"$python" "$metrics" one missing-run --out curves.png 2>metrics.txt; rc_missing=$?
set -e
[ "$rc_out" = 2 ] || fail "plot_metrics.py without --out: exit $rc_out, want 2"
[ "$rc_missing" = 1 ] && grep -q "cannot read 'missing-run'" metrics.txt ||
  fail "plot_metrics.py on a missing run: exit $rc_missing"
[ ! -e curves.png ] || fail "plot_metrics.py wrote a figure before refusing"
"$python" "$metrics" one --out curves.png >/dev/null && [ -s curves.png ] ||
  fail "plot_metrics.py drew nothing for a run"
echo "outputs: stdout/stderr split, ETA inline, unique run dirs, finished resume, plot checks"
