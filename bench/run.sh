#!/usr/bin/env bash
# crx benchmark suite: crx vs DVC vs the machine's limits. See docs/benchmarks.md.
#
#   bench/run.sh --quick                       # scale S + the two 1 GiB files (a few minutes)
#   bench/run.sh                               # S, M, L + 1 GiB files (under an hour; DVC is most of it)
#   bench/run.sh --scales XL --figures pipeline --tools crx
#
# Options (passed to bench/bench.py):
#   --scales S,M,L,XL     pipeline scales (S 10 stages/100 files, M 200/2,000, L 1,000/20,000, XL 10,000/200,000)
#   --figures pipeline,big  pipeline figures and/or the 1 GiB file figures
#   --tools crx,dvc       which tools (DVC never runs at XL; at L it is built with `dvc commit -f`)
#   --quick               scale S + big files, fewer runs
#   --runs N              force N hyperfine runs for every timing
#   --dvc-first-runs N    runs of DVC's first repro at M (default 2, ≈6 min each)
#   --crx PATH            benchmark this crx binary instead of building .build-bench/release/crx
#   --no-build            use .build-bench/release/crx as it is
#   --crx-rev REV         the revision that binary was built from (for the report)
#   --quiet-wait S        before each timing, wait up to S s for a shared machine to go idle (default 90)
#   --workdir DIR         where projects and big files are generated (default bench/work, ~12 GiB)
# Environment: BENCH_NICE=0 to run at normal priority (default as root: nice -n -15).
# Output: the table on stdout, bench/results/latest.md (+ .json, .log, dated copies).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"

cmdline="bench/run.sh"
for a in "$@"; do cmdline+=" $a"; done
crx=""
rev=""
build=1
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --crx) crx="$2"; build=0; shift 2 ;;
    --crx-rev) rev="$2"; shift 2 ;;
    --crx=*) crx="${1#--crx=}"; build=0; shift ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) args+=("$1"); shift ;;
  esac
done

# 1. tools from Debian: hyperfine, GNU time, xxh128sum, zstd (+ the libraries crx links)
need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
[ -x /usr/bin/time ] || need+=(time)
command -v xxh128sum >/dev/null || need+=(xxhash)
command -v zstd >/dev/null || need+=(zstd)
command -v git >/dev/null || need+=(git)
if [ ${#need[@]} -gt 0 ]; then
  echo "bench: installing ${need[*]} (apt-get)" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# 2. DVC in a private virtualenv
if [ ! -x "$here/.venv/bin/dvc" ]; then
  echo "bench: installing DVC into bench/.venv (pip)" >&2
  python3 -m venv "$here/.venv"
  "$here/.venv/bin/pip" install -q --upgrade pip
  "$here/.venv/bin/pip" install -q dvc
fi

# 3. crx, release build in its own scratch path (does not block other builds)
if [ -z "$crx" ]; then
  crx="$root/.build-bench/release/crx"
  if [ "$build" = 1 ]; then
    rev="$(cd "$root" && git describe --always --dirty 2>/dev/null || echo unknown)"
    "$root/scripts/ensure-deps.sh"
    (cd "$root" && swift build -c release --product crx --scratch-path .build-bench)
  fi
fi
[ -x "$crx" ] || { echo "bench: no crx binary at $crx" >&2; exit 2; }

[ -n "$rev" ] && args+=(--crx-rev "$rev")
# A shared machine: run the whole suite at a high CPU priority when allowed (root), so other
# processes' builds disturb the timings less (both tools and the limits get the same priority).
nice_cmd=()
if [ "$(id -u)" -eq 0 ] && [ "${BENCH_NICE:-1}" = 1 ]; then nice_cmd=(nice -n -15); fi
exec "${nice_cmd[@]}" python3 "$here/bench.py" --crx "$crx" --command "$cmdline" "${args[@]}"
