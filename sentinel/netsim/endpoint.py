"""The per-process side of the network: one connection to the router, loop-driven.

A node process runs a single loop: `multiprocessing.connection.wait([endpoint, ...], timeout)`
(or simply `endpoint.poll(timeout_s)`) until the next tick deadline, then handles what
arrived. Everything that arrives is one of four frozen `Incoming` records:

* `Message(src, obj, is_reply)`: a one-way message (raft traffic: requests and replies are
  flagged so the fault policy treats them as 6.824 requests and replies);
* `Request(src, request_id, obj)`: an RPC request; answer with `.respond(reply)`, now or
  later (a deferred reply: the kv server answers when the command is applied);
* `Reply(src, request_id, obj)`: the answer to a `request()` this endpoint made;
* `Failure(src, request_id)`: the router says that request (or its reply) was lost, or that
  `src` was unreachable, so the caller need not wait for its timeout.

Payloads are `sentinel.wire` frames decoded with the restricted unpickler; a bad frame is
counted in `bad_frames`, logged (the first of a burst in full, then a count at most once a
second: a flood of garbage must not flood the log, see logthrottle.py), reported to the
router when a client sent it (the router cuts off a client that nodes refuse too often: its
junk flood would cost the router and the node CPU that raft needs), and skipped: it never
stops the receiver.

A single-threaded loop (a node) may go faster on both sides: `read_available()` takes every
whole message the kernel holds in one read (`Connection.recv_bytes` costs two system calls
per message), and `cork()` holds outgoing messages until `flush()` writes them with one
system call, so a loop turn's replies and raft messages cost the router one wake-up. The byte
format is the Connection's either way (a 4-byte big-endian length, then the message).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Container
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from sentinel.netsim import protocol as p
from sentinel.netsim.framing import LENGTH, SENDER, ProtocolError, Splitter
from sentinel.netsim.logthrottle import LogThrottle
from sentinel.wire import WireError, decode, encode

log = logging.getLogger(__name__)

POLL_BATCH_MAX = 1024
#: Bytes taken from the kernel per `read_available` call.
READ_BYTES = 256 * 1024
#: Corked output past this many bytes is written at once (bounds the buffer).
CORK_BYTES_MAX = 1024 * 1024
#: A frame this big is written where it lies, not copied into a joined buffer.
BIG_FRAME_BYTES = 64 * 1024
#: Buffers per `os.writev` call (Linux's UIO_MAXIOV).
IOV_MAX = 1024
#: Refused client frames reported to the router per second, at most (the router needs a few
#: dozen to cut a client off; a flood must not make the reports a flood of their own).
REFUSALS_REPORTED_PER_S = 256


@dataclass(frozen=True, slots=True)
class Message:
    """A one-way message from `src`."""

    src: int
    obj: Any
    is_reply: bool


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer from `src` to this endpoint's request `request_id`."""

    src: int
    request_id: int
    obj: Any


@dataclass(frozen=True, slots=True)
class Failure:
    """This endpoint's request `request_id` to `src` failed (lost or unreachable)."""

    src: int
    request_id: int


@dataclass(frozen=True, slots=True)
class Request:
    """An RPC request from `src`; call `respond(reply)` exactly once, now or later."""

    src: int
    request_id: int
    obj: Any
    endpoint: Endpoint

    def respond(self, reply: Any) -> None:
        """Send the reply (flagged REPLY, so the fault policy may drop or delay it)."""
        self.endpoint.respond(self.src, self.request_id, reply)


Incoming = Message | Request | Reply | Failure


