#!/usr/bin/env python3
"""Differential suite: crx against real DVC on the same small pipelines and the same edits.

Each scenario builds one pipeline twice -- a DVC project (git + `dvc init`, `dvc.yaml`) and a crx
project (`pipeline.yaml`, same text) -- runs a first full repro with both, applies the same edit to
both (inputs, params, cmds, templated values, foreach items added/removed, ...), runs repro again and
compares *which stages executed their command* (DVC: "Running stage 'x'"; crx: `repro --json`'s
`ran`). Where crx differs from DVC on purpose, the scenario says so and checks crx's documented
behaviour instead.

DVC comes from $DVC (a dvc executable), else bench/.venv/bin/dvc, else a temporary virtualenv made
with `pip install dvc`; when none can be had the suite prints SKIPPED and exits 0.

Usage: Tests/differential/dvc_differential.py [--crx PATH] [-k NAME]
Prints one line per scenario and a closing line "N passed, M failed".
"""
import argparse, json, os, re, shutil, subprocess, sys, tempfile, textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def find_dvc():
    if os.environ.get("DVC") and os.access(os.environ["DVC"], os.X_OK):
        return os.environ["DVC"]
    bench = os.path.join(ROOT, "bench", ".venv", "bin", "dvc")
    if os.access(bench, os.X_OK):
        return bench
    venv = os.path.join(tempfile.gettempdir(), "crx-differential-venv")
    dvc = os.path.join(venv, "bin", "dvc")
    if os.access(dvc, os.X_OK):
        return dvc
    try:
        subprocess.run([sys.executable, "-m", "venv", venv], check=True, capture_output=True, timeout=300)
        subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", "dvc"], check=True,
                       capture_output=True, timeout=900)
        return dvc
    except Exception as e:  # no PyPI, no venv module...
        print(f"SKIPPED: cannot install DVC ({e})")
        return None


def run(cmd, cwd, env=None):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


class Pair:
    """The same project for both tools."""

    def __init__(self, dvc, crx, files):
        self.dvc_bin, self.crx_bin = dvc, crx
        self.base = tempfile.mkdtemp(prefix="crx-diff-")
        self.d = os.path.join(self.base, "dvc")
        self.c = os.path.join(self.base, "crx")
        os.makedirs(self.d)
        os.makedirs(self.c)
        run(["git", "init", "-q"], self.d)
        r = run([dvc, "init", "-q"], self.d)
        assert r.returncode == 0, r.stderr
        run([dvc, "config", "core.analytics", "false"], self.d)
        for path, text in files.items():
            self.write(path, text)

    def close(self):
        shutil.rmtree(self.base, ignore_errors=True)

    def write(self, path, text):
        for root in (self.d, self.c):
            name = "dvc.yaml" if (path == "pipeline.yaml" and root == self.d) else path
            full = os.path.join(root, name)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(textwrap.dedent(text))

    def touch(self, path):
        for root in (self.d, self.c):
            full = os.path.join(root, path)
            st = os.stat(full)
            os.utime(full, (st.st_atime + 10, st.st_mtime + 10))

    def remove(self, path):
        for root in (self.d, self.c):
            full = os.path.join(root, path)
            if os.path.isdir(full):
                shutil.rmtree(full)
            elif os.path.exists(full):
                os.remove(full)

    def repro(self, *args):
        """(stages DVC ran, stages crx ran)."""
        env = dict(os.environ, DVC_NO_ANALYTICS="1")
        rd = run([self.dvc_bin, "repro", *args], self.d, env)
        if rd.returncode != 0:
            raise RuntimeError(f"dvc repro failed: {rd.stdout}\n{rd.stderr}")
        dvc_ran = sorted(set(re.findall(r"Running stage '([^']+)'", rd.stdout + rd.stderr)))
        rc = run([self.crx_bin, "repro", "--json", *args], self.c)
        if rc.returncode != 0:
            raise RuntimeError(f"crx repro failed: {rc.stdout}\n{rc.stderr}")
        crx_ran = sorted(json.loads(rc.stdout)["ran"])
        return dvc_ran, crx_ran


LINEAR = {
    "params.yaml": """\
        prep:
          n: 2
        train:
          lr: 0.1
          unused: 1
        """,
    "data/raw.txt": "a\nb\nc\n",
    "pipeline.yaml": """\
        stages:
          prep:
            cmd: mkdir -p out && head -n ${prep.n} data/raw.txt > out/prep.txt
            deps: [data/raw.txt]
            params: [prep.n]
            outs: [out/prep.txt]
          train:
            cmd: cat out/prep.txt out/prep.txt > model.txt
            deps: [out/prep.txt]
            params: [train.lr]
            outs: [model.txt]
          report:
            cmd: wc -l model.txt > report.txt
            deps: [model.txt]
            outs: [report.txt]
        """,
}

