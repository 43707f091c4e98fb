"""Reading stars-eval's JSONL records (--predictions, --attention) and walking list_end
problems; shared by scripts/error_report.py and scripts/attention_report.py."""
import json
import re
import sys

LIST_END = re.compile(r"^\s*(\d{10})\+(\d)=$")


def load_records(path, flag, keys):
    """Every line of a stars-eval `flag` file as a dict; exits with a message naming the file
    and line when the file cannot be read, a line is not JSON, or `keys` are missing."""
    rows = []
    try:
        f = open(path)
    except OSError as e:
        sys.exit(f"{path}: {e.strerror}; pass a stars-eval {flag} file")
    with f:
        for n, line in enumerate(f, 1):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                sys.exit(f"{path}:{n}: not a JSON line ({e}); pass a stars-eval {flag} file")
    if not rows or not set(keys) <= set(rows[0]):
        sys.exit(f"{path}: want stars-eval {flag} lines with {', '.join(keys)}")
    return rows


def list_end_walk(prompt):
    """For a list_end prompt ("TTTTTTTTTT+x="): the nodes visited from x to the end of its
    list, and the other list's end(s); None for other prompts."""
    m = LIST_END.match(prompt)
    if not m:
        return None
    table, node = [int(c) for c in m.group(1)], int(m.group(2))
    path = [node]
    while table[node] != node and len(path) <= 10:
        node = table[node]
        path.append(node)
    ends = [i for i in range(10) if table[i] == i and i != path[-1]]
    return path, ends
