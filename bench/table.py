#!/usr/bin/env python3
"""Merges the results of several bench runs into one markdown table.

    bench/table.py [--no-failures] bench/results/20260101-120000.json bench/results/20260101-130000.json > table.md

Rows keep the order of the files given; a later file's row replaces an earlier one with the same
(scale, figure). The header lists every run's date and exact command.
"""
import json
import sys
import os

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def main():
    flags = [a for a in sys.argv[1:] if a.startswith("--")]
    files = [a for a in sys.argv[1:] if not a.startswith("--")]
    if not files:
        sys.exit(__doc__)
    runs, rows, where = [], [], {}
    for path in files:
        d = json.load(open(path))
        runs.append(d)
        for r in d["rows"]:
            k = (r["scale"], r["figure"])
            if k in where:  # a later run's values replace an earlier run's, field by field
                old = rows[where[k]]
                rows[where[k]] = dict(old, **{f: v for f, v in r.items() if v not in (None, "")})
            else:
                where[k] = len(rows)
                rows.append(r)
    order = {"S": 0, "M": 1, "L": 2, "XL": 3}
    rows.sort(key=lambda r: (r["section"] != "pipeline", order.get(r["scale"], 9)))  # stable
    bench.ROWS[:] = rows
    out = ["Produced by:\n\n"]
    for d in runs:
        out.append(f"- {d['date'][:16].replace('T', ' ')}: `{d['command']}`\n")
    m = next((d["machine"] for d in reversed(runs) if d.get("machine")), {})
    out.append("\n" + "; ".join(f"{k}: {v}" for k, v in m.items()) + "\n")
    out.append(bench.table_md())
    fails = list(dict.fromkeys(x.strip().splitlines()[0][:300] for d in runs for x in d.get("failures", [])))
    if fails and "--no-failures" not in flags:
        out.append("\n**Failures / warnings during the runs**\n\n" + "".join(
            f"- {x}\n" for x in fails))
    sys.stdout.write("".join(out))


if __name__ == "__main__":
    main()
