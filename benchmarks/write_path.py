"""Where one sequential write's time goes: kv_throughput's write_1, segment by segment.

    python benchmarks/write_path.py            # a table
    python benchmarks/write_path.py --json     # {"ops_per_s": ..., "segments": {...}, ...}

A router and `--nodes` kv nodes (3 by default) whose processes host `TracedKVServerApp`:
the kv server, plus time stamps taken where a process reads from the router, writes to
it, and begins and ends an fsync. The benchmark's own client is stamped the same way. The
stamps are CLOCK_MONOTONIC, one clock for every process on the machine.

One client writes 100-byte values, one at a time, for `--seconds` (as write_1 does: each
completion submits the next write). Only one write is in flight, so every stamp between
its submission and its completion is its own, and each write is cut into the segments of
its critical path. The follower on it is the one whose ack completes a majority with the
leader's copy: the first to ack of 3 nodes, the second of 5.

    client_send            the client's call, up to its write to the router
    hop_to_leader          client write -> leader read (router + two process wake-ups)
    leader_request         leader read -> its write of the APPENDs
    hop_to_follower        leader write -> the follower's read
    follower_before_sync   follower read -> its fsync begins
    follower_sync          the follower's fdatasync
    follower_after_sync    fsync done -> its ack written
    hop_to_leader_ack      ack write -> leader read
    leader_ack             leader read -> its reply written
    hop_to_client          leader write -> client read
    client_done            client read -> the completion callback

Each reports its median and mean in microseconds; `path_p50_sum_us` adds the medians up
for comparison with the median latency. Off the path: `leader_sync_us` (the leader's own
fsync, begun after its APPENDs left) and `ack_waits_for_leader_sync_us` (how long an ack
that arrived first waited for it). Writes whose stamps do not form the whole path (an
election, a tick's heartbeat in the way) are counted in `unmatched` and left out.

The stamps cost about a microsecond each, so the figures are a little above write_1's.
The machine's speed drifts within minutes: `python_loop_ns` says which minute.
"""

from __future__ import annotations

import argparse
import bisect
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kv_throughput import OP_TIMEOUT_S, VALUES, python_loop_ns  # this directory

from sentinel.host.fs import OsFileSystem
from sentinel.host.node import NodeSpec, spawn_node
from sentinel.kvraft.client import Client
from sentinel.kvraft.server import KVServerApp
from sentinel.netsim.client import Network, connect
from sentinel.netsim.control import RouterHandle
from sentinel.netsim.endpoint import Endpoint
from sentinel.netsim.procs import ProcessGroup
from sentinel.raft.app import NodeContext

#: Stamps kept per process (~20 MB to send back); past this, new ones are dropped and the
#: run fails. `--seconds` is bounded to stay well under it (~8 stamps a write).
STAMPS_MAX = 1_000_000
SECONDS_MAX = 60.0
SEGMENTS = (
    "client_send", "hop_to_leader", "leader_request", "hop_to_follower",
    "follower_before_sync", "follower_sync", "follower_after_sync", "hop_to_leader_ack",
    "leader_ack", "hop_to_client", "client_done",
)  # fmt: skip
READ, WRITE, SYNC_BEGIN, SYNC_END = "R", "W", "S0", "S1"

_stamps: list[tuple[str, int]] = []
_patched: list[bool] = []  # once per process


def _stamp(kind: str) -> None:
    if len(_stamps) < STAMPS_MAX:
        _stamps.append((kind, time.perf_counter_ns()))


def install_stamps() -> None:
    """Stamp this process's reads and writes at its router connection, and its fsyncs (once
    per process; class-level, so every endpoint and file system in it is stamped)."""
    if _patched:
        return
    _patched.append(True)
    write_corked, read_available, sync = (
        Endpoint._write_corked, Endpoint.read_available, OsFileSystem.sync,
    )  # fmt: skip

    def stamped_write(self: Endpoint) -> None:
        _stamp(WRITE)
        write_corked(self)

    def stamped_read(self: Endpoint) -> list[bytes]:
        _stamp(READ)
        return read_available(self)

    def stamped_sync(self: OsFileSystem, name: str) -> None:
        _stamp(SYNC_BEGIN)
        sync(self, name)
        _stamp(SYNC_END)

    Endpoint._write_corked = stamped_write  # type: ignore[method-assign]
    Endpoint.read_available = stamped_read  # type: ignore[method-assign]
    OsFileSystem.sync = stamped_sync  # type: ignore[method-assign]


