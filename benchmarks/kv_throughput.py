"""Key/value throughput and latency through the router, on real node processes.

    python benchmarks/kv_throughput.py            # a table
    python benchmarks/kv_throughput.py --json     # {"3": {"write_1": {...}, ...}, "5": {...}}

For 3 and 5 nodes (fsync on: the nodes' storage fsyncs every Ready batch), values of 100
bytes (distinct per key), all through the public `sentinel.kvraft.client.Client` over one
router connection:

- `write_32` / `read_32`: 32 concurrent clients, each its own session (clerk): one driver
  thread submits 32 `put_async` / `get_async` calls, and each call's completion callback
  (on the client's reader thread) submits that session's next call, so every session keeps
  exactly one operation outstanding and no thread exists per client. Latency is measured
  from submission to completion of each call.
- `write_1` / `read_1`: one client with one operation at a time, driven the same way (one
  session; each completion submits the next call), so the client's thread hand-offs are not
  what is measured.
- `write_1_blocking` / `read_1_blocking` (extra): one thread calling the blocking `put` /
  `get` back to back, which adds a wake-up of the calling thread to every operation: what
  a simple synchronous program sees.

Each size runs `--repeat` times (default 3) on a fresh cluster and each case reports its
median run (`runs`, and the spread `ops_per_s_min` / `ops_per_s_max`): this machine's speed
drifts between runs minutes apart (docs/benchmarks.md, Machine). Each case runs for
`--seconds` after a warm-up (a first write, then all keys written by 32 sessions so every session is
registered) and reports `ops_per_s`, `p50_ms` and `p99_ms`,
plus `client_cpu_us_per_op`: the CPU time (user + system) of this benchmark process per
operation, measured with psutil (on 2 cores, the client's CPU is taken from the nodes), and
`ops_per_batch`: the operations per "KVServer.Batch" request the client coalesced (its
default, see sentinel/kvraft/batching.py; 0 when every call went alone), and
`python_loop_ns`: the machine's speed as the case began (see `python_loop_ns`). Every
operation is still counted on its own, with its own latency from submission to completion.

write_1 also carries `floor_ops_per_s` and `floor_p50_ms` (unless `--no-floor`): the same
hops with nothing but pickles, a relay and fdatasyncs (write_floor.py), measured on the
same cluster size just before it. The machine drifts too much between minutes for a
write_1 figure to be read alone.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import timeit
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

import psutil
from write_floor import measure_floor, median_run  # this directory: run as a script

from sentinel.host.node import NodeSpec, spawn_node
from sentinel.kvraft.client import Client
from sentinel.netsim.client import connect
from sentinel.netsim.control import RouterHandle
from sentinel.netsim.procs import ProcessGroup

VALUE_BYTES = 100
KEYS = 1000
#: A distinct 100-byte value per key, so reads do not all return the very same bytes.
VALUES = {f"k{i}": f"k{i}=".ljust(VALUE_BYTES, "v") for i in range(KEYS)}
SESSIONS = 32
OP_TIMEOUT_S = 30.0
#: (name, operation, sessions, blocking calls from one thread instead of chained async calls)
CASES = (("write_1", "put", 1, False), ("write_32", "put", SESSIONS, False),
         ("read_1", "get", 1, False), ("read_32", "get", SESSIONS, False),
         ("write_1_blocking", "put", 1, True), ("read_1_blocking", "get", 1, True))  # fmt: skip


def _submit(client: Client, op: str, key: str) -> Future:
    if op == "put":
        return client.put_async(key, VALUES[key], timeout_s=OP_TIMEOUT_S)
    return client.get_async(key, timeout_s=OP_TIMEOUT_S)


def drive(client: Client, op: str, sessions: int, more: Callable[[int], str | None]) -> list[float]:
    """`sessions` chains of async calls, each with one call outstanding: a call's completion
    submits its session's next one, with key `more(n)` (n counts the session's calls;
    None ends the chain). The latency of every call, in seconds."""
    latencies: list[float] = []
    errors: list[BaseException] = []
    live = [sessions]
    lock = threading.Lock()
    finished = threading.Event()

    def start(session: int, n: int) -> None:
        key = more(n * sessions + session)
        if key is None or errors:
            with lock:
                live[0] -= 1
                if live[0] == 0:
                    finished.set()
            return
        t0 = time.perf_counter()
        future = _submit(client, op, key)
        future.add_done_callback(lambda f: done(f, t0, session, n))

    def done(future: Future, t0: float, session: int, n: int) -> None:
        latencies.append(time.perf_counter() - t0)
        if future.exception() is not None:
            errors.append(future.exception())  # type: ignore[arg-type]
        start(session, n + 1)

    for session in range(sessions):
        start(session, 0)
    if not finished.wait(OP_TIMEOUT_S * 4):
        raise RuntimeError("the async chains did not finish")
    if errors:
        raise RuntimeError(f"{len(errors)} calls failed; first: {errors[0]!r}")
    return latencies


def run_case(
    client: Client, op: str, sessions: int, seconds: float, blocking: bool = False
) -> dict[str, float]:
    """`sessions` clients doing `op` back to back for `seconds`; throughput and latency.
    `blocking`: one thread making blocking calls (sessions must be 1)."""
    loop_ns = python_loop_ns()
    me = psutil.Process()
    cpu0 = sum(me.cpu_times()[:2])
    batches0, members0 = _coalesced(client)
    began = time.perf_counter()
    stop_at = began + seconds
    if blocking:
        assert sessions == 1, "blocking calls come from one thread"
        every = []
        n = 0
        while time.perf_counter() < stop_at:
            key = f"k{n % KEYS}"
            n += 1
            t0 = time.perf_counter()
            if op == "put":
                client.put(key, VALUES[key], timeout_s=OP_TIMEOUT_S)
            else:
                client.get(key, timeout_s=OP_TIMEOUT_S)
            every.append(time.perf_counter() - t0)
    else:

        def key_until_stop(n: int) -> str | None:
            return f"k{n % KEYS}" if time.perf_counter() < stop_at else None

        every = drive(client, op, sessions, key_until_stop)
    took = time.perf_counter() - began
    cpu = sum(me.cpu_times()[:2]) - cpu0
    batches1, members1 = _coalesced(client)
    batches, members = batches1 - batches0, members1 - members0
    every.sort()
    return {
        "ops_per_s": round(len(every) / took, 1),
        "p50_ms": round(statistics.median(every) * 1000, 3),
        "p99_ms": round(every[min(len(every) - 1, int(len(every) * 0.99))] * 1000, 3),
        "client_cpu_us_per_op": round(cpu / len(every) * 1e6, 1),
        "ops_per_batch": round(members / batches, 1) if batches else 0.0,
        "python_loop_ns": loop_ns,
    }


def python_loop_ns() -> float:
    """This machine's speed just now: the best time of `sum(range(100))`, in ns. The
    machine's speed drifts within minutes (docs/benchmarks.md gives the readings), and
    figures taken at different speeds are not comparable."""
    best_s = min(timeit.repeat("sum(range(100))", number=2000, repeat=5))
    return round(best_s / 2000 * 1e9, 1)


def _coalesced(client: Client) -> tuple[int, int]:
    """(batch requests, operations in them) the client has sent so far."""
    coalescer = client.coalescer
    return (coalescer.batches_sent, coalescer.members_sent) if coalescer else (0, 0)


def bench_cluster(
    n: int, seconds: float, directory: Path, floor: bool = True
) -> dict[str, dict[str, float]]:
    """Start a router and n kv nodes in `directory`, run every case, stop everything.
    `floor`: measure write_floor.py's floor just before write_1 and add it to its figures."""
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
        client = Client(network, list(range(1, n + 1)), clerks_max=SESSIONS)
        try:
            client.put("k0", VALUES["k0"], timeout_s=OP_TIMEOUT_S)  # warm-up: a leader exists
            # every key present, SESSIONS sessions registered
            drive(client, "put", SESSIONS, lambda i: f"k{i}" if i < KEYS else None)
            figures = {}
            for name, op, sessions, blocking in CASES:
                floor_figures = measure_floor(n, seconds) if floor and name == "write_1" else None
                figures[name] = run_case(client, op, sessions, seconds, blocking)
                if floor_figures is not None:
                    figures[name]["floor_ops_per_s"] = floor_figures["ops_per_s"]
                    figures[name]["floor_p50_ms"] = floor_figures["p50_ms"]
            return figures
        finally:
            client.close()
            router.shutdown()
    finally:
        group.stop_all()


