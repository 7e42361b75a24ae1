"""Big frames (a snapshot) leave an endpoint uncopied, in order with the small ones around
them, corked or not, however the kernel splits the writes."""

from __future__ import annotations

import multiprocessing
import threading

from sentinel.netsim import protocol as p
from sentinel.netsim.endpoint import BIG_FRAME_BYTES, CORK_BYTES_MAX, Endpoint


def _collect(conn, count: int, out: list[bytes]) -> threading.Thread:
    """Read `count` messages from `conn` in a thread (a big write blocks until read)."""

    def run() -> None:
        for _ in range(count):
            out.append(conn.recv_bytes())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _frames() -> list[bytes]:
    big = BIG_FRAME_BYTES
    return [b"a", bytes(range(256)) * (4 * big // 256), b"bc", b"d" * big, b"e" * (big - 40)]


def _route(frame: bytes) -> bytes:
    return p.ROUTE.pack(1, 2, 0, p.F_REQUEST) + frame


def test_corked_big_frames_arrive_whole_and_in_order() -> None:
    ours, theirs = multiprocessing.Pipe(duplex=True)
    endpoint = Endpoint(ours, 1)
    frames = _frames()
    over_bound = [b"f", b"g" * (CORK_BYTES_MAX + 1), b"h"]  # written before the flush
    got: list[bytes] = []
    reader = _collect(theirs, len(frames) + len(over_bound), got)
    endpoint.cork()
    for frame in frames + over_bound:
        endpoint.send_frame(2, frame, p.F_REQUEST)
    endpoint.flush()
    reader.join(timeout=30)
    assert not reader.is_alive()
    assert got == [_route(f) for f in frames + over_bound]


def test_uncorked_big_frames_arrive_whole_and_in_order() -> None:
    ours, theirs = multiprocessing.Pipe(duplex=True)
    endpoint = Endpoint(ours, 1)
    frames = _frames()
    got: list[bytes] = []
    reader = _collect(theirs, len(frames), got)
    for frame in frames:
        endpoint.send_frame(2, frame, p.F_REQUEST)
    reader.join(timeout=30)
    assert not reader.is_alive()
    assert got == [_route(f) for f in frames]
