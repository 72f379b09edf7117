#!/usr/bin/env python3
"""Synthetic pipeline generator for crx's benchmark suite.

Writes one layered DAG of N stages / F input files into a project directory, as both
`pipeline.yaml` (crx) and `dvc.yaml` (DVC) - the very same stages - plus `params.yaml`,
`run_all.sh` (the stage commands in dependency order, no tool: the first-repro floor) and
`bench-meta.json` (the root and leaf inputs the suite edits).

Graph: stages are laid out in layers of about sqrt(N) stages. A stage in layer k > 0 depends on
1-3 outputs of stages in the two layers before it; every stage reads its own F/N input files
(every 5th stage as one directory dep, the others file by file), one param key
(`sNNNNN.seed`), and writes `out.txt`; every 5th stage (offset 2) also writes a directory out
`outdir/` (two files), which downstream stages then depend on as a directory.
Commands are cheap and deterministic (`cat ... | cksum > out`), so the tool is what's timed.
Everything is derived from a fixed seed: the same arguments give byte-identical projects.
"""
import argparse
import json
import math
import os
import random
import sys

SCALES = {
    "S": (10, 100),
    "M": (200, 2_000),
    "L": (1_000, 20_000),
    "XL": (10_000, 200_000),
}


def stage_name(i):
    return f"s{i:05d}"


def build_graph(n_stages, n_files, seed=42):
    rng = random.Random(seed)
    per_stage = max(1, n_files // n_stages)
    width = max(2, int(round(math.sqrt(n_stages))))
    stages = []
    for i in range(n_stages):
        layer = i // width
        name = stage_name(i)
        base = f"stages/{name}"
        inputs = [f"{base}/in/f{j:03d}.txt" for j in range(per_stage)]
        dir_dep = (i % 5 == 0)
        dir_out = (i % 5 == 2)
        ups = []
        if layer > 0:
            lo = max(0, (layer - 2) * width)
            hi = layer * width  # exclusive: stages of earlier layers only
            k = rng.randint(1, 3)
            ups = sorted(set(rng.randrange(lo, hi) for _ in range(k)))
        stages.append({
            "i": i, "name": name, "layer": layer, "base": base, "inputs": inputs,
            "dir_dep": dir_dep, "dir_out": dir_out, "ups": ups,
        })
    # upstream dep paths: the directory out when the upstream has one, else its out.txt
    for s in stages:
        s["up_paths"] = [
            (f"{stages[u]['base']}/outdir" if stages[u]["dir_out"] else f"{stages[u]['base']}/out.txt")
            for u in s["ups"]
        ]
        s["deps"] = ([f"{s['base']}/in"] if s["dir_dep"] else list(s["inputs"])) + s["up_paths"]
        s["outs"] = [f"{s['base']}/out.txt"] + ([f"{s['base']}/outdir"] if s["dir_out"] else [])
        cat_args = [f"{s['base']}/in/*"] + [
            (p + "/*") if p.endswith("/outdir") else p for p in s["up_paths"]
        ]
        cmd = f"cat {' '.join(cat_args)} | cksum > {s['base']}/out.txt"
        if s["dir_out"]:
            od = f"{s['base']}/outdir"
            cmd += (f" && mkdir -p {od} && cksum {s['inputs'][0]} > {od}/a.txt"
                    f" && cat {s['base']}/out.txt {s['inputs'][-1]} | cksum > {od}/b.txt")
        s["cmd"] = cmd
    return stages


def input_content(path, i, j):
    # ~120-200 bytes of deterministic text per input file
    line = f"{path} stage={i} file={j} " + ("x" * ((i * 7 + j * 13) % 80))
    return (line + "\n") * 2


def write_yaml(stages, with_params=True):
    out = ["stages:"]
    for s in stages:
        out.append(f"  {s['name']}:")
        out.append(f"    cmd: {s['cmd']}")
        out.append("    deps:")
        out += [f"    - {d}" for d in s["deps"]]
        if with_params:
            out.append("    params:")
            out.append(f"    - {s['name']}.seed")
        out.append("    outs:")
        out += [f"    - {o}" for o in s["outs"]]
    return "\n".join(out) + "\n"


def generate(project, n_stages, n_files, pipeline_file, seed=42):
    stages = build_graph(n_stages, n_files, seed)
    os.makedirs(project, exist_ok=True)
    for s in stages:
        os.makedirs(os.path.join(project, s["base"], "in"), exist_ok=True)
        for j, p in enumerate(s["inputs"]):
            with open(os.path.join(project, p), "w") as f:
                f.write(input_content(p, s["i"], j))
    with open(os.path.join(project, pipeline_file), "w") as f:
        f.write(write_yaml(stages))
    with open(os.path.join(project, "params.yaml"), "w") as f:
        for s in stages:
            f.write(f"{s['name']}:\n  seed: {s['i']}\n  lr: 0.{s['i'] % 10}1\n")
    with open(os.path.join(project, "run_all.sh"), "w") as f:
        f.write("#!/bin/sh\n# The stage commands in dependency order, no tool (generated).\nset -e\n")
        f.write('cd "$(dirname "$0")"\n')
        for s in stages:  # stage indices are already a topological order (deps point backwards)
            outs = " ".join(s["outs"])
            f.write(f"rm -rf {outs}\n{s['cmd']}\n")
    os.chmod(os.path.join(project, "run_all.sh"), 0o755)
    with open(os.path.join(project, "clean.sh"), "w") as f:
        f.write("#!/bin/sh\n# Deletes every stage output (generated).\n")
        f.write('cd "$(dirname "$0")"\n')
        f.write("find stages -depth \\( -name out.txt -o -name outdir \\) -exec rm -rf {} +\n")
    os.chmod(os.path.join(project, "clean.sh"), 0o755)
    has_down = set(u for s in stages for u in s["ups"])
    leaves = [s for s in stages if s["i"] not in has_down and s["layer"] > 0]
    leaf = leaves[-1] if leaves else stages[-1]
    meta = {
        "stages": n_stages, "files": sum(len(s["inputs"]) for s in stages),
        "layers": stages[-1]["layer"] + 1,
        "root_input": stages[0]["inputs"][0], "root_stage": stages[0]["name"],
        "leaf_input": leaf["inputs"][0], "leaf_stage": leaf["name"],
        "leaf_cmd": leaf["cmd"],
        "dir_deps": sum(1 for s in stages if s["dir_dep"]),
        "dir_outs": sum(1 for s in stages if s["dir_out"]),
        "edges": sum(len(s["ups"]) for s in stages),
    }
    with open(os.path.join(project, "bench-meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    return meta


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("project")
    ap.add_argument("--scale", choices=sorted(SCALES))
    ap.add_argument("--stages", type=int)
    ap.add_argument("--files", type=int)
    ap.add_argument("--pipeline-file", default="pipeline.yaml", help="pipeline.yaml (crx) or dvc.yaml (DVC)")
    a = ap.parse_args()
    n, f = SCALES[a.scale] if a.scale else (a.stages, a.files)
    if not n or not f:
        ap.error("give --scale or --stages and --files")
    print(json.dumps(generate(a.project, n, f, a.pipeline_file)))


if __name__ == "__main__":
    sys.exit(main())