FOREACH = {
    "params.yaml": """\
        models: [a, b]
        """,
    "in.txt": "x\n",
    "pipeline.yaml": """\
        stages:
          fit:
            foreach: ${models}
            do:
              cmd: cp in.txt fit-${item}.txt
              deps: [in.txt]
              outs:
                - fit-${item}.txt
        """,
}

MATRIX = {
    "params.yaml": "depth: 3\n",
    "in.txt": "x\n",
    "pipeline.yaml": """\
        vars:
          - sizes: {small: 1, large: 2}
        stages:
          train:
            matrix:
              size: [small, large]
              seed: [1, 2]
            cmd: echo ${item.size} ${item.seed} ${depth} > m-${item.size}-${item.seed}.txt
            deps: [in.txt]
            outs:
              - m-${item.size}-${item.seed}.txt
        """,
}


def scenarios():
    """(name, files, edit(pair), expected difference or None)."""
    def edit_write(path, text):
        return lambda p: p.write(path, text)

    yield "no-op", LINEAR, lambda p: None, None
    yield "mtime-only touch of an input", LINEAR, lambda p: p.touch("data/raw.txt"), None
    yield "input content changed", LINEAR, edit_write("data/raw.txt", "a\nb\nc\nd\n"), None
    yield "input changed beyond what the stage reads (early cutoff)", LINEAR, edit_write("data/raw.txt", "a\nb\nzzz\n"), None
    yield "used param changed", LINEAR, edit_write("params.yaml", "prep:\n  n: 2\ntrain:\n  lr: 0.2\n  unused: 1\n"), None
    yield "unused param changed", LINEAR, edit_write("params.yaml", "prep:\n  n: 2\ntrain:\n  lr: 0.1\n  unused: 9\n"), None
    yield "params file reformatted", LINEAR, edit_write("params.yaml", "train: {unused: 1, lr: 0.1}\nprep: {n: 2}\n"), None
    yield "templated value changed (${prep.n} in cmd)", LINEAR, edit_write("params.yaml", "prep:\n  n: 3\ntrain:\n  lr: 0.1\n  unused: 1\n"), None
    yield "cmd changed", LINEAR, lambda p: p.write("pipeline.yaml", LINEAR["pipeline.yaml"].replace("wc -l", "wc -c")), None
    yield "output deleted", LINEAR, lambda p: p.remove("model.txt"), \
        "crx restores a missing output from its cache without running the stage; DVC re-runs it"
    yield "foreach item added", FOREACH, edit_write("params.yaml", "models: [a, b, c]\n"), None
    yield "foreach item removed", FOREACH, edit_write("params.yaml", "models: [a]\n"), None
    yield "foreach shared input changed", FOREACH, edit_write("in.txt", "y\n"), None
    yield "matrix value used in cmd changed", MATRIX, edit_write("params.yaml", "depth: 4\n"), \
        "crx tracks a ${depth} read from params.yaml as a param; DVC re-runs through the changed cmd text: same stages"
    yield "matrix input changed", MATRIX, edit_write("in.txt", "z\n"), None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--crx", default=os.path.join(ROOT, ".build", "debug", "crx"))
    ap.add_argument("-k", default="")
    args = ap.parse_args()
    dvc = find_dvc()
    if dvc is None:
        print("0 passed, 0 failed, 15 skipped")
        return 0
    passed = failed = 0
    for name, files, edit, deliberate in scenarios():
        if args.k not in name:
            continue
        pair = Pair(dvc, os.path.abspath(args.crx), files)
        try:
            first = pair.repro()
            edit(pair)
            dvc_ran, crx_ran = pair.repro()
            ok = first[0] == first[1] and dvc_ran == crx_ran
            if not ok and deliberate and "restores" in deliberate:
                ok = crx_ran == [] and dvc_ran != []
            verdict = "PASS" if ok else "FAIL"
            note = f"  ({deliberate})" if deliberate and dvc_ran != crx_ran else ""
            print(f"{verdict} {name}: DVC ran {dvc_ran}, crx ran {crx_ran}{note}")
        except Exception as e:
            ok = False
            print(f"FAIL {name}: {e}")
        finally:
            pair.close()
        passed += ok
        failed += not ok
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
