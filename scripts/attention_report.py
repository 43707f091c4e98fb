#!/usr/bin/env python3
"""Which prompt token the answer position reads at each loop, from stars-eval --attention.

    python3 scripts/attention_report.py ATTN.jsonl [--out report.md]

For list_end problems ("TTTTTTTTTT+x="), the table cell at position i holds the node that i
points to, so a model that took one hop per loop at the answer position would, at loop l,
read the cell of the node it has reached. For each (difficulty, loop) and head the report
gives what the head's strongest weight falls on most often, with its share of problems:
a cell of x's list before the end ("list"), the end's cell ("end"), a cell of the other list
("other"), the query "+x=" ("query") or the answer position ("self"); and the share of
problems where some head reads the end's cell. Other tasks get the mean weight per
position by loop.

With every position's weights (stars-eval --attention-queries all) a list_end report also
says where the hops are taken: what the cells of x's list read (the cell of the node they
point to, "+1", two or more hops further, "+2" / "+3+", an earlier cell of the list,
"back", the end's cell, "end", themselves, the other lists or the query) and, for the query
node "x" and for "=", which hop's cell they read ("hop j"). Attention is causal: a cell
sees only the cells left of it, so only the query positions can walk the whole list.
"""
import argparse
import collections
import sys

from eval_records import list_end_walk, load_records


def load(path):
    return load_records(path, "--attention", ["prompt", "loop", "weights"])


def path_of(prompt):
    """x's list as visited from x to its end, or None for other prompts."""
    walk = list_end_walk(prompt)
    return walk[0] if walk else None


def classify(record, nodes):
    """For each head, what its strongest weight falls on: a cell of x's list before its end
    ("list"), the end's cell ("end"), a cell of the other list ("other"), the query "+x="
    ("query") or the answer position itself ("self")."""
    offset = len(record["prompt"]) - len(record["prompt"].lstrip())
    classes = []
    for w in record["weights"]:
        i = max(range(len(w)), key=lambda i: w[i]) - offset
        if 0 <= i < 10:
            classes.append("end" if i == nodes[-1] else "list" if i in nodes else "other")
        else:
            classes.append("self" if i >= 13 else "query")
    return classes


def last_rows(rows):
    """Records of every query (--attention-queries all) reduced to the answer position's."""
    if rows[0].get("queries") != "all":
        return rows
    return [dict(r, weights=[head[-1] for head in r["weights"]]) for r in rows]


def argmax(weights):
    return max(range(len(weights)), key=lambda i: weights[i])


def cell_reads(nodes, hop, key):
    """What the cell of hop `hop` on x's list reads when it attends to prompt position `key`."""
    if key >= 10:
        return "query"
    if key == nodes[hop]:
        return "self"
    if key in nodes:
        ahead = nodes.index(key) - hop
        if key == nodes[-1] and ahead > 2:
            return "end"
        return "back" if ahead < 0 else f"+{ahead}" if ahead <= 2 else "+3+"
    return "other"


def query_reads(nodes, key):
    """Which hop's cell a query position reads: "hop j", "other" or "query"."""
    if key >= 10:
        return "query"
    return f"hop {nodes.index(key)}" if key in nodes else "other"


def walk_table(rows):
    """Where the hops are taken (every query's weights): by (difficulty, loop, layer) and
    head, the most frequent reading of x's list's cells before its end, of the query node
    and of "="; None unless the records are list_end records of every query."""
    if rows[0].get("queries") != "all":
        return None
    groups = collections.defaultdict(lambda: collections.defaultdict(list))
    for r in rows:
        nodes = path_of(r["prompt"])
        if nodes is None:
            return None
        offset = len(r["prompt"]) - len(r["prompt"].lstrip())
        key = (r.get("difficulty", len(nodes) - 1), r["loop"], r.get("layer", 0))
        for h, head in enumerate(r["weights"]):
            for hop in range(len(nodes) - 1):
                groups[key][("cells", h)].append(
                    cell_reads(nodes, hop, argmax(head[offset + nodes[hop]]) - offset))
            for name, position in (("x", 11), ("=", 12)):
                groups[key][(name, h)].append(query_reads(nodes, argmax(head[offset + position]) - offset))
    heads = len(rows[0]["weights"])
    lines = ["| difficulty | loop | layer | reader | " + " | ".join(f"head {h}" for h in range(heads)) + " |",
             "|---" * (heads + 4) + "|"]
    for (d, loop, layer), by_reader in sorted(groups.items()):
        for reader in ("cells", "x", "="):
            cells = []
            for h in range(heads):
                items = by_reader[(reader, h)]
                label, count = collections.Counter(items).most_common(1)[0]
                cells.append(f"{label} {count / len(items):.2f}")
            lines.append(f"| {d} | {loop} | {layer} | {reader} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def list_end_table(rows):
    groups = collections.defaultdict(list)
    for r in rows:
        nodes = path_of(r["prompt"])
        if nodes is None:
            return None
        groups[(r.get("difficulty", len(nodes) - 1), r["loop"], r.get("layer", 0))].append(
            classify(r, nodes))
    heads = len(rows[0]["weights"])
    lines = ["| difficulty | loop | layer | n | " +
             " | ".join(f"head {h}" for h in range(heads)) + " | some head on the end |",
             "|---" * (heads + 5) + "|"]
    for (d, loop, layer), items in sorted(groups.items()):
        cells = []
        for h in range(heads):
            label, count = collections.Counter(c[h] for c in items).most_common(1)[0]
            cells.append(f"{label} {count / len(items):.2f}")
        on_end = sum("end" in c for c in items) / len(items)
        lines.append(f"| {d} | {loop} | {layer} | {len(items)} | " + " | ".join(cells) +
                     f" | {on_end:.3f} |")
    return "\n".join(lines) + "\n"


def position_table(rows):
    """Mean weight (over problems and heads) on each key position, by loop and layer."""
    sums, counts = collections.defaultdict(lambda: collections.defaultdict(float)), collections.Counter()
    width = 0
    for r in rows:
        key = (r["loop"], r.get("layer", 0))
        counts[key] += 1
        for w in r["weights"]:
            for i, x in enumerate(w):
                sums[key][i] += x / len(r["weights"])
        width = max(width, len(r["weights"][0]))
    lines = ["| loop | layer | " + " | ".join(str(i) for i in range(width)) + " |",
             "|---" * (width + 2) + "|"]
    for key in sorted(sums):
        cells = " | ".join(f"{sums[key][i] / counts[key]:.2f}" for i in range(width))
        lines.append(f"| {key[0]} | {key[1]} | {cells} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("attention")
    ap.add_argument("--out", help="also write the table to this file")
    a = ap.parse_args()
    rows = load(a.attention)
    table = list_end_table(last_rows(rows)) or position_table(last_rows(rows))
    walk = walk_table(rows)
    if walk:
        table += "\nWhere the hops are taken (every position's weights):\n\n" + walk
    sys.stdout.write(table)
    if a.out:
        with open(a.out, "w") as f:
            f.write(table)


if __name__ == "__main__":
    main()
