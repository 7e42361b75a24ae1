"""The client side: connect to a cluster's router and make RPCs from many threads.

`connect(cluster_dir)` opens `<dir>/router.sock` with the auth key in `<dir>/authkey`, learns
this client's endpoint id from the router's HELLO, and starts one reader thread that matches
replies to waiting calls by request id. Any number of threads may call concurrently on one
`Network`; each call waits on its own slot with its own timeout.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from multiprocessing.connection import Client
from pathlib import Path
from typing import Any

from sentinel.netsim import protocol as p
from sentinel.netsim.endpoint import Endpoint, Failure, Reply
from sentinel.netsim.rpc import ClientEnd, RpcCall, RpcReply
from sentinel.wire import encode

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
PENDING_CALLS_MAX = 10_000


class _Slot:
    """One waiting call: a bare lock, taken at birth and released once by the reader (an
    Event costs a Condition, a waiter lock and a notify on every call)."""

    __slots__ = ("done", "dst", "result")

    def __init__(self, dst: int) -> None:
        self.dst = dst
        self.done = threading.Lock()
        self.done.acquire()
        self.result: Any = None

    def wait(self, timeout_s: float) -> None:
        if self.done.acquire(True, min(max(0.0, timeout_s), threading.TIMEOUT_MAX)):
            self.done.release()

    def wake(self) -> None:
        """Called once per slot: whoever removes the slot from `_pending` wakes it."""
        self.done.release()


class Network:
    """A client's connection to the router, shared by many threads."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._pending: dict[int, _Slot] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._reader = threading.Thread(target=self._read_loop, name="netsim-reader", daemon=True)
        self._reader.start()

    @property
    def endpoint_id(self) -> int:
        """This client's endpoint id (assigned by the router)."""
        return self.endpoint.endpoint_id

    def end(self, dst: int) -> ClientEnd:
        """A ClientEnd for calling endpoint `dst`."""
        return ClientEnd(self, dst)

    def send(self, dst: int, obj: Any, reply: bool = False) -> None:
        """Send a one-way message."""
        self.endpoint.send(dst, obj, reply)

    def call(self, dst: int, method: str, args: Any, timeout_s: float) -> RpcReply | None:
        """One RPC; the RpcReply, or None on loss, unreachable peer or timeout."""
        reply = self._request(dst, lambda rid: self._send_call(dst, rid, method, args), timeout_s)
        return reply if isinstance(reply, RpcReply) else None

    def report(self, timeout_s: float = 5.0) -> p.RouterReport | None:
        """The router's counters and status blobs, asked over this connection."""
        answer = self._request(
            p.ROUTER_ID,
            lambda rid: self.endpoint.send_frame(p.ROUTER_ID, b"", p.F_QUERY, rid),
            timeout_s,
        )
        return answer if isinstance(answer, p.RouterReport) else None

    def _send_call(self, dst: int, request_id: int, method: str, args: Any) -> None:
        self.endpoint.send_frame(dst, encode(RpcCall(method, args)), p.F_REQUEST, request_id)

    def _request(self, dst: int, send: Any, timeout_s: float) -> Any:
        if self._closed:
            return None
        request_id = self.endpoint.new_request_id()
        slot = _Slot(dst)
        with self._lock:
            if len(self._pending) >= PENDING_CALLS_MAX:
                raise RuntimeError(f"more than {PENDING_CALLS_MAX} calls pending")
            self._pending[request_id] = slot
        try:
            send(request_id)
            slot.wait(timeout_s)
        except (OSError, EOFError):
            return None
        finally:
            with self._lock:
                self._pending.pop(request_id, None)
        return slot.result

    def _read_loop(self) -> None:
        endpoint = self.endpoint
        conn = endpoint.connection
        try:
            while True:
                item = endpoint.parse(conn.recv_bytes(p.MSG_BYTES_MAX))
                if isinstance(item, Reply | Failure):
                    with self._lock:
                        slot = self._pending.get(item.request_id)
                        if slot is None or slot.dst != item.src:
                            continue  # late (timed out) or not ours
                        del self._pending[item.request_id]
                    slot.result = item.obj if isinstance(item, Reply) else None
                    slot.wake()
                elif item is not None:
                    log.debug("client %d ignores %s", endpoint.endpoint_id, type(item).__name__)
        except (EOFError, OSError):
            pass
        finally:
            self._closed = True
            with self._lock:
                slots = list(self._pending.values())
                self._pending.clear()
            for slot in slots:
                slot.wake()  # fail every waiting call at once

    def close(self) -> None:
        """Close the connection; waiting calls return None."""
        self._closed = True
        try:  # wake the reader: closing an fd does not interrupt a blocked read
            with socket.socket(fileno=os.dup(self.endpoint.fileno())) as view:
                view.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if threading.current_thread() is not self._reader:
            self._reader.join(2.0)
        self.endpoint.close()

    def __enter__(self) -> Network:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(cluster_dir: str | os.PathLike[str], timeout_s: float = CONNECT_TIMEOUT_S) -> Network:
    """Connect to the router of the cluster in `cluster_dir` (auth key from its file)."""
    directory = Path(cluster_dir)
    authkey = p.read_authkey(directory)
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        address = p.short_address(p.socket_path(directory), dir_fd)
        conn = Client(address, family="AF_UNIX", authkey=authkey)
    finally:
        os.close(dir_fd)
    try:
        return Network(Endpoint.after_hello(conn, timeout_s))
    except BaseException:
        conn.close()
        raise
