#!/usr/bin/env python3
"""Two crx binaries timed run by run, interleaved, each on its own copy of the same generated
project (so each keeps its own caches warm and every run sees exactly one changed leaf input).

usage: leaf_interleaved.py leaf|noop RUNS BASE_CRX PROJECT_A NEW_CRX PROJECT_B
  leaf: before each run the project's leaf input (bench-meta.json) is rewritten, as bench.py does
  noop: nothing changes between runs
Prints wall and CPU (user+sys) medians per binary, after 2 warm-up runs each."""
import json, os, resource, statistics, subprocess, sys, time

mode, runs = sys.argv[1], int(sys.argv[2])
sides = {"base": (sys.argv[3], sys.argv[4]), "new": (sys.argv[5], sys.argv[6])}
leaf = json.load(open(os.path.join(sys.argv[4], "bench-meta.json")))["leaf_input"]


def once(crx, project):
    if mode == "leaf":
        with open(os.path.join(project, leaf), "w") as f:
            f.write(f"{time.time_ns()}\n")
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([crx, "repro"], cwd=project, stdout=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


for _ in range(2):
    for crx, project in sides.values():
        once(crx, project)
results = {name: [] for name in sides}
for i in range(runs):
    order = list(sides) if i % 2 == 0 else list(reversed(sides))
    for name in order:
        results[name].append(once(*sides[name]))
for name, rs in results.items():
    walls, cpus = [w for w, _ in rs], [c for _, c in rs]
    print(f"{mode} {name}: wall median {statistics.median(walls) * 1000:.0f} ms (min {min(walls) * 1000:.0f}), "
          f"cpu median {statistics.median(cpus) * 1000:.0f} ms")
