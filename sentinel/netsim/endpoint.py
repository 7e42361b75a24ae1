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
counted in `bad_frames`, logged, and skipped: it never stops the receiver.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from sentinel.netsim import protocol as p
from sentinel.wire import WireError, decode, encode

log = logging.getLogger(__name__)

POLL_BATCH_MAX = 1024


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
        self._send_lock = threading.Lock()
        self._next_request_id = 0

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
        with self._send_lock:
            self.connection.send_bytes(header + frame)

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

    def query_router(self) -> int:
        """Ask the router for a RouterReport; it arrives as a Reply from endpoint 0."""
        request_id = self.new_request_id()
        self.send_frame(p.ROUTER_ID, b"", p.F_QUERY, request_id)
        return request_id

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

    def parse(self, msg: bytes) -> Incoming | None:
        """Turn one message from the router into an Incoming; None for bad or HELLO frames."""
        if len(msg) < p.ROUTE_BYTES:
            self.bad_frames += 1
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
            log.warning("endpoint %d: bad frame from %d refused: %s", self.endpoint_id, src, exc)
            return None
        if request_id == 0:
            return Message(src, obj, bool(flags & p.F_REPLY))
        if flags & p.F_REPLY:
            return Reply(src, request_id, obj)
        return Request(src, request_id, obj, self)

    def close(self) -> None:
        """Close the connection (the router sees end of file)."""
        self.connection.close()
