#!/usr/bin/env python3
"""Markdown table of scripts/device-check.sh's bench.jsonl: stars beside the PyTorch peer.

The peer times from its first step, so device-check.sh runs it for WARM and for
WARM + STEPS steps with the same seeded draws; the steady-state rate is the difference of
the two runs. The peer's loop counts for those steps are replayed from its seeded Python
RNG (looplm_ref.py, seed 1: two operands per row, then the depth), so that random-depth
rows compare loop-tokens/s as well. Model FLOPs are the matmul FLOPs of forward and
backward without the penalty (bench-train's count), so the penalty rows' TFLOP/s are
"useful" FLOP/s, and the JSRR share is the extra time of the penalty rows.

usage: device_table.py bench.jsonl
"""
import json
import random
import statistics
import sys


def peer_loops(flags, batch, warm, steps):
    opts = dict(zip(flags.split()[::2], flags.split()[1::2]))
    rng, loops = random.Random(1), []
    for step in range(warm + steps):
        for _ in range(2 * batch):
            rng.randint(1000, 9999)
        if opts["--sampler"] == "lognormal":
            draw = rng.lognormvariate(float(opts.get("--mu", 2.0)), float(opts.get("--sigma", 0.7)))
            depth = int(min(100, max(1, round(draw))))
        else:
            depth = int(opts["--loops"])
        if step >= warm:
            loops.append(depth)
    return statistics.mean(loops)


def main(path):
    rows = []
    for number, line in enumerate(open(path), 1):
        if not line.strip().startswith("{"):
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # a run that failed leaves its row without a result
            print(f"{path}:{number}: not a result, left out: {line.strip()[:120]}", file=sys.stderr)
    stars = {r["label"].split("|", 1)[1]: r for r in rows if r["label"].startswith("stars|")}
    peers = {}  # (mode, variant): the peer's two runs; variant "sdpa" is its --sdpa
    for r in rows:
        if r["label"].startswith("peer|"):
            name, _, variant = r["label"].split("|", 1)[1].partition("|")
            peers.setdefault((name, variant), []).append(r)
    memory = [r for r in rows if r["label"].startswith("memory|")]
    card = next((r for r in rows if r["label"] == "card"), None)
    print("| mode | stars ms/step | peer ms/step | speed-up | stars / peer mean loops "
          "| loop-token speed-up | stars model TFLOP/s | peer model TFLOP/s |")
    print("|---|---|---|---|---|---|---|---|")
    base = {}
    for (name, variant), s in ((k, v) for name, v in stars.items()
                               for k in [(name, "")] + [key for key in peers
                                                        if key[0] == name and key[1]]):
        runs = sorted(peers.get((name, variant), []), key=lambda r: r["bench_steps"])
        label = f"{name}, peer --{variant}" if variant else name
        if len(runs) != 2:
            print(f"| {label} | {s['step_ms']:.1f} | - | - | {s['mean_loops']:.2f} | - | "
                  f"{s['model_gflops'] / 1e3:.2f} | - |")
            continue
        short, long_ = runs
        steps = long_["bench_steps"] - short["bench_steps"]
        secs = long_["row"]["seconds"] - short["row"]["seconds"]
        p_ms = 1e3 * secs / steps
        p_loops = peer_loops(long_["peer_flags"], long_["batch"], long_["warm"], steps)
        speedup = p_ms / s["step_ms"]
        loop_speedup = speedup * s["mean_loops"] / p_loops
        # Same model and tokens per step: the peer's FLOP/s scale with its loops and time.
        p_tflops = s["model_gflops"] / 1e3 * (p_loops / s["mean_loops"]) * (s["step_ms"] / p_ms)
        if not variant:
            base[name] = (s["step_ms"], p_ms)
        print(f"| {label} | {s['step_ms']:.1f} | {p_ms:.1f} | {speedup:.2f}x | "
              f"{s['mean_loops']:.2f} / {p_loops:.2f} | {loop_speedup:.2f}x | "
              f"{s['model_gflops'] / 1e3:.2f} | {p_tflops:.2f} |")
    for suffix in ("", " (tf32)", " (bf16)"):
        for plain, penalised in (("fixed-9", "fixed-9 + JSRR"),
                                 ("lognormal", "STARS (lognormal + JSRR)")):
            if plain + suffix in base and penalised + suffix in base:
                (s0, p0), (s1, p1) = base[plain + suffix], base[penalised + suffix]
                print(f"\nJSRR share of a {penalised + suffix} step: stars "
                      f"{100 * (s1 - s0) / s1:.0f}%, peer {100 * (p1 - p0) / p1:.0f}%")
    if memory:
        print("\n| step | stars' estimate | peak GPU memory (nvidia-smi), MiB | exit code |")
        print("|---|---|---|---|")
        for m in memory:
            print(f"| {m['label'].split('|', 1)[1]} | {m['estimate'] or '-'} | "
                  f"{m['peak_gpu_mib'] if m['peak_gpu_mib'] is not None else '-'} | {m['rc']} |")
    any_stars = next(iter(stars.values()), None)
    if card:
        print(f"\nCard (8192^3 GEMM, torch): fp32 {card['fp32_tflops']:.1f}, TF32 "
              f"{card['tf32_tflops']:.1f}, bf16 {card['bf16_tflops']:.1f} TFLOP/s")
    if any_stars:
        print(f"bench-train's own GEMM rates: fp32 {any_stars['sgemm_gflops'] / 1e3:.1f}, "
              f"bf16 {any_stars['bf16_gemm_gflops'] / 1e3:.1f} TFLOP/s")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-1])
    main(sys.argv[1])
