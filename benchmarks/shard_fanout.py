"""Latency of the shard-wide commands (DBSIZE, KEYS *) through the Redis front door of a
sharded store, on real node processes behind one router.

    python benchmarks/shard_fanout.py            # a table
    python benchmarks/shard_fanout.py --json     # {"DBSIZE": {...}, "KEYS *": {...}}

Starts a router, a three-node shard controller and `--groups` shard groups of three nodes
(fsync on), joins the groups, marks the directory sharded and starts
`python -m sentinel.redis --dir` on it; redis-py writes `--keys` keys (spread over every
shard), then, for `--rounds` rounds, runs each command `--calls` times back to back on one
connection: p50 and p90 latency per round. Each command asks every one of the 10 shards,
so its latency is that of the fan-out. On a shared machine the rounds differ: the spread
of their p50s is part of the result.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

from sentinel.cluster.shardprocs import (
    GroupProcs,
    start_controller,
    start_forkserver,
    start_shard_group,
)
from sentinel.redis.service import read_status
from sentinel.shard.config import LAYOUT_NAME

START_DEADLINE_S = 30.0
COMMANDS = {"DBSIZE": ("DBSIZE",), "KEYS *": ("KEYS", "*")}


def _front_door(directory: Path, log: Path) -> tuple[subprocess.Popen, redis.Redis]:
    """`python -m sentinel.redis --dir directory` and a redis-py client of it."""
    with log.open("wb") as out:
        argv = [sys.executable, "-m", "sentinel.redis", "--dir", str(directory), "--port", "0"]
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_DEADLINE_S
    while time.monotonic() < deadline:
        status = read_status(directory)
        if status is not None and status.pid == proc.pid:
            host, port = status.address.rsplit(":", 1)
            return proc, redis.Redis(host, int(port), socket_timeout=START_DEADLINE_S)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.terminate()
    proc.wait(START_DEADLINE_S)
    raise RuntimeError(f"the front door did not start: {log.read_text()}")


def _round(client: redis.Redis, args: tuple[str, ...], calls: int) -> dict[str, float]:
    """`calls` back-to-back runs of `args`: p50 and p90 latency in ms."""
    latencies_ms = []
    for _ in range(calls):
        start = time.perf_counter()
        client.execute_command(*args)
        latencies_ms.append((time.perf_counter() - start) * 1000)
    cuts = statistics.quantiles(latencies_ms, n=10)
    return {"p50_ms": round(statistics.median(latencies_ms), 2), "p90_ms": round(cuts[8], 2)}


def run(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="shard-fanout-") as tmp:
        directory = Path(tmp)
        with contextlib.redirect_stdout(sys.stderr):  # its seed line, off the JSON
            procs = GroupProcs(directory, seed=1)
        proc = None
        try:
            ctl = start_controller(procs)
            names = {g: start_shard_group(procs, g, ctl) for g in range(1, args.groups + 1)}
            procs.ctl_clerk(ctl).join(names)
            layout = {"cluster_id": "bench", "groups": args.groups, "nodes": 3}
            (directory / LAYOUT_NAME).write_text(json.dumps(layout))
            proc, client = _front_door(directory, directory / "front-door.out")
            pipe = client.pipeline(transaction=False)
            for i in range(args.keys):
                pipe.set(f"key:{i}", "v")
            pipe.execute()
            assert client.dbsize() == args.keys
            out: dict[str, object] = {"groups": args.groups, "keys": args.keys}
            for name, command in COMMANDS.items():
                _round(client, command, 10)  # warm-up: clerks and threads made
                rounds = [_round(client, command, args.calls) for _ in range(args.rounds)]
                p50s = [r["p50_ms"] for r in rounds]
                out[name] = {"rounds": rounds, "p50_ms_min": min(p50s), "p50_ms_max": max(p50s)}
            client.close()
            return out
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(START_DEADLINE_S)
            procs.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", type=int, default=3)
    parser.add_argument("--keys", type=int, default=1001)
    parser.add_argument("--calls", type=int, default=100, help="calls per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    start_forkserver()
    out = run(args)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    for name in COMMANDS:
        figures = out[name]
        assert isinstance(figures, dict)
        p50s = ", ".join(str(r["p50_ms"]) for r in figures["rounds"])
        p90s = ", ".join(str(r["p90_ms"]) for r in figures["rounds"])
        print(f"{name:8} p50 ms per round: {p50s}   p90 ms: {p90s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
