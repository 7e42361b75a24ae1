"""Sharded store throughput with 1, 2 and 3 shard groups, and the clients' longest wait
while a group joins and while one leaves, on real node processes behind one router.

    python benchmarks/shard_scaling.py            # a table
    python benchmarks/shard_scaling.py --json     # {"groups": {"1": {...}, ...}, "moves": {...}}

Each size starts a fresh router, a three-node shard controller and G shard groups of three
nodes (fsync on), joins the groups and waits until every shard is served. `--clients`
threads (default 16), each with a `ShardClerk` of its own (its own sessions), then make
back-to-back puts of 100-byte values on random keys of `--keys` (spread over every shard)
for `--seconds`, then gets: `write_ops_per_s`, `read_ops_per_s`, with p50 and p99 latency.
On two cores every process shares the same CPUs, so more groups cannot mean more speed
here: `per_group` divides the total by G to show how throughput per group falls.

`moves`: with groups 1 and 2 serving and the clients writing, group 3 joins (a third of
the shards move to it), then, once every shard is served again, it leaves (they move
back). For each: `gap_max_ms`, the longest time any client waited for one operation in the
`--seconds` after the change (a client whose key's shard moves waits for the move),
`settle_ms`, how long until every shard was served again, and the throughput meanwhile.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from sentinel.cluster.shardprocs import (
    GroupProcs,
    start_controller,
    start_forkserver,
    start_shard_group,
)
from sentinel.shard.client import ShardClerk

VALUE = "v" * 100
SETTLE_DEADLINE_S = 60.0


class Load:
    """Client threads making back-to-back puts (or gets) until stopped; per operation its
    latency and when it ended."""

    def __init__(self, procs: GroupProcs, ctl: list[int], clients: int, keys: int, kind: str):
        self.stop = threading.Event()
        self.kind = kind
        self.samples: list[tuple[float, float]] = []  # (end time, latency s)
        self._lock = threading.Lock()
        self._keys = [f"key{i}" for i in range(keys)]
        self._clerks = [procs.shard_clerk(ctl) for _ in range(clients)]
        self._threads = [
            threading.Thread(target=self._run, args=(c, random.Random(i)), daemon=True)
            for i, c in enumerate(self._clerks)
        ]

    def _run(self, clerk: ShardClerk, rng: random.Random) -> None:
        while not self.stop.is_set():
            key = rng.choice(self._keys)
            start = time.monotonic()
            if self.kind == "put":
                clerk.put(key, VALUE)
            else:
                clerk.get(key)
            end = time.monotonic()
            with self._lock:
                self.samples.append((end, end - start))

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(60.0)

    def window(self, start: float, end: float) -> dict[str, float]:
        """Throughput and latency of the operations that ended in [start, end)."""
        with self._lock:
            lat = sorted(s for t, s in self.samples if start <= t < end)
        if not lat:
            return {"ops_per_s": 0.0, "p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
        return {
            "ops_per_s": round(len(lat) / (end - start), 1),
            "p50_ms": round(statistics.median(lat) * 1000, 2),
            "p99_ms": round(lat[int(len(lat) * 0.99) - 1 if len(lat) > 1 else 0] * 1000, 2),
            "max_ms": round(lat[-1] * 1000, 2),
        }


def wait_settled(procs: GroupProcs, num: int) -> None:
    """Until every shard group node has applied configuration `num` with nothing in flight."""
    deadline = time.monotonic() + SETTLE_DEADLINE_S
    while True:
        apps = [st.app for i, st in procs.statuses().items() if i > 99]
        if all(
            a.get("config_num", 0) >= num and not (a.get("pulling", 0) | a.get("gcing", 0))
            for a in apps
        ):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"configuration {num} not settled in {SETTLE_DEADLINE_S} s")
        time.sleep(0.05)


def measure(load: Load, seconds: float) -> dict[str, float]:
    start = time.monotonic()
    time.sleep(seconds)
    return load.window(start, time.monotonic())


def scaling(groups: int, args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="shard-bench-") as tmp:
        procs = GroupProcs(Path(tmp), seed=groups)
        try:
            ctl = start_controller(procs)
            names = {g: start_shard_group(procs, g, ctl) for g in range(1, groups + 1)}
            config = procs.ctl_clerk(ctl).join(names)
            wait_settled(procs, config.num)
            out: dict[str, object] = {}
            for kind in ("put", "get"):
                with Load(procs, ctl, args.clients, args.keys, kind) as load:
                    measure(load, min(1.0, args.seconds))  # warm-up: sessions open
                    figures = measure(load, args.seconds)
                name = "write" if kind == "put" else "read"
                out[name] = figures
                out[f"{name}_per_group_ops_per_s"] = round(figures["ops_per_s"] / groups, 1)
            return out
        finally:
            procs.cleanup()


def moves(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="shard-bench-") as tmp:
        procs = GroupProcs(Path(tmp), seed=7)
        try:
            ctl = start_controller(procs)
            names = {g: start_shard_group(procs, g, ctl) for g in (1, 2, 3)}
            admin = procs.ctl_clerk(ctl)
            wait_settled(procs, admin.join({1: names[1], 2: names[2]}).num)
            out: dict[str, object] = {}
            with Load(procs, ctl, args.clients, args.keys, "put") as load:
                measure(load, min(1.0, args.seconds))
                for what, change in (
                    ("join", lambda: admin.join({3: names[3]})),
                    ("leave", lambda: admin.leave([3])),
                ):
                    start = time.monotonic()
                    num = change().num
                    wait_settled(procs, num)
                    settle_s = time.monotonic() - start
                    time.sleep(max(0.0, args.seconds - settle_s))
                    figures = load.window(start, time.monotonic())
                    out[what] = {
                        "gap_max_ms": figures.pop("max_ms"),
                        "settle_ms": round(settle_s * 1000, 1),
                        **figures,
                    }
            return out
        finally:
            procs.cleanup()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--seconds", type=float, default=5.0, help="each measurement's length")
    ap.add_argument("--clients", type=int, default=16, help="client threads")
    ap.add_argument("--keys", type=int, default=200, help="keys the clients share")
    ap.add_argument("--groups", default="1,2,3", help="the sizes to measure")
    args = ap.parse_args(argv)
    start_forkserver()
    result = {
        "clients": args.clients,
        "seconds": args.seconds,
        "groups": {g: scaling(int(g), args) for g in args.groups.split(",")},
        "moves": moves(args),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"{'groups':>6} {'write/s':>9} {'per group':>9} {'p99 ms':>8} {'read/s':>9} {'p99 ms':>8}"
    )
    for g, r in result["groups"].items():
        w, rd = r["write"], r["read"]  # type: ignore[index]
        print(
            f"{g:>6} {w['ops_per_s']:>9} {r['write_per_group_ops_per_s']:>9} "  # type: ignore[index]
            f"{w['p99_ms']:>8} {rd['ops_per_s']:>9} {rd['p99_ms']:>8}"
        )
    for what, m in result["moves"].items():  # type: ignore[union-attr]
        print(f"{what}: longest client wait {m['gap_max_ms']} ms, settled in {m['settle_ms']} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
