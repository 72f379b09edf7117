#!/usr/bin/env python3
"""Rebuilds the results JSON of an interrupted bench run (one that was stopped before it wrote
latest.json) from what it left: hyperfine's exports in results/hf/, its log (peak memory, machine)
and the projects still in the work dir (cache sizes).

    bench/recover.py results/run.log --scales S,M > results/recovered.json
    bench/table.py results/recovered.json results/latest.json
"""
import argparse
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402
import gen  # noqa: E402

FIGS = {
    "limit": {"run_all": "commands", "stat_every_file": "stat", "xxh128sum_every_file": "xxh"},
    "crx": {"first_repro_j1": "first_j1", "first_repro": "first", "noop_status": "status", "noop_repro": "repro",
            "mem_noop_status": "mem", "mem_first_repro": "mem_first", "dry_after_root_change": "dry",
            "repro_after_leaf_change": "leaf", "status_no_state_cache": "status_cold"},
    "dvc": {"first_repro": "first", "noop_status": "status", "noop_repro": "repro", "mem_noop_status": "mem",
            "dry_after_root_change": "dry", "repro_after_leaf_change": "leaf"},
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log")
    ap.add_argument("--scales", required=True)
    ap.add_argument("--results", default=os.path.join(HERE, "results"))
    ap.add_argument("--workdir", default=os.path.join(HERE, "work"))
    a = ap.parse_args()
    text = open(a.log).read()
    mem = {k: float(v) for k, v in re.findall(r"\] +(\S+): peak RSS median ([0-9.]+) MiB", text)}
    info = dict(re.findall(r"\]   (cpu|memory|kernel|fs|crx|dvc|hyperfine|zstd|xxhsum|nice): (.*)", text))
    command = re.search(r"crx benchmark: (.*)", text).group(1)
    date = re.search(r"^\[(\d\d:\d\d)", text, re.M).group(1)
    failures = re.findall(r"(?:FAILED|WARNING) (.*)", text)
    b = bench.Bench.__new__(bench.Bench)
    raw = {}
    for scale in a.scales.split(","):
        res = {"limit": {}, "crx": {}, "dvc": {}}
        for tool, figs in FIGS.items():
            for fig, key in figs.items():
                k = f"{scale}/{tool}/{fig}"
                if k in mem:
                    res[tool][key] = mem[k]
                    continue
                path = os.path.join(a.results, "hf", k.replace("/", "_") + ".json")
                try:
                    r = json.load(open(path))["results"][0]
                except (OSError, ValueError, KeyError, IndexError):
                    continue  # not measured, or a run that was cut off
                if True:
                    res[tool][key] = r["median"]
                    raw[k] = {"median": r["median"], "min": r["min"], "max": r["max"], "n": len(r["times"])}
        for tool, d in (("crx", ".crx/cache"), ("dvc", ".dvc/cache")):
            res[tool]["cache"] = bench.Bench.du(os.path.join(a.workdir, scale, tool, d))
        meta = json.load(open(os.path.join(a.workdir, scale, "crx", "bench-meta.json")))
        bench.Bench.pipeline_rows(b, scale, gen.SCALES[scale][0], res, meta)
    import datetime
    day = datetime.date.fromtimestamp(os.path.getmtime(a.log)).isoformat()
    json.dump({"command": command + "  (interrupted; recovered with bench/recover.py)", "date": f"{day}T{date}", "machine": info, "rows": bench.ROWS,
               "raw": raw, "failures": failures}, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
