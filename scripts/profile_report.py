#!/usr/bin/env python3
"""Sums a Chrome trace of LibTorch ops (bench-train --profile FILE) per op name.

Each op's self time is its duration less that of the ops it called (events nested in it
on the same thread). Prints a markdown table of the ops with the largest self time, their
call counts and share of the total, so that one sees where a training step goes.
  usage: scripts/profile_report.py TRACE [--top N]
"""
import argparse
import collections
import json
import sys


def load_events(path):
    """The complete ('X') events of a trace: a JSON list, or an object with traceEvents."""
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError as e:
        sys.exit(f"{path}: cannot read the trace ({e.strerror})")
    if text.endswith(","):  # LibTorch's legacy writer can leave a trailing comma
        text = text[:-1] + "]"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        sys.exit(f"{path}: not a Chrome trace ({e})")
    events = data["traceEvents"] if isinstance(data, dict) else data
    return [e for e in events if e.get("ph") == "X" and "dur" in e]


def self_times(events):
    """(name -> total self microseconds, name -> calls)."""
    self_us, calls = collections.Counter(), collections.Counter()
    by_thread = collections.defaultdict(list)
    for e in events:
        by_thread[e.get("tid", 0)].append(e)
    for evs in by_thread.values():
        evs.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []  # open events: [end, name]
        for e in evs:
            start, end = e["ts"], e["ts"] + e["dur"]
            while stack and stack[-1][0] <= start:
                stack.pop()
            if stack:
                self_us[stack[-1][1]] -= e["dur"]  # the parent's time spent in this child
            self_us[e["name"]] += e["dur"]
            calls[e["name"]] += 1
            stack.append([end, e["name"]])
    return self_us, calls


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    self_us, calls = self_times(load_events(args.trace))
    total = sum(self_us.values())
    print(f"{len(calls)} ops, {total / 1e3:.1f} ms of op time\n")
    print("| op | calls | self ms | share |")
    print("|---|---|---|---|")
    for name, us in self_us.most_common(args.top):
        print(f"| {name} | {calls[name]} | {us / 1e3:.1f} | {100 * us / total:.1f}% |")


if __name__ == "__main__":
    main()
