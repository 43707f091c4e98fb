"""Compares two exported stars weight files (state_dict.pt) tensor by tensor.

Usage: compare_state_dicts.py A B ATOL
Prints the largest absolute difference and fails if it exceeds ATOL or the names differ.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
from stars_torch import load_archive  # noqa: E402


def main() -> int:
    a, b = (load_archive(p) for p in sys.argv[1:3])
    atol = float(sys.argv[3])
    if sorted(a) != sorted(b):
        print(f"parameter names differ: {sorted(set(a) ^ set(b))}")
        return 1
    worst_name, worst = max(((k, (a[k] - b[k]).abs().max().item()) for k in a), key=lambda kv: kv[1])
    print(f"max |difference| {worst:.3g} (in {worst_name}) over {len(a)} tensors; tolerance {atol:g}")
    return 0 if worst <= atol else 1


if __name__ == "__main__":
    sys.exit(main())
