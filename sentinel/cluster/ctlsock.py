"""The supervisor's control socket: one JSON request line, one JSON reply line.

`<dir>/control.sock` is created 0600 (umask held during bind) and every connection's peer
must run as our own user (SO_PEERCRED), so only the cluster's owner can drive it. A request is
one line of at most REQUEST_BYTES_MAX bytes holding a JSON object; anything else gets an error
reply.

One thread reads every connection at once (a selector, non-blocking reads), so a slow, silent
or dribbling peer costs one file descriptor and never a thread: each connection has one
deadline for its whole request (REQUEST_DEADLINE_S), after which it is closed. At most
CONNECTIONS_MAX are open at a time; past that, new ones wait in the listen backlog (BACKLOG)
until one closes, rather than being refused. A whole request goes to a small pool of
WORKERS_MAX threads, which run the handler and write the reply within REPLY_DEADLINE_S.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import logging
import os
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SOCKET_NAME = "control.sock"
REQUEST_BYTES_MAX = 64 * 1024
REPLY_BYTES_MAX = 4 * 1024 * 1024
#: Connections open at once (being read, or being answered); more wait in the backlog.
CONNECTIONS_MAX = 256
#: Connections the kernel holds for us while all CONNECTIONS_MAX are taken.
BACKLOG = 512
#: Threads that run handlers and write replies (a request waits for the main thread in
#: some of them, see `jobs`).
WORKERS_MAX = 8
#: A connection's whole request must arrive within this (not each read: a peer that sends a
#: byte now and then is cut off all the same).
REQUEST_DEADLINE_S = 5.0
#: A reply must be taken within this, whole.
REPLY_DEADLINE_S = 5.0
READ_BYTES = 65536
#: The answer to a request that may be sent again: nothing was done.
BUSY_KEY = "busy"
#: A client's first pause before it asks a busy supervisor again; it doubles up to the max.
RETRY_PAUSE_S = 0.05
RETRY_PAUSE_MAX_S = 1.0

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class ControlError(RuntimeError):
    """The control socket could not be reached or answered badly."""


def socket_path(directory: Path) -> Path:
    """Where the supervisor listens."""
    return directory / SOCKET_NAME


def _peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid


def _read_line(conn: socket.socket, limit: int) -> bytes:
    data = bytearray()
    while b"\n" not in data:
        chunk = conn.recv(READ_BYTES)
        if not chunk:
            break
        data += chunk
        if len(data) > limit:
            raise ValueError(f"message longer than {limit} bytes")
    line, _, _ = bytes(data).partition(b"\n")
    return line


class _Incoming:
    """A connection whose request is still arriving."""

    __slots__ = ("conn", "data", "deadline")

    def __init__(self, conn: socket.socket, deadline: float) -> None:
        self.conn = conn
        self.deadline = deadline
        self.data = bytearray()


class ControlServer:
    """Serves requests on `<dir>/control.sock` with `handler` until `close`."""

    def __init__(self, directory: Path, handler: Handler) -> None:
        self.path = socket_path(directory)
        self._handler = handler
        self._dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # a stale socket of a dead supervisor (we hold the lock)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        from sentinel.netsim.protocol import short_address  # netsim: ~0.2 s to import

        old_umask = os.umask(0o177)
        try:
            self._sock.bind(short_address(self.path, self._dir_fd))
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)
        self._sock.listen(BACKLOG)
        self._sock.setblocking(False)
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._sock, selectors.EVENT_READ)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._accepting = True
        self._incoming: dict[socket.socket, _Incoming] = {}
        self._open = 0  # connections accepted and not yet closed (incoming or answered)
        self._open_lock = threading.Lock()
        self._workers = concurrent.futures.ThreadPoolExecutor(WORKERS_MAX, "control")
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="control", daemon=True)
        self._thread.start()

    # -- the reading thread ------------------------------------------------------------

    def _loop(self) -> None:
        while not self._closed:
            now = time.monotonic()
            nearest = min((i.deadline for i in self._incoming.values()), default=None)
            timeout = None if nearest is None else max(0.0, nearest - now)
            for key, _events in self._selector.select(timeout):
                if key.fileobj is self._sock:
                    self._accept()
                elif key.fileobj == self._wake_r:
                    with contextlib.suppress(BlockingIOError):
                        os.read(self._wake_r, 4096)
                else:
                    self._on_readable(self._incoming[key.fileobj])  # type: ignore[index]
            self._expire(time.monotonic())
            self._update_accepting()

    def _update_accepting(self) -> None:
        """Watch the listening socket only while a connection may be opened."""
        with self._open_lock:
            room = self._open < CONNECTIONS_MAX
        if room != self._accepting:
            self._accepting = room
            if room:
                self._selector.register(self._sock, selectors.EVENT_READ)
            else:  # the rest wait in the backlog
                self._selector.unregister(self._sock)

    def _accept(self) -> None:
        while True:
            with self._open_lock:
                if self._open >= CONNECTIONS_MAX:
                    return
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:  # out of file descriptors, say: try again next turn
                log.warning("control accept failed: %s", e)
                return
            with self._open_lock:
                self._open += 1
            conn.setblocking(False)
            deadline = time.monotonic() + REQUEST_DEADLINE_S
            self._incoming[conn] = _Incoming(conn, deadline)
            self._selector.register(conn, selectors.EVENT_READ)

    def _on_readable(self, item: _Incoming) -> None:
        try:
            chunk = item.conn.recv(READ_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        item.data += chunk
        if b"\n" in item.data or not chunk or len(item.data) > REQUEST_BYTES_MAX:
            self._stop_reading(item)
            self._workers.submit(self._serve, item.conn, bytes(item.data))

    def _stop_reading(self, item: _Incoming) -> None:
        del self._incoming[item.conn]
        self._selector.unregister(item.conn)

    def _expire(self, now: float) -> None:
        late = [i for i in self._incoming.values() if i.deadline <= now]
        for item in late:
            self._stop_reading(item)
            log.info("control connection sent no whole request in %s s", REQUEST_DEADLINE_S)
            late_reply = {"ok": False, "error": f"no request within {REQUEST_DEADLINE_S} s"}
            with contextlib.suppress(OSError):  # best effort, never blocking
                item.conn.send(json.dumps(late_reply).encode() + b"\n")
            self._done(item.conn)

    def _done(self, conn: socket.socket) -> None:
        """Close a connection and free its place (any thread)."""
        conn.close()
        with self._open_lock:
            self._open -= 1
            if not self._closed:  # (under the lock: `close` may not close the pipe meanwhile)
                with contextlib.suppress(BlockingIOError):  # full of wake-ups already
                    os.write(self._wake_w, b"!")

    # -- the workers -------------------------------------------------------------------

    def _serve(self, conn: socket.socket, data: bytes) -> None:
        try:
            conn.setblocking(True)
            if _peer_uid(conn) != os.getuid():
                self._answer(conn, {"ok": False, "error": "permission denied"})
                return
            self._answer(conn, self._reply_to(data))
        except OSError as e:
            log.warning("control connection failed: %s", e)
        finally:
            self._done(conn)

    def _reply_to(self, data: bytes) -> dict[str, Any]:
        if len(data) > REQUEST_BYTES_MAX:
            return {
                "ok": False,
                "error": f"malformed request: longer than {REQUEST_BYTES_MAX} bytes",
            }
        line, _, _ = data.partition(b"\n")
        try:
            request = json.loads(line)
        except (ValueError, UnicodeDecodeError) as e:
            return {"ok": False, "error": f"malformed request: {e}"}
        if not isinstance(request, dict):
            return {"ok": False, "error": "malformed request: not an object"}
        try:
            return self._handler(request)
        except Exception as e:  # a bug must not kill the server; the client hears of it
            log.exception("control request %r failed", request)
            return {"ok": False, "error": f"internal error: {e}"}

    @staticmethod
    def _answer(conn: socket.socket, reply: dict[str, Any]) -> None:
        conn.settimeout(REPLY_DEADLINE_S)  # sendall's timeout bounds the whole reply
        try:
            conn.sendall(json.dumps(reply).encode() + b"\n")
        except (BrokenPipeError, ConnectionResetError) as e:  # it hung up: its loss
            log.debug("control reply lost: %s", e)
        except OSError as e:
            log.warning("control reply lost: %s", e)

    def close(self) -> None:
        """Stop accepting, close every connection and remove the socket file."""
        with self._open_lock:
            self._closed = True
            with contextlib.suppress(BlockingIOError):
                os.write(self._wake_w, b"!")
        self._thread.join(2.0)
        self._workers.shutdown(wait=False, cancel_futures=True)
        for item in list(self._incoming.values()):
            item.conn.close()
        self._incoming.clear()
        self._selector.close()
        self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        with self._open_lock:
            for fd in (self._dir_fd, self._wake_r, self._wake_w):
                os.close(fd)


def request(directory: Path, payload: dict[str, Any], timeout_s: float = 60.0) -> dict[str, Any]:
    """Send one request to the supervisor of `directory`; its reply (a dict with "ok").

    A supervisor too busy to take the request (its backlog full, or its answer marked
    BUSY_KEY: nothing was done) is asked again, until `timeout_s` has passed in all."""
    deadline = time.monotonic() + timeout_s
    pause_s = RETRY_PAUSE_S
    while True:
        left_s = deadline - time.monotonic()
        try:
            reply = _request_once(directory, payload, max(left_s, 0.001))
        except _Busy as e:
            reply = {"ok": False, "error": str(e), BUSY_KEY: True}
        if not reply.get(BUSY_KEY) or time.monotonic() + pause_s >= deadline:
            reply.pop(BUSY_KEY, None)
            return reply
        time.sleep(pause_s)
        pause_s = min(pause_s * 2, RETRY_PAUSE_MAX_S)


class _Busy(Exception):
    """The supervisor's backlog is full: the request was not sent."""


def _request_once(directory: Path, payload: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    path = socket_path(directory)
    try:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise ControlError(f"no cluster directory {directory} ({e.strerror})") from None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            from sentinel.netsim.protocol import short_address  # netsim: ~0.2 s to import

            try:
                sock.connect(short_address(path, dir_fd))
            except (FileNotFoundError, ConnectionRefusedError):
                raise ControlError(f"no cluster is running in {directory}") from None
            except BlockingIOError:
                raise _Busy(f"the supervisor in {directory} is busy; try again") from None
            sock.sendall(json.dumps(payload).encode() + b"\n")
            line = _read_line(sock, REPLY_BYTES_MAX)
    except TimeoutError:
        raise ControlError(
            f"the supervisor in {directory} did not answer in {timeout_s:.3g} s"
        ) from None
    except OSError as e:
        raise ControlError(f"cannot talk to the supervisor in {directory}: {e}") from None
    finally:
        os.close(dir_fd)
    try:
        reply = json.loads(line)
    except ValueError:
        reply = None
    if not isinstance(reply, dict) or "ok" not in reply:
        raise ControlError(f"the supervisor in {directory} answered garbage: {line[:80]!r}")
    return reply