class Endpoint:
    """One endpoint's connection to the router. `send*` methods are thread-safe. When the
    router is gone, `poll` raises EOFError and `send*` raise OSError: a node should exit."""

    def __init__(self, conn: Connection, endpoint_id: int) -> None:
        assert endpoint_id > 0, "endpoint 0 is the router"
        self.endpoint_id = endpoint_id
        self.connection = conn
        self.bad_frames = 0
        #: How bad frames are logged; call its `flush()` now and then (a node: every tick).
        self.bad_frame_log = LogThrottle(log, "bad frames")
        self._send_lock = threading.Lock()
        self._next_request_id = 0
        self._corked: list[bytes] | None = None  # length-prefixed messages awaiting flush
        self._corked_bytes = 0
        self._corked_big = False  # a frame of BIG_FRAME_BYTES or more is among them
        self._splitter = Splitter(p.MSG_BYTES_MAX, keep_prefix=False)  # for read_available
        self._read_buffer = bytearray(READ_BYTES)
        self._reports_began = 0.0  # the current second of refusal reports, and their count
        self._reports = 0

    @classmethod
    def after_hello(cls, conn: Connection, timeout_s: float) -> Endpoint:
        """An endpoint for a client connection: wait for the router's HELLO to learn the id."""
        if not conn.poll(timeout_s):
            raise TimeoutError(f"router sent no hello within {timeout_s} s")
        msg = conn.recv_bytes(p.MSG_BYTES_MAX)
        _src, dst, _rid, flags = p.ROUTE.unpack_from(msg)
        if not flags & p.F_HELLO:
            raise ConnectionError("router did not greet this client with its id")
        return cls(conn, dst)

    def fileno(self) -> int:
        """The connection's fd, so an Endpoint works with `multiprocessing.connection.wait`."""
        return self.connection.fileno()

    # -- sending -----------------------------------------------------------------------------

    def send_frame(self, dst: int, frame: bytes, flags: int, request_id: int = 0) -> None:
        """Send an already-encoded payload (low level: no encoding, no checks on `frame`)."""
        header = p.ROUTE.pack(self.endpoint_id, dst, request_id, flags)
        size = len(header) + len(frame)
        with self._send_lock:
            corked = self._corked
            if corked is None:
                if size < BIG_FRAME_BYTES:
                    self.connection.send_bytes(header + frame)
                else:
                    self._write_all([LENGTH.pack(size) + header, frame])
                return
            if size < BIG_FRAME_BYTES:
                corked.append(LENGTH.pack(size) + header + frame)
            else:  # written from where it lies: copying a snapshot costs ~1 ms a MiB
                corked.append(LENGTH.pack(size) + header)
                corked.append(frame)
                self._corked_big = True
            self._corked_bytes += size
            if self._corked_bytes >= CORK_BYTES_MAX:
                self._write_corked()

    def cork(self) -> None:
        """Hold every message sent from now on until `flush()` (or until CORK_BYTES_MAX
        bytes are held). For one loop thread that flushes before it waits: a message
        held across a wait would be late by the whole wait."""
        with self._send_lock:
            if self._corked is None:
                self._corked, self._corked_bytes = [], 0

    def flush(self) -> None:
        """Write every held message, in order, with one system call (when corked)."""
        with self._send_lock:
            if self._corked:
                self._write_corked()

    def _write_corked(self) -> None:
        """Write out the corked messages (the send lock is held)."""
        assert self._corked is not None
        pieces, self._corked, self._corked_bytes = self._corked, [], 0
        if self._corked_big:
            self._corked_big = False
            self._write_all(pieces)
            return
        data = memoryview(b"".join(pieces))
        fd = self.connection.fileno()
        while data:  # a blocking descriptor: a short write only after a signal
            data = data[os.write(fd, data) :]

    def _write_all(self, pieces: list[bytes]) -> None:
        """Write `pieces` in order: small ones joined, big frames as they lie (one `writev`
        for them all, repeated after a short write: the buffer fills while the router reads
        a big frame). The send lock is held."""
        bufs: list[memoryview] = []
        small: list[bytes] = []
        for piece in pieces:
            if len(piece) < BIG_FRAME_BYTES:
                small.append(piece)
                continue
            if small:
                bufs.append(memoryview(b"".join(small)))
                small = []
            bufs.append(memoryview(piece))
        if small:
            bufs.append(memoryview(b"".join(small)))
        fd = self.connection.fileno()
        first = 0
        while first < len(bufs):  # a blocking descriptor: a short write when the buffer fills
            written = os.writev(fd, bufs[first : first + IOV_MAX])
            while written:
                head = bufs[first]
                if written < len(head):
                    bufs[first] = head[written:]
                    break
                written -= len(head)
                first += 1

    def send(self, dst: int, obj: Any, reply: bool = False) -> None:
        """Send a one-way message; `reply` flags it as a reply for the fault policy."""
        self.send_frame(dst, encode(obj), p.F_REPLY if reply else p.F_REQUEST)

    def new_request_id(self) -> int:
        """A request id never used before by this endpoint."""
        with self._send_lock:
            self._next_request_id += 1
            return self._next_request_id

    def request(self, dst: int, obj: Any) -> int:
        """Send an RPC request; its Reply or Failure will arrive with the returned id."""
        request_id = self.new_request_id()
        self.send_frame(dst, encode(obj), p.F_REQUEST, request_id)
        return request_id

    def respond(self, dst: int, request_id: int, obj: Any) -> None:
        """Answer request `request_id` from `dst`."""
        assert request_id > 0, "a reply needs the request's id"
        self.send_frame(dst, encode(obj), p.F_REPLY, request_id)

    def post_status(self, blob: bytes) -> None:
        """Store `blob` at the router as this endpoint's latest status (it is never decoded
        by the router; the supervisor reads it back)."""
        self.send_frame(p.ROUTER_ID, bytes(blob), p.F_STATUS)

    # -- receiving ---------------------------------------------------------------------------

    def poll(self, timeout_s: float | None = 0.0) -> list[Incoming]:
        """Wait up to `timeout_s` (None: forever) for traffic; return everything that is
        ready, up to POLL_BATCH_MAX items. Raises EOFError when the router is gone."""
        conn = self.connection
        if not conn.poll(timeout_s):
            return []
        out: list[Incoming] = []
        for _ in range(POLL_BATCH_MAX):
            item = self.parse(conn.recv_bytes(p.MSG_BYTES_MAX))
            if item is not None:
                out.append(item)
            if not conn.poll(0):
                break
        return out

    @property
    def shed_msgs(self) -> int:
        """Messages `read_available(drop)` left out."""
        return self._splitter.shed

    def read_available(self, drop: Container[int] = ()) -> list[bytes]:
        """Every whole message that can be read now, in order, without waiting (call it when
        the connection polls readable; a message only partly arrived waits for the next
        call), less those from the senders in `drop` (left out unread, counted in
        `shed_msgs`). Raises EOFError when the router is gone. Do not mix with
        `poll`/`recv_bytes` on the same connection: bytes read here are not seen there."""
        buffer = self._read_buffer
        try:  # into a buffer kept for the purpose: a fresh 256 KiB bytes per read costs an
            count = os.readv(self.connection.fileno(), (buffer,))  # mmap and munmap each
        except (BlockingIOError, InterruptedError):
            return []
        except OSError as exc:
            raise EOFError(f"router connection failed: {exc}") from exc
        if not count:
            raise EOFError("router connection closed")
        try:
            return self._splitter.feed(memoryview(buffer)[:count], drop)
        except ProtocolError as exc:
            raise EOFError(f"router broke the framing: {exc}") from None

    def parse(self, msg: bytes) -> Incoming | None:
        """Turn one message from the router into an Incoming; None for bad or HELLO frames."""
        if len(msg) < p.ROUTE_BYTES:
            self.bad_frames += 1
            self.bad_frame_log.event(
                "endpoint %d: a %d-byte message has no route header", self.endpoint_id, len(msg)
            )
            return None
        src, _dst, request_id, flags = p.ROUTE.unpack_from(msg)
        if flags & p.F_FAILED:
            return Failure(src, request_id)
        if flags & p.F_HELLO:
            return None
        try:
            obj = decode(memoryview(msg)[p.ROUTE_BYTES :])
        except WireError as exc:
            self.bad_frames += 1
            self.bad_frame_log.event(
                "endpoint %d: bad frame from %d refused: %s", self.endpoint_id, src, exc
            )
            if src >= p.CLIENT_ID_FIRST:  # the router cuts off a client refused too often
                self._report_refused(src)
            return None
        if request_id == 0:
            return Message(src, obj, bool(flags & p.F_REPLY))
        if flags & p.F_REPLY:
            return Reply(src, request_id, obj)
        return Request(src, request_id, obj, self)

    def _report_refused(self, client: int) -> None:
        """Tell the router that a frame from `client` was refused (REFUSALS_REPORTED_PER_S)."""
        now = time.monotonic()
        if now - self._reports_began >= 1.0:
            self._reports_began, self._reports = now, 0
        if self._reports < REFUSALS_REPORTED_PER_S:
            self._reports += 1
            with contextlib.suppress(OSError):  # (router gone: the next read says so)
                self.send_frame(p.ROUTER_ID, SENDER.pack(client), p.F_REFUSED)

    def close(self) -> None:
        """Close the connection (the router sees end of file)."""
        self.connection.close()