def _floor_text(fig: dict[str, float]) -> str:
    if "floor_ops_per_s" not in fig:
        return ""
    return f"  floor {fig['floor_ops_per_s']:.0f}/s at p50 {fig['floor_p50_ms']:.2f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--seconds", type=float, default=3.0, help="per case (default 3)")
    parser.add_argument("--nodes", default="3,5", help="comma-separated cluster sizes")
    parser.add_argument(
        "--no-floor", action="store_true", help="skip the floor measured before each write_1"
    )
    parser.add_argument(
        "--repeat", type=int, default=3,
        help="fresh clusters per size; each case reports its median run (default 3)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    results: dict[str, dict[str, dict[str, float]]] = {}
    for n in (int(x) for x in args.nodes.split(",")):
        runs = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory(prefix=f"kvbench{n}-") as tmp:
                runs.append(bench_cluster(n, args.seconds, Path(tmp), not args.no_floor))
        results[str(n)] = {name: median_run([run[name] for run in runs]) for name in runs[0]}
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
    else:
        for n, cases in results.items():
            for name, fig in cases.items():
                print(f"{n} nodes {name:16s} {fig['ops_per_s']:8.1f} ops/s "
                      f"({fig['ops_per_s_min']:.0f}-{fig['ops_per_s_max']:.0f})  "
                      f"p50 {fig['p50_ms']:6.2f} ms  p99 {fig['p99_ms']:6.2f} ms  "
                      f"client {fig['client_cpu_us_per_op']:6.1f} us/op  "
                      f"loop {fig['python_loop_ns']:.0f} ns" + _floor_text(fig))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
