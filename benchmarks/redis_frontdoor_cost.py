"""The Redis front door's cost per `-c 1` request: its CPU, and (with strace) its system calls.

    python benchmarks/redis_frontdoor_cost.py [--before TREE] [--rounds 3] [-n 3000] [--json]
    python benchmarks/redis_frontdoor_cost.py -t get -c 50 -P 16 -n 100000   # another mode

One 3-node cluster (`up --redis-port 0`, fsync on) and, on it, one front door per source tree
(`python -m sentinel.redis --dir D --port P` with PYTHONPATH set to the tree): this one, and
`--before TREE` (e.g. a `git worktree` of main) when given. Each round runs `redis-benchmark
-c 1 -t set -n N -r 1000` (`-t`, `-c`, `-P` choose another mode) against every front door,
in alternating order, and reads the front door's CPU (user + system, psutil) before and
after: CPU per request is the code's, where the rate moves with whatever else the shared
cores run. Each round also runs `kv_throughput.py`'s write_1 (the Python client, one put at
a time) on the same cluster, for its rate and client CPU per put. With `--strace` (and
strace installed), one more run per front door under `strace -c -f -p`: system calls per
request (`epoll_wait` counts the loop's turns).

The figures: per front door, the median and range over the rounds of `cpu_us` (front door
CPU per request), `rps` and `p50_ms` (redis-benchmark's), and `syscalls_per_request`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from clusterup import connect_when_up
from kv_throughput import run_case  # this directory: run as a script
from redis_bench import free_port, parse_csv, wait_port

import sentinel

REPO = Path(__file__).resolve().parent.parent
WRITE_1_SECONDS = 2.0
STRACE_SETTLE_S = 1.0


def start_door(tree: Path, directory: Path, port: int, log: Path) -> subprocess.Popen:
    """A front door running `tree`'s code on the cluster in `directory`."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    cmd = [sys.executable, "-m", "sentinel.redis", "--dir", str(directory), "--port", str(port)]
    with open(log, "wb") as out:
        return subprocess.Popen(
            cmd, env=env, cwd=tree, stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )  # fmt: skip  (cwd: `-m` puts it before PYTHONPATH)


def bench(port: int, n: int, mode: argparse.Namespace) -> dict[str, float]:
    """`redis-benchmark -c C -P P -t T` against `port`: its rps and p50."""
    argv = ["redis-benchmark", "-p", str(port), "-c", str(mode.c), "-P", str(mode.P), "-t",
            mode.t, "-n", str(n), "-r", "1000", "--csv"]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=True)
    return parse_csv(done.stdout)[mode.t]


def measure(pid: int, port: int, n: int, mode: argparse.Namespace) -> dict[str, float]:
    """One run: the front door's CPU per request, and the run's rate and p50."""
    proc = psutil.Process(pid)
    cpu0 = sum(proc.cpu_times()[:2])
    fig = bench(port, n, mode)
    cpu_us = (sum(proc.cpu_times()[:2]) - cpu0) / n * 1e6
    return {"cpu_us": round(cpu_us, 1), "rps": fig["rps"], "p50_ms": fig["p50_ms"]}


def syscalls(pid: int, port: int, n: int, mode: argparse.Namespace, out: Path) -> dict[str, float]:
    """System calls per request, by `strace -c -f -p` over one run (those made at least n/2
    times)."""
    tracer = subprocess.Popen(["strace", "-c", "-f", "-p", str(pid), "-o", str(out)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    time.sleep(STRACE_SETTLE_S)  # attached (strace has no ready signal)
    try:
        bench(port, n, mode)
    finally:
        tracer.terminate()
        tracer.wait(30)
    counts = {}
    for line in out.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0][:1].isdigit() and parts[-1] != "total":
            calls = int(parts[3])
            if calls >= n / 2:
                counts[parts[-1]] = round(calls / n, 2)
    return counts


def spread(values: list[float]) -> dict[str, float]:
    """Median, min and max."""
    ordered = sorted(values)
    return {"median": ordered[len(ordered) // 2], "min": ordered[0], "max": ordered[-1]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, help="a source tree to compare (e.g. main's)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("-n", type=int, default=3000, help="requests per run")
    parser.add_argument("-t", default="set", choices=["set", "get", "incr"], help="the test")
    parser.add_argument("-c", type=int, default=1, help="redis-benchmark's connections")
    parser.add_argument("-P", type=int, default=1, help="redis-benchmark's pipeline")
    parser.add_argument("--strace", action="store_true", help="count system calls too")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    trees = {"this": REPO} | ({"before": args.before.resolve()} if args.before else {})
    runs: dict[str, list[dict[str, float]]] = {label: [] for label in trees}
    write_1: list[dict[str, float]] = []
    result: dict[str, Any] = {"mode": f"-t {args.t} -c {args.c} -P {args.P}",
                              "load_avg": [round(os.getloadavg()[0], 2)]}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="fdcost-") as tmp:
        directory = Path(tmp) / "c"
        env = dict(os.environ, PYTHONPATH=str(REPO))
        cmd = [sys.executable, "-m", "sentinel.cluster", "up", "--dir", str(directory), "-n",
               "3", "--no-dashboard", "--redis-port", "0"]  # fmt: skip
        with open(Path(tmp) / "up.out", "wb") as out:
            up = subprocess.Popen(cmd, env=env, cwd=REPO, stdin=subprocess.DEVNULL, stdout=out,
                                  stderr=out)  # fmt: skip
        doors: dict[str, tuple[subprocess.Popen, int]] = {}
        try:
            with connect_when_up(sentinel.connect, directory, up) as client:
                client.put("k0", "warm-up", timeout_s=30)  # a leader exists
                for label, tree in trees.items():
                    port = free_port()
                    doors[label] = (start_door(tree, directory, port, Path(tmp) / label), port)
                    wait_port(port, doors[label][0], f"front door {label}")
                for r in range(args.rounds):
                    for label in list(trees)[:: 1 if r % 2 == 0 else -1]:
                        proc, port = doors[label]
                        runs[label].append(measure(proc.pid, port, args.n, args))
                    write_1.append(run_case(client, "put", 1, WRITE_1_SECONDS))
                if args.strace:
                    result["syscalls_per_request"] = {
                        label: syscalls(proc.pid, port, args.n, args, Path(tmp) / label)
                        for label, (proc, port) in doors.items()
                    }
        finally:
            for proc, _port in doors.values():
                proc.terminate()
                proc.wait(30)
            subprocess.run([sys.executable, "-m", "sentinel.cluster", "down", "--dir",
                            str(directory)], capture_output=True, timeout=120)  # fmt: skip
            up.wait(60)
    for label, rows in runs.items():
        result[label] = {key: spread([row[key] for row in rows]) for key in rows[0]}
    result["write_1"] = {
        "ops_per_s": spread([w["ops_per_s"] for w in write_1]),
        "client_cpu_us_per_op": spread([w["client_cpu_us_per_op"] for w in write_1]),
    }
    result["load_avg"].append(round(os.getloadavg()[0], 2))
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for label, figures in result.items():
        print(f"{label:10s} {figures}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
