#!/usr/bin/env python3
"""Remote-cache benchmark: crx vs DVC push/fetch to the same server on loopback (default: S3 via moto_server).

    python3 bench/remote_bench.py [--runs 3] [--cases M,big] [--work /tmp/crx-remote-bench]

Cases:
  M    the generated M-scale pipeline (bench/work/M/{crx,dvc}, already built), copied into the work dir
  big  a one-stage project per tool (`cp big.csv out.csv`, big.csv = bench/work/big/big.csv, 1 GiB), built here

For each case and tool: push N times (remote directory deleted before each run), then fetch N times
(local cache deleted before each run: crx `rm -rf .crx/cache && crx fetch`, DVC
`rm -rf .dvc/cache && dvc fetch`). Reports medians, remote size after push (`du -sb`), and DVC/crx ratios.
Needs: moto_server + boto3 (PyPI moto[server]), bench/.venv with dvc + dvc-s3 (`bench/.venv/bin/pip install dvc-s3`),
nginx for --backend webdav,
.build/release/crx. Writes JSON to <work>/remote-<date>.json and prints a markdown table.
"""
import argparse, json, os, shutil, socket, statistics, subprocess, sys, time, datetime

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CRX = os.path.join(ROOT, ".build", "release", "crx")
VENV_BIN = os.path.join(HERE, ".venv", "bin")


def sh(cmd, cwd, env, check=True):
    r = subprocess.run(cmd, shell=True, cwd=cwd, env=env, executable="/bin/bash",
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if check and r.returncode != 0:
        raise SystemExit(f"failed ({r.returncode}): {cmd} in {cwd}\n{r.stdout[-3000:]}")
    return r


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def du(path):
    """Bytes in the files under path (like `du -sb` but without directory entries' 4 KiB each)."""
    total = 0
    for d, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(d, f)).st_size
            except OSError:
                pass
    return total


class Nginx:
    def __init__(self, work):
        self.prefix = os.path.join(work, "nginx")
        self.root = os.path.join(work, "dav")
        self.port = free_port()
        for d in (self.prefix + "/logs", self.prefix + "/tmp", self.root):
            os.makedirs(d, exist_ok=True)
        p = self.prefix
        conf = f"""
user root;
daemon off;
worker_processes 2;
pid {p}/nginx.pid;
error_log {p}/logs/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {p}/tmp;
    proxy_temp_path {p}/tmp; fastcgi_temp_path {p}/tmp; uwsgi_temp_path {p}/tmp; scgi_temp_path {p}/tmp;
    server {{
        listen 127.0.0.1:{self.port};
        root {self.root};
        client_max_body_size 0;
        location / {{
            dav_methods PUT DELETE MKCOL;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
            autoindex on;
        }}
    }}
}}
"""
        self.conf = os.path.join(p, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)

    def start(self):
        self.proc = subprocess.Popen(["nginx", "-c", self.conf, "-p", self.prefix + "/"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close(); return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("nginx did not start; see " + self.prefix + "/logs/error.log")

    def reset(self, prefix):
        shutil.rmtree(os.path.join(self.root, prefix), ignore_errors=True)

    def size(self, prefix):
        return du(os.path.join(self.root, prefix))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill(); self.proc.wait()


class Moto:
    """moto_server (S3) on loopback; one bucket `bench`, one prefix per case/tool."""
    def __init__(self, work):
        self.port = free_port()
        self.log = open(os.path.join(work, "moto.log"), "w")

    def start(self):
        self.proc = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close(); break
            except OSError:
                time.sleep(0.1)
        import boto3
        self.s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{self.port}", region_name="us-east-1",
                               aws_access_key_id="testing", aws_secret_access_key="testing")
        self.s3.create_bucket(Bucket="bench")

    def _objects(self, prefix):
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket="bench", Prefix=prefix + "/"):
            yield from page.get("Contents", [])

    def reset(self, prefix):
        keys = [{"Key": o["Key"]} for o in self._objects(prefix)]
        for i in range(0, len(keys), 1000):
            self.s3.delete_objects(Bucket="bench", Delete={"Objects": keys[i:i + 1000]})

    def size(self, prefix):
        return sum(o["Size"] for o in self._objects(prefix))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill(); self.proc.wait()


def setup_M(work, env):
    src = os.path.join(HERE, "work", "M")
    dst = os.path.join(work, "M")
    if not os.path.exists(dst):
        os.makedirs(dst)
        for t in ("crx", "dvc"):
            shutil.copytree(os.path.join(src, t), os.path.join(dst, t), symlinks=True)
    return {t: os.path.join(dst, t) for t in ("crx", "dvc")}


def link_or_copy(src, dst):
    if os.path.exists(dst):
        return
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def setup_big(work, env):
    big = os.path.join(HERE, "work", "big", "big.csv")
    base = os.path.join(work, "big")
    stage = "stages:\n  csv:\n    cmd: cp big.csv out.csv\n    deps:\n    - big.csv\n    outs:\n    - out.csv\n"
    projs = {}
    for t in ("crx", "dvc"):
        p = os.path.join(base, t)
        os.makedirs(p, exist_ok=True)
        link_or_copy(big, os.path.join(p, "big.csv"))
        if t == "crx":
            if not os.path.exists(os.path.join(p, "pipeline.lock")):
                open(os.path.join(p, "pipeline.yaml"), "w").write(stage)
                sh(f"{CRX} init >/dev/null && {CRX} repro >/dev/null", p, env)
        else:
            if not os.path.exists(os.path.join(p, "dvc.lock")):
                open(os.path.join(p, "dvc.yaml"), "w").write(stage)
                sh("dvc init -q --no-scm && dvc config core.analytics false && dvc repro -q", p, env)
        projs[t] = p
    return projs


