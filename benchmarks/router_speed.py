"""How fast is the router compared with a raw multiprocessing pipe?

    python benchmarks/router_speed.py [--json] [--messages N] [--size BYTES]

One-way (pipelined, windowed so nothing overflows): a sender pushes N messages of SIZE
payload bytes to a receiver process that acknowledges every WINDOW messages; raw = one
`Pipe()` between the two processes, router = sender -> router -> receiver (two hops, each
message carrying the 17-byte route header on top of the same payload). Round trip: one
message out, one back, sequentially. Every figure is the median of REPEATS runs, measured in
the same run of this script. Targets: router rate >= 40% of raw; router RTT <= 3x raw.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import tempfile
import time
from multiprocessing.connection import Connection

from sentinel.netsim import protocol as p
from sentinel.netsim.control import RouterHandle
from sentinel.netsim.procs import ProcessGroup

WINDOW = 256
REPEATS = 5


def sink(conn: Connection, ack: bytes, window: int) -> None:
    """Receive forever; send `ack` after every `window` messages; echo when asked (b"E")."""
    count = 0
    recv, send = conn.recv_bytes, conn.send_bytes
    try:
        while True:
            msg = recv()
            if msg[-1:] == b"E":
                send(ack)
                continue
            count += 1
            if count == window:
                count = 0
                send(ack)
    except (EOFError, OSError):
        return


def one_way(conn: Connection, message: bytes, messages: int) -> float:
    """Messages per second from this process to the sink, at most 2 windows unacknowledged."""
    send, recv, poll = conn.send_bytes, conn.recv_bytes, conn.poll
    acked = sent = 0
    start = time.perf_counter()
    while sent < messages:
        for _ in range(WINDOW):
            send(message)
        sent += WINDOW
        while sent - acked * WINDOW > 2 * WINDOW or (poll(0) and recv()):
            if sent - acked * WINDOW > 2 * WINDOW:
                recv()
            acked += 1
    while acked * WINDOW < sent:
        recv()
        acked += 1
    return sent / (time.perf_counter() - start)


def round_trip(conn: Connection, message: bytes, trips: int) -> float:
    """Mean microseconds for one message to the sink and its answer back."""
    send, recv = conn.send_bytes, conn.recv_bytes
    start = time.perf_counter()
    for _ in range(trips):
        send(message)
        recv()
    return (time.perf_counter() - start) / trips * 1e6


def measure(messages: int, size: int, trips: int) -> dict[str, float]:
    payload = b"x" * (size - 1)
    results: dict[str, list[float]] = {}
    with ProcessGroup() as group, tempfile.TemporaryDirectory(prefix="sentinel-bench-") as d:
        ours, theirs = group.context.Pipe(duplex=True)
        group.start("raw-sink", sink, (theirs, b"a", WINDOW))
        theirs.close()
        router = RouterHandle.start(d, group)
        sender = router.add_node(1)
        sink_end = router.add_node(2)
        ack = p.ROUTE.pack(2, 1, 0, p.F_REPLY) + b"a"
        group.start("router-sink", sink, (sink_end, ack, WINDOW))
        sink_end.close()
        routed = p.ROUTE.pack(1, 2, 0, p.F_REQUEST) + payload
        for _ in range(REPEATS):  # interleaved, so both see the same machine load
            results.setdefault("raw_pipe_msgs_per_s", []).append(
                one_way(ours, payload + b".", messages)
            )
            results.setdefault("router_msgs_per_s", []).append(
                one_way(sender, routed + b".", messages)
            )
            results.setdefault("raw_pipe_rtt_us", []).append(
                round_trip(ours, payload + b"E", trips)
            )
            results.setdefault("router_rtt_us", []).append(round_trip(sender, routed + b"E", trips))
        totals = router.report().totals
        router.shutdown()
        ours.close()
        sender.close()
    out = {name: statistics.median(values) for name, values in results.items()}
    out["router_rate_ratio"] = out["router_msgs_per_s"] / out["raw_pipe_msgs_per_s"]
    out["router_rtt_ratio"] = out["router_rtt_us"] / out["raw_pipe_rtt_us"]
    out["message_payload_bytes"] = size
    out["messages_per_run"] = messages
    out["round_trips_per_run"] = trips
    out["router_dropped_or_overflowed"] = totals.dropped_msgs + totals.overflow_msgs
    out["cpus"] = multiprocessing.cpu_count()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--trips", type=int, default=2_000)
    args = parser.parse_args()
    out = measure(args.messages, args.size, args.trips)
    if args.json:
        print(json.dumps(out, sort_keys=True))
    else:
        for name, value in out.items():
            print(f"{name:32} {value:,.2f}")
        rate_met = "met" if out["router_rate_ratio"] >= 0.4 else "NOT met"
        rtt_met = "met" if out["router_rtt_ratio"] <= 3 else "NOT met"
        print(f"target: router rate >= 40% of raw pipe: {rate_met}")
        print(f"target: router round trip <= 3x raw pipe: {rtt_met}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