class TraceService:
    """ "Trace.Begin" forgets the stamps so far; "Trace.Stamps" returns them."""

    def Begin(self, args: Any = None) -> int:
        _stamps.clear()
        return 0

    def Stamps(self, args: Any = None) -> list[tuple[str, int]]:
        return list(_stamps)


class TracedKVServerApp(KVServerApp):
    """The kv server with stamps (see the module docstring)."""

    def start(self, ctx: NodeContext) -> None:
        install_stamps()
        super().start(ctx)
        ctx.rpc.add_service(TraceService(), "Trace")


def write_chain(client: Client, seconds: float) -> list[tuple[int, int]]:
    """One write at a time for `seconds`, each completion submitting the next; the
    (submitted, completed) stamps of every write."""
    windows: list[tuple[int, int]] = []
    finished = threading.Event()
    errors: list[BaseException] = []
    stop_at = time.perf_counter() + seconds

    def submit(n: int) -> None:
        if time.perf_counter() >= stop_at or errors:
            finished.set()
            return
        key = f"k{n % len(VALUES)}"
        began = time.perf_counter_ns()
        future = client.put_async(key, VALUES[key], timeout_s=OP_TIMEOUT_S)
        future.add_done_callback(lambda f: done(f, began, n))

    def done(future: Any, began: int, n: int) -> None:
        windows.append((began, time.perf_counter_ns()))
        if future.exception() is not None:
            errors.append(future.exception())
        submit(n + 1)

    submit(0)
    if not finished.wait(seconds + OP_TIMEOUT_S):
        raise RuntimeError("the write chain did not finish")
    if errors:
        raise RuntimeError(f"{len(errors)} writes failed; first: {errors[0]!r}")
    return windows


class Timeline:
    """One process's stamps, in time order, searchable by kind after a moment."""

    def __init__(self, stamps: list[tuple[str, int]]) -> None:
        self.stamps = sorted(stamps, key=lambda s: s[1])
        self.times = [s[1] for s in self.stamps]

    def first(self, kind: str, after: int, before: int) -> int | None:
        """The first stamp of `kind` strictly after `after` and before `before`."""
        i = bisect.bisect_right(self.times, after)
        while i < len(self.stamps) and self.stamps[i][1] < before:
            if self.stamps[i][0] == kind:
                return self.stamps[i][1]
            i += 1
        return None


def cut(window: tuple[int, int], client: Timeline, nodes: list[Timeline]) -> dict | None:
    """The segments (ns) of one write, or None when its stamps do not form the path."""
    began, ended = window
    sent = client.first(WRITE, began, ended)
    if sent is None:
        return None
    reads = [(t, node) for node in nodes if (t := node.first(READ, sent, ended)) is not None]
    if not reads:
        return None
    leader_read, leader = min(reads, key=lambda r: r[0])
    appends = leader.first(WRITE, leader_read, ended)
    sync_begin = leader.first(SYNC_BEGIN, leader_read, ended)
    sync_end = leader.first(SYNC_END, leader_read, ended)
    if None in (appends, sync_begin, sync_end):
        return None
    acks = [a for node in nodes if node is not leader and (a := _follower(node, appends, ended))]
    needed = len(nodes) // 2  # the acks that make a majority with the leader's own copy
    if len(acks) < needed:
        return None
    f_read, f_begin, f_end, f_ack = sorted(acks, key=lambda a: a[3])[needed - 1]
    ack_read = leader.first(READ, max(f_ack, sync_begin), ended)
    reply = leader.first(WRITE, ack_read, ended) if ack_read else None
    client_read = client.first(READ, reply, ended + 1) if reply else None
    if client_read is None:
        return None
    marks = (began, sent, leader_read, appends, f_read, f_begin, f_end, f_ack, ack_read, reply,
             client_read, ended)  # fmt: skip
    segments = {name: b - a for name, a, b in zip(SEGMENTS, marks[:-1], marks[1:], strict=True)}
    segments["leader_sync"] = sync_end - sync_begin
    segments["ack_waits_for_leader_sync"] = max(0, sync_end - f_ack)
    segments["latency"] = ended - began
    return segments