def timed(cmd, cwd, env):
    t0 = time.perf_counter()
    r = sh(cmd, cwd, env)
    return time.perf_counter() - t0, r.stdout


def bench_case(name, projs, server, runs, env, results, tools=("crx", "dvc")):
    s3 = isinstance(server, Moto)
    for tool in tools:
        p = projs[tool]
        rdir = f"{name}-{tool}"
        if tool == "crx":
            if s3:
                sh(f"{CRX} remote add bench s3://bench/{rdir} --default --force >/dev/null && "
                   f"{CRX} remote modify bench endpoint_url http://127.0.0.1:{server.port}", p, env)
            else:
                sh(f"{CRX} remote add bench http://127.0.0.1:{server.port}/{rdir} --default --force >/dev/null", p, env)
            push, fetch, cache = f"{CRX} push", f"{CRX} fetch", ".crx/cache"
        else:
            if s3:
                sh(f"dvc remote add -f -d bench s3://bench/{rdir} && "
                   f"dvc remote modify bench endpointurl http://127.0.0.1:{server.port}", p, env)
            else:
                sh(f"dvc remote add -f -d bench webdav://127.0.0.1:{server.port}/{rdir}", p, env)
            push, fetch, cache = "dvc push -q", "dvc fetch -q", ".dvc/cache"
        local_bytes = du(os.path.join(p, cache))
        pushes, sizes = [], []
        for i in range(runs):
            server.reset(rdir)
            sh("rm -rf .dvc/tmp/index", p, env, check=False) if tool == "dvc" else None
            sh("sync", p, env)
            dt, out = timed(push, p, env)
            pushes.append(dt); sizes.append(server.size(rdir))
            print(f"  {name} {tool} push #{i+1}: {dt:.2f}s, remote {sizes[-1]} B", flush=True)
        # keep a full backup of the cache so each fetch starts from an empty cache
        backup = os.path.join(os.path.dirname(p), f".{tool}-cache-backup")
        if not os.path.exists(backup):
            shutil.copytree(os.path.join(p, cache), backup)
        fetches = []
        for i in range(runs):
            shutil.rmtree(os.path.join(p, cache), ignore_errors=True)
            if tool == "dvc":
                sh("rm -rf .dvc/tmp/index", p, env, check=False)
            dt, out = timed(fetch, p, env)
            fetches.append(dt)
            print(f"  {name} {tool} fetch #{i+1}: {dt:.2f}s, cache {du(os.path.join(p, cache))} B", flush=True)
        # restore the original cache (fetch restores it, but be exact)
        shutil.rmtree(os.path.join(p, cache), ignore_errors=True)
        shutil.copytree(backup, os.path.join(p, cache))
        results[f"{name}/{tool}"] = {"push_s": pushes, "fetch_s": fetches, "push_median_s": statistics.median(pushes),
                                     "fetch_median_s": statistics.median(fetches), "remote_bytes": sizes[-1],
                                     "local_cache_bytes": local_bytes, "push_cmd": push, "fetch_cmd": fetch}


def table(results, cases):
    lines = ["| case | tool | push median (s) | fetch median (s) | bytes on remote | local cache bytes |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for c in cases:
        for t in ("crx", "dvc"):
            r = results.get(f"{c}/{t}")
            if r:
                lines.append(f"| {c} | {t} | {r['push_median_s']:.2f} | {r['fetch_median_s']:.2f} | {r['remote_bytes']:,} | {r['local_cache_bytes']:,} |")
        a, b = results.get(f"{c}/crx"), results.get(f"{c}/dvc")
        if a and b:
            lines.append(f"| {c} | **DVC/crx** | {b['push_median_s']/a['push_median_s']:.1f}× | {b['fetch_median_s']/a['fetch_median_s']:.1f}× | "
                         f"{b['remote_bytes']/max(a['remote_bytes'],1):.2f}× | |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cases", default="M,big")
    ap.add_argument("--work", default="/tmp/crx-remote-bench")
    ap.add_argument("--backend", default="s3", choices=["s3", "webdav"],
                    help="s3: moto_server (both tools); webdav: nginx dav module (crx only: DVC's webdav4 "
                         "needs PROPFIND, which nginx's core dav module answers with 405)")
    a = ap.parse_args()
    env = dict(os.environ)
    env["PATH"] = VENV_BIN + ":" + env["PATH"]
    env["DVC_NO_ANALYTICS"] = "1"
    env["LC_ALL"] = "C"
    env["DVC_SITE_CACHE_DIR"] = os.path.join(a.work, "dvc-site-cache")
    os.makedirs(a.work, exist_ok=True)
    cases = a.cases.split(",")
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    server = Moto(a.work) if a.backend == "s3" else Nginx(a.work)
    server.start()
    tools = ("crx", "dvc") if a.backend == "s3" else ("crx",)
    results = {}
    try:
        for c in cases:
            projs = setup_M(a.work, env) if c == "M" else setup_big(a.work, env)
            bench_case(c, projs, server, a.runs, env, results, tools)
    finally:
        server.stop()
        date = datetime.datetime.utcnow().strftime("%Y-%m-%dT%H%MZ")
        out = os.path.join(a.work, f"remote-{date}.json")
        with open(out, "w") as f:
            json.dump({"date": date, "runs": a.runs, "backend": a.backend, "results": results}, f, indent=1)
        print(table(results, cases))
        print("json:", out)


if __name__ == "__main__":
    main()
