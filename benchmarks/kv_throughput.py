"""Key/value throughput and latency through the router, on real node processes.

    python benchmarks/kv_throughput.py            # a table
    python benchmarks/kv_throughput.py --json     # {"3": {"write_1": {...}, ...}, "5": {...}}

For 3 and 5 nodes (fsync on: the nodes' storage fsyncs every Ready batch), values of 100
bytes, the cases are `write_1` / `read_1` (one client, one operation at a time) and
`write_32` / `read_32` (32 concurrent clients). Clients are threads of this process sharing
one router connection, each with its own clerk (session), through the public
`sentinel.kvraft.client.Client`. Each case runs for `--seconds` after a warm-up and reports
`ops_per_s`, `p50_ms` and `p99_ms`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from sentinel.kvraft.client import Client
from sentinel.netsim.client import connect
from sentinel.netsim.control import RouterHandle
from sentinel.netsim.procs import ProcessGroup
from sentinel.raft.node import NodeSpec, spawn_node

VALUE = "v" * 100
KEYS = 1000
CASES = (("write_1", "put", 1), ("write_32", "put", 32), ("read_1", "get", 1),
         ("read_32", "get", 32))  # fmt: skip


def run_case(client: Client, op: str, threads: int, seconds: float) -> dict[str, float]:
    """`threads` clients doing `op` back to back for `seconds`; throughput and latency."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    stop = threading.Event()
    start = threading.Barrier(threads + 1)

    def worker(me: int) -> None:
        mine = latencies[me]
        n = me
        start.wait()
        while not stop.is_set():
            key = f"k{n % KEYS}"
            n += threads
            t0 = time.perf_counter()
            if op == "put":
                client.put(key, VALUE, timeout_s=30)
            else:
                client.get(key, timeout_s=30)
            mine.append(time.perf_counter() - t0)

    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for t in pool:
        t.start()
    start.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in pool:
        t.join(60)
    took = time.perf_counter() - began
    every = sorted(x for mine in latencies for x in mine)
    return {
        "ops_per_s": round(len(every) / took, 1),
        "p50_ms": round(statistics.median(every) * 1000, 3),
        "p99_ms": round(every[min(len(every) - 1, int(len(every) * 0.99))] * 1000, 3),
    }


def _fill(client: Client, first: int, step: int) -> None:
    for i in range(first, KEYS, step):
        client.put(f"k{i}", VALUE, timeout_s=30)


def bench_cluster(n: int, seconds: float, directory: Path) -> dict[str, dict[str, float]]:
    """Start a router and n kv nodes in `directory`, run every case, stop everything."""
    group = ProcessGroup()
    try:
        router = RouterHandle.start(directory, group, seed=n)
        for i in range(1, n + 1):
            spec = NodeSpec(
                cluster_dir=str(directory), node_id=i, peer_ids=tuple(range(1, n + 1)),
                cluster_id=f"bench-{n}", app="sentinel.kvraft.server:KVServerApp",
                app_options={"maxraftstate": -1}, seed=i, log_level="WARNING",
            )  # fmt: skip
            spawn_node(spec, router, group)
        network = connect(directory)
        client = Client(network, list(range(1, n + 1)), clerks_max=32)
        try:
            client.put("k0", VALUE, timeout_s=30)  # warm-up: a leader exists
            warm = [threading.Thread(target=_fill, args=(client, i, 32)) for i in range(32)]
            for t in warm:  # every key present, 32 sessions registered
                t.start()
            for t in warm:
                t.join()
            return {name: run_case(client, op, threads, seconds)
                    for name, op, threads in CASES}  # fmt: skip
        finally:
            client.close()
            router.shutdown()
    finally:
        group.stop_all()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--seconds", type=float, default=3.0, help="per case (default 3)")
    parser.add_argument("--nodes", default="3,5", help="comma-separated cluster sizes")
    args = parser.parse_args(argv)
    results: dict[str, dict[str, dict[str, float]]] = {}
    for n in (int(x) for x in args.nodes.split(",")):
        with tempfile.TemporaryDirectory(prefix=f"kvbench{n}-") as tmp:
            results[str(n)] = bench_cluster(n, args.seconds, Path(tmp))
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
    else:
        for n, cases in results.items():
            for name, fig in cases.items():
                print(f"{n} nodes {name:9s} {fig['ops_per_s']:9.1f} ops/s  "
                      f"p50 {fig['p50_ms']:7.2f} ms  p99 {fig['p99_ms']:7.2f} ms")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
