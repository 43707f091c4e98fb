#!/usr/bin/env python3
"""The time the matrix products of one training step take alone, in fp32 and bf16.

Times every GEMM a step of the default model runs (each linear layer's forward product and
its two backward products, at the step's shapes) through LibTorch's own matmul on one
thread, best of several, and sums them over the loops. No step can be faster than its
products, and a PyTorch peer in bf16 autocast runs the same oneDNN bf16 kernel, so this
bounds how far any implementation can lead it at this size:
    max speed-up over the peer = peer's step / this sum.
  usage: scripts/gemm_bound.py [--loops 9] [--batch 128] [--tokens 17] [--d 192] [--ff 384]
                               [--threads 1] [--peer-ms MS]
"""
import argparse
import time

import torch


def best_seconds(fn, reps=20, rounds=5):
    for _ in range(3):
        fn()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(reps):
            fn()
        best = min(best, (time.perf_counter() - start) / reps)
    return best


def linear_products(rows, d_in, d_out, dtype):
    """Seconds of y = x Wᵀ, dx = dy W and dW = dyᵀ x at these sizes."""
    x = torch.randn(rows, d_in).to(dtype)
    w = torch.randn(d_out, d_in).to(dtype)
    dy = torch.randn(rows, d_out).to(dtype)
    return (best_seconds(lambda: torch.matmul(x, w.t())) +
            best_seconds(lambda: torch.matmul(dy, w)) +
            best_seconds(lambda: torch.matmul(dy.t(), x)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--loops", type=int, default=9)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--tokens", type=int, default=17, help="sequence length of a batch row")
    ap.add_argument("--d", type=int, default=192)
    ap.add_argument("--ff", type=int, default=384)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--peer-ms", type=float, help="the peer's measured step (ms), for the bound")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows, d, ff = args.batch * args.tokens, args.d, args.ff
    # The looped block's linear layers: packed qkv, attention output, the MLP's two.
    layers = [(d, 3 * d), (d, d), (d, ff), (ff, d)]
    flops = 3 * sum(2 * rows * i * o for i, o in layers) * args.loops
    print("| precision | GEMM ms per step | GEMM GFLOP/s | fastest possible speed-up over the peer |")
    print("|---|---|---|---|")
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        seconds = args.loops * sum(linear_products(rows, i, o, dtype) for i, o in layers)
        bound = f"{args.peer_ms / (1e3 * seconds):.2f}x" if args.peer_ms else "-"
        print(f"| {name} | {1e3 * seconds:.1f} | {flops / seconds / 1e9:.0f} | {bound} |")


if __name__ == "__main__":
    main()
