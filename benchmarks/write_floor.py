"""The floor of one sequential replicated write on this machine: its hops and nothing else.

    python benchmarks/write_floor.py            # a table
    python benchmarks/write_floor.py --json     # {"3": {"ops_per_s": ..., ...}, "5": {...}}

One client writes 100-byte values one at a time through the same processes and hops as
`kv_throughput.py`'s write_1: client -> relay -> leader -> relay -> every follower (append
to a preallocated file, fdatasync, ack) -> relay -> leader (which appended and fdatasynced
its own copy meanwhile, and answers once a majority holds the entry) -> relay -> client.
Messages are pickled and length-prefixed on socket pairs, like Sentinel's, and the relay
is one process that forwards by a destination byte, like the router.

Left out is everything that makes Sentinel what it is: Raft's state, terms and checks, the
key/value service and its sessions, the wire checksums and the restricted unpickler, the
router's fault policy, bounds and counters, ticks, status posts and the dashboard. So the
figure is what any implementation of these hops in Python can reach here, not a target.

The machine's speed drifts within minutes (docs/benchmarks.md), so a write_1 figure means
little without the floor measured in the same minute: `kv_throughput.py` measures it next to each
write_1 (`floor_ops_per_s`, `floor_p50_ms`) with `measure_floor` below.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import select
import statistics
import struct
import sys
import tempfile
import time
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from pathlib import Path

from sentinel.netsim.procs import ProcessGroup

VALUE_BYTES = 100
KEYS = 1000
WARMUP_OPS = 100
LOG_BYTES = 64 * 1024 * 1024  # preallocated, as Sentinel's log is ahead of its appends
READ_BYTES = 256 * 1024
LENGTH = struct.Struct(">I")  # multiprocessing.Connection's own prefix
CLIENT = 0  # endpoint numbers: 0 the client, 1 the leader, 2.. the followers
LEADER = 1
REPLY_TIMEOUT_S = 10.0


def _frames(buffer: bytearray) -> list[bytes]:
    """Take every whole length-prefixed message off the front of `buffer`."""
    out = []
    while len(buffer) >= 4:
        (size,) = LENGTH.unpack_from(buffer)
        if len(buffer) < 4 + size:
            break
        out.append(bytes(buffer[4 : 4 + size]))
        del buffer[: 4 + size]
    return out


def _framed(peer: int, obj: object) -> bytes:
    body = bytes((peer,)) + pickle.dumps(obj, protocol=5)
    return LENGTH.pack(len(body)) + body


def _messages(fd: int):
    """(peer, object) for every message that arrives on `fd`, until end of file."""
    buffer = bytearray()
    while True:
        data = os.read(fd, READ_BYTES)
        if not data:
            return
        buffer += data
        for frame in _frames(buffer):
            yield frame[0], pickle.loads(frame[1:])


def relay(conns: list[Connection]) -> None:
    """Forward each message to the endpoint its first byte names, rewritten to the sender."""
    poller = select.poll()
    fds = [c.fileno() for c in conns]
    buffers = {fd: bytearray() for fd in fds}
    for fd in fds:
        poller.register(fd, select.POLLIN)
    while True:
        for fd, _event in poller.poll():
            data = os.read(fd, READ_BYTES)
            if not data:
                return
            buffers[fd] += data
            src = fds.index(fd)
            out: dict[int, list[bytes]] = {}
            for frame in _frames(buffers[fd]):
                routed = LENGTH.pack(len(frame)) + bytes((src,)) + frame[1:]
                out.setdefault(frame[0], []).append(routed)
            for dst, parts in out.items():
                os.writev(fds[dst], parts)


def _open_log(path: str) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    os.posix_fallocate(fd, 0, LOG_BYTES)
    os.fsync(fd)
    return fd


def follower(conn: Connection, path: str) -> None:
    """Append each entry, fdatasync, ack."""
    fd, log_fd, offset = conn.fileno(), _open_log(path), 0
    for src, msg in _messages(fd):
        data = pickle.dumps(msg["entries"], protocol=5)
        os.pwrite(log_fd, data, offset)
        offset += len(data)
        os.fdatasync(log_fd)
        os.write(fd, _framed(src, {"ack": msg["index"]}))


def leader(conn: Connection, path: str, followers: int) -> None:
    """Send each write to every follower, then append and fdatasync it here; answer the
    client once a majority (this copy counted once synced) holds it."""
    fd, log_fd, offset = conn.fileno(), _open_log(path), 0
    majority = (followers + 1) // 2 + 1
    index, copies, waiting = 0, 0, None  # copies: synced copies of entry `index`
    for src, msg in _messages(fd):
        if "put" in msg:
            index += 1
            entries = [(index, 1, msg["put"], msg["value"])]
            append = {"index": index, "entries": entries}
            os.write(fd, b"".join(_framed(f, append) for f in range(2, 2 + followers)))
            data = pickle.dumps(entries, protocol=5)
            os.pwrite(log_fd, data, offset)
            offset += len(data)
            os.fdatasync(log_fd)
            waiting, copies = (src, msg["id"]), 1  # this copy, synced
        elif msg["ack"] == index:
            copies += 1
        if waiting is not None and copies >= majority:
            os.write(fd, _framed(waiting[0], {"ok": waiting[1]}))
            waiting = None


def _client_loop(conn: Connection, seconds: float) -> tuple[list[float], float]:
    """Sequential writes for `seconds` after a warm-up: each write's latency, and the
    seconds they took together, wall clock."""
    fd = conn.fileno()
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    buffer = bytearray()
    value = "v" * VALUE_BYTES
    latencies: list[float] = []
    n = 0
    stop_at = None
    while stop_at is None or time.perf_counter() < stop_at:
        if n == WARMUP_OPS:
            began_at = time.perf_counter()
            stop_at = began_at + seconds
        n += 1
        began = time.perf_counter()
        os.write(fd, _framed(LEADER, {"put": f"k{n % KEYS}", "value": value, "id": n}))
        answered = False
        while not answered:
            if not poller.poll(REPLY_TIMEOUT_S * 1000):
                raise TimeoutError(f"write {n} not answered in {REPLY_TIMEOUT_S} s")
            data = os.read(fd, READ_BYTES)
            if not data:
                raise EOFError("the relay closed the connection")
            buffer += data
            answered = any(pickle.loads(f[1:])["ok"] == n for f in _frames(buffer))
        if n > WARMUP_OPS:
            latencies.append(time.perf_counter() - began)
    return latencies, time.perf_counter() - began_at


def measure_floor(nodes: int, seconds: float) -> dict[str, float]:
    """One run of the floor with `nodes` processes (a leader and nodes - 1 followers):
    ops_per_s, p50_ms, p99_ms. Every process it starts is stopped before it returns."""
    if nodes < 2:
        raise ValueError("the floor needs a leader and at least one follower")
    with tempfile.TemporaryDirectory(prefix="floor-") as tmp, ProcessGroup() as group:
        pairs = [Pipe() for _ in range(nodes + 1)]  # endpoint i <-> the relay
        group.start("relay", relay, ([theirs for theirs, _ours in pairs],))
        group.start("leader", leader, (pairs[LEADER][1], str(Path(tmp, "log1")), nodes - 1))
        for i in range(2, nodes + 1):
            group.start(f"follower{i}", follower, (pairs[i][1], str(Path(tmp, f"log{i}"))))
        for theirs, ours in pairs[1:]:
            theirs.close()
            ours.close()  # the children hold their own copies now
        pairs[0][0].close()
        latencies, took = _client_loop(pairs[CLIENT][1], seconds)
        pairs[CLIENT][1].close()
    latencies.sort()
    return {
        "ops_per_s": round(len(latencies) / took, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 3),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 3),
    }


def median_run(figures: list[dict[str, float]]) -> dict[str, float]:
    """The run with the median throughput, whole (its own latencies), plus `runs` and the
    spread of throughput over all runs: this machine's speed drifts between runs."""
    ranked = sorted(figures, key=lambda f: f["ops_per_s"])
    chosen = dict(ranked[(len(ranked) - 1) // 2])
    chosen["runs"] = len(ranked)
    chosen["ops_per_s_min"] = ranked[0]["ops_per_s"]
    chosen["ops_per_s_max"] = ranked[-1]["ops_per_s"]
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--seconds", type=float, default=3.0, help="per run (default 3)")
    parser.add_argument("--nodes", default="3,5", help="comma-separated cluster sizes")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; the median is kept")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    results = {}
    for n in (int(x) for x in args.nodes.split(",")):
        results[str(n)] = median_run([measure_floor(n, args.seconds) for _ in range(args.repeat)])
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
    else:
        for n, fig in results.items():
            print(f"{n} nodes floor {fig['ops_per_s']:8.1f} ops/s "
                  f"({fig['ops_per_s_min']:.0f}-{fig['ops_per_s_max']:.0f})  "
                  f"p50 {fig['p50_ms']:6.2f} ms  p99 {fig['p99_ms']:6.2f} ms")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