def _follower(node: Timeline, appends: int, ended: int) -> tuple[int, int, int, int] | None:
    """(read, fsync begun, fsync done, ack written) of a follower after the leader's APPENDs."""
    read = node.first(READ, appends, ended)
    begin = node.first(SYNC_BEGIN, read, ended) if read else None
    end = node.first(SYNC_END, begin, ended) if begin else None
    ack = node.first(WRITE, end, ended) if end else None
    return (read, begin, end, ack) if ack else None  # type: ignore[return-value]


def summarize(windows: list[tuple[int, int]], client: Timeline, nodes: list[Timeline]) -> dict:
    """Median and mean (us) of every segment over the writes whose path was whole."""
    cuts = [c for w in windows if (c := cut(w, client, nodes)) is not None]
    if not cuts:
        raise RuntimeError("no write's stamps formed a whole path")
    figures = {}
    for name in cuts[0]:
        values = [c[name] / 1000.0 for c in cuts]
        figures[name] = {"p50_us": round(statistics.median(values), 1),
                         "mean_us": round(statistics.mean(values), 1)}  # fmt: skip
    return {
        "writes": len(windows),
        "unmatched": len(windows) - len(cuts),
        "path_p50_sum_us": round(sum(figures[s]["p50_us"] for s in SEGMENTS), 1),
        "segments": figures,
    }


def measure(n: int, seconds: float, directory: Path) -> dict:
    """Start a traced cluster of n nodes in `directory`, run the write chain, cut it up."""
    install_stamps()
    group = ProcessGroup()
    try:
        router = RouterHandle.start(directory, group, seed=n)
        ids = list(range(1, n + 1))
        for i in ids:
            spec = NodeSpec(
                cluster_dir=str(directory), node_id=i, peer_ids=tuple(ids),
                cluster_id=f"path-{n}", app="write_path:TracedKVServerApp",
                app_options={"maxraftstate": -1}, seed=i, log_level="WARNING",
            )  # fmt: skip
            spawn_node(spec, router, group)
        network = connect(directory)
        client = Client(network, ids)
        try:
            write_chain(client, 1.0)  # a leader, a session, warm caches
            loop_ns = python_loop_ns()
            _ask_all(network, ids, "Trace.Begin")
            _stamps.clear()
            began = time.perf_counter()
            windows = write_chain(client, seconds)
            took = time.perf_counter() - began
            every = [list(_stamps), *_ask_all(network, ids, "Trace.Stamps")]
            if any(len(stamps) >= STAMPS_MAX for stamps in every):
                raise RuntimeError(f"a process took {STAMPS_MAX} stamps: run for less time")
            client_timeline, *node_timelines = [Timeline(stamps) for stamps in every]
        finally:
            client.close()
            router.shutdown()
    finally:
        group.stop_all()
    figures = summarize(windows, client_timeline, node_timelines)
    return {"nodes": n, "ops_per_s": round(len(windows) / took, 1), "python_loop_ns": loop_ns,
            **figures}  # fmt: skip


def _ask_all(network: Network, ids: list[int], method: str) -> list[Any]:
    answers = []
    for node_id in ids:
        reply = network.call(node_id, method, None, timeout_s=OP_TIMEOUT_S)
        if reply is None or reply.error:
            raise RuntimeError(f"node {node_id} did not answer {method}: {reply}")
        answers.append(reply.value)
    return answers


def table(fig: dict, say: Callable[[str], None] = print) -> None:
    say(f"{fig['nodes']} nodes: {fig['ops_per_s']} writes/s, {fig['writes']} writes "
        f"({fig['unmatched']} unmatched), python_loop_ns {fig['python_loop_ns']}")  # fmt: skip
    for name, seg in fig["segments"].items():
        say(f"  {name:28s} p50 {seg['p50_us']:8.1f} us   mean {seg['mean_us']:8.1f} us")
    say(f"  {'sum of the path medians':28s}     {fig['path_p50_sum_us']:8.1f} us")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--seconds", type=float, default=5.0, help="of writes (default 5)")
    parser.add_argument("--nodes", type=int, default=3, help="cluster size (default 3)")
    args = parser.parse_args(argv)
    if not 0 < args.seconds <= SECONDS_MAX:
        parser.error(f"--seconds must be in (0, {SECONDS_MAX:g}]")
    if args.nodes < 2:
        parser.error("--nodes must be at least 2: the path goes through a follower")
    with tempfile.TemporaryDirectory(prefix="sentinel-write-path-") as tmp:
        fig = measure(args.nodes, args.seconds, Path(tmp))
    if args.json:
        json.dump(fig, sys.stdout, indent=2)
        print()
    else:
        table(fig)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
