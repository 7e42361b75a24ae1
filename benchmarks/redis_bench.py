"""redis-benchmark against a 3-node Sentinel and, in the same run, against redis-server.

    python benchmarks/redis_bench.py            # a table
    python benchmarks/redis_bench.py --json     # {"sentinel": {"set": {"c1": {...}}}, "redis": ...}

Sentinel: `python -m sentinel.cluster up -n 3 --redis-port <free>` in a temporary directory
(fsync on, the Redis front door a child of the supervisor, reaching the nodes through the
router). The reference: a local `redis-server --appendonly yes --appendfsync always --save ""`
on a free port in a temporary directory, when one is installed (else "redis" is absent).
Both are started and stopped here.

Tests set, get, incr, mset, sadd, spop, hset (redis-benchmark's `-t`; `--tests` picks some;
spop pops the set sadd filled), each in the modes `c1` (`-c 1`), `c50` (`-c 50`) and
`c50_P16` (`-c 50 -P 16`), `-n` requests per run sized per mode so a run takes a few seconds
(`--scale` multiplies them). Figures come from redis-benchmark's `--csv` lines:
`rps`, `p50_ms`, `p99_ms`. An MSET is one request of 10 keys.

In the same run, `kv_throughput.py`'s write_1 (one session, one put at a time through the
Python client, its `run_case`) is measured on the same Sentinel cluster: `"write_1"` in the
output, with `c1_set_vs_write_1`, the `-c 1` SET rate over write_1's. `load_avg` is the
machine's 1-minute load average before and after (the machine has 2 cores, shared).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kv_throughput import run_case  # this directory: run as a script

import sentinel

TESTS = ("set", "get", "incr", "mset", "sadd", "spop", "hset")
#: mode name -> (redis-benchmark flags, requests per run)
MODES = {"c1": (["-c", "1"], 2_000), "c50": (["-c", "50"], 20_000),
         "c50_P16": (["-c", "50", "-P", "16"], 100_000)}  # fmt: skip
#: redis-benchmark's CSV test name -> the `-t` name (a new test adds a row here and in TESTS)
CSV_NAMES = {"SET": "set", "GET": "get", "INCR": "incr", "MSET (10 keys)": "mset",
             "SADD": "sadd", "SPOP": "spop", "HSET": "hset"}  # fmt: skip
READY_TIMEOUT_S = 60.0
RUN_TIMEOUT_S = 300.0
WRITE_1_SECONDS = 3.0


def free_port() -> int:
    """A TCP port nobody listens on just now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, what: str) -> None:
    """Until `port` accepts a connection; RuntimeError if `proc` ends or time runs out."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} ended with status {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {port} within {READY_TIMEOUT_S:g} s")


def parse_csv(text: str) -> dict[str, dict[str, float]]:
    """redis-benchmark `--csv` output -> {test: {rps, p50_ms, p99_ms}}."""
    out = {}
    for row in csv.DictReader(io.StringIO(text)):
        name = CSV_NAMES.get(row.get("test", ""))
        if name is not None:
            out[name] = {"rps": float(row["rps"]), "p50_ms": float(row["p50_latency_ms"]),
                         "p99_ms": float(row["p99_latency_ms"])}  # fmt: skip
    return out


def bench_port(
    port: int, scale: float, tests: tuple[str, ...] = TESTS
) -> dict[str, dict[str, dict[str, float]]]:
    """Every test in every mode against the server on `port`: {test: {mode: figures}}."""
    figures: dict[str, dict[str, dict[str, float]]] = {t: {} for t in tests}
    for mode, (flags, requests) in MODES.items():
        n = max(100, int(requests * scale))
        argv = ["redis-benchmark", "-p", str(port), "-t", ",".join(tests), "-n", str(n),
                "-r", "1000", "--csv", *flags]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()[:500]}")
        for test, fig in parse_csv(done.stdout).items():
            figures[test][mode] = fig
    return figures


def bench_sentinel(
    scale: float, tests: tuple[str, ...] = TESTS
) -> tuple[dict[str, Any], dict[str, float]]:
    """A 3-node cluster with its Redis port: redis-benchmark's figures and write_1's."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="redisbench-") as tmp:
        directory = Path(tmp) / "c"
        cmd = [sys.executable, "-m", "sentinel.cluster", "up", "--dir", str(directory), "-n",
               "3", "--no-dashboard", "--redis-port", str(port)]  # fmt: skip
        with open(Path(tmp) / "up.out", "wb") as out:
            up = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        try:
            wait_port(port, up, "sentinel up")
            with sentinel.connect(directory) as client:
                client.put("k0", "warm-up", timeout_s=30)  # a leader exists
                write_1 = run_case(client, "put", 1, WRITE_1_SECONDS)
            return bench_port(port, scale, tests), write_1
        finally:
            subprocess.run([sys.executable, "-m", "sentinel.cluster", "down", "--dir",
                            str(directory)], capture_output=True, timeout=120)  # fmt: skip
            try:
                up.wait(60)
            except subprocess.TimeoutExpired:
                up.kill()
                up.wait(30)


def bench_redis(scale: float, tests: tuple[str, ...] = TESTS) -> dict[str, Any] | None:
    """The reference redis-server (appendfsync always), or None when it is not installed."""
    server = shutil.which("redis-server")
    if server is None:
        return None
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="redisref-") as tmp:
        argv = [server, "--port", str(port), "--appendonly", "yes", "--appendfsync", "always",
                "--save", "", "--dir", tmp, "--bind", "127.0.0.1"]  # fmt: skip
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(port, proc, "redis-server")
            return bench_port(port, scale, tests)
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply -n (default 1)")
    parser.add_argument("--tests", default=",".join(TESTS), help="comma-separated subset")
    args = parser.parse_args(argv)
    tests = tuple(t for t in args.tests.split(",") if t)
    unknown = set(tests) - set(TESTS)
    if unknown:
        parser.error(f"unknown tests {sorted(unknown)}; known: {', '.join(TESTS)}")
    if shutil.which("redis-benchmark") is None:
        print("redis-benchmark is not installed (Debian: redis-tools)", file=sys.stderr)
        return 1
    load_before = os.getloadavg()[0]
    sentinel_figures, write_1 = bench_sentinel(args.scale, tests)
    results: dict[str, Any] = {"sentinel": sentinel_figures}
    reference = bench_redis(args.scale, tests)
    if reference is not None:
        results["redis"] = reference
    set_c1 = sentinel_figures.get("set", {}).get("c1", {}).get("rps")
    results["write_1"] = {"ops_per_s": write_1["ops_per_s"], "p50_ms": write_1["p50_ms"]}
    results["c1_set_vs_write_1"] = round(set_c1 / write_1["ops_per_s"], 3) if set_c1 else None
    results["load_avg"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
        return 0
    for server in ("sentinel", "redis"):
        for test, modes in results.get(server, {}).items():
            for mode, fig in modes.items():
                print(f"{server:8s} {test:5s} {mode:8s} {fig['rps']:10.0f}/s  "
                      f"p50 {fig['p50_ms']:7.3f} ms  p99 {fig['p99_ms']:7.3f} ms")  # fmt: skip
    print(
        f"write_1 {write_1['ops_per_s']:.0f}/s p50 {write_1['p50_ms']:.3f} ms; "
        f"c1 SET / write_1 = {results['c1_set_vs_write_1']}; load {results['load_avg']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
