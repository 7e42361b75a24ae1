"""The supervisor's control socket: one JSON request line, one JSON reply line.

`<dir>/control.sock` is created 0600 (umask held during bind) and every connection's peer
must run as our own user (SO_PEERCRED), so only the cluster's owner can drive it. A request is
one line of at most REQUEST_BYTES_MAX bytes holding a JSON object; anything else gets an error
reply. Each connection is served on its own short-lived thread with socket timeouts; at most
CONNECTIONS_MAX at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SOCKET_NAME = "control.sock"
REQUEST_BYTES_MAX = 64 * 1024
REPLY_BYTES_MAX = 4 * 1024 * 1024
CONNECTIONS_MAX = 16
IO_TIMEOUT_S = 5.0
BACKLOG = 16

UNIX_PATH_BYTES_MAX = 100

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def short_address(path: Path, dir_fd: int) -> str:
    """An AF_UNIX address for `path` within the ~108-byte limit: the path when short, else
    `/proc/self/fd/<dir_fd>/<name>` through an open directory fd (as netsim's router does;
    not imported from there so that the small commands start fast)."""
    text = str(path)
    if len(text.encode()) <= UNIX_PATH_BYTES_MAX:
        return text
    return f"/proc/self/fd/{dir_fd}/{path.name}"


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
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > limit:
            raise ValueError(f"message longer than {limit} bytes")
    line, _, _ = bytes(data).partition(b"\n")
    return line


class ControlServer:
    """Serves requests on `<dir>/control.sock` with `handler` until `close`."""

    def __init__(self, directory: Path, handler: Handler) -> None:
        self.path = socket_path(directory)
        self._handler = handler
        self._dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # a stale socket of a dead supervisor (we hold the lock)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            self._sock.bind(short_address(self.path, self._dir_fd))
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)
        self._sock.listen(BACKLOG)
        self._slots = threading.BoundedSemaphore(CONNECTIONS_MAX)
        self._closed = False
        self._thread = threading.Thread(target=self._accept_loop, name="control", daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                if self._closed:
                    return
                continue
            if not self._slots.acquire(blocking=False):
                self._answer(conn, {"ok": False, "error": "supervisor busy; try again"})
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(IO_TIMEOUT_S)
            if _peer_uid(conn) != os.getuid():
                self._answer(conn, {"ok": False, "error": "permission denied"})
                return
            try:
                request = json.loads(_read_line(conn, REQUEST_BYTES_MAX))
            except (ValueError, UnicodeDecodeError) as e:
                self._answer(conn, {"ok": False, "error": f"malformed request: {e}"})
                return
            if not isinstance(request, dict):
                self._answer(conn, {"ok": False, "error": "malformed request: not an object"})
                return
            try:
                reply = self._handler(request)
            except Exception as e:  # a bug must not kill the server; the client hears of it
                log.exception("control request %r failed", request)
                reply = {"ok": False, "error": f"internal error: {e}"}
            self._answer(conn, reply)
        except OSError as e:
            log.warning("control connection failed: %s", e)
        finally:
            self._slots.release()

    @staticmethod
    def _answer(conn: socket.socket, reply: dict[str, Any]) -> None:
        with conn:
            try:
                conn.sendall(json.dumps(reply).encode() + b"\n")
            except OSError as e:
                log.warning("control reply lost: %s", e)

    def close(self) -> None:
        """Stop accepting and remove the socket file."""
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        os.close(self._dir_fd)
        self._thread.join(2.0)


def request(directory: Path, payload: dict[str, Any], timeout_s: float = 60.0) -> dict[str, Any]:
    """Send one request to the supervisor of `directory`; its reply (a dict with "ok")."""
    path = socket_path(directory)
    try:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise ControlError(f"no cluster directory {directory} ({e.strerror})") from None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            try:
                sock.connect(short_address(path, dir_fd))
            except (FileNotFoundError, ConnectionRefusedError):
                raise ControlError(f"no cluster is running in {directory}") from None
            sock.sendall(json.dumps(payload).encode() + b"\n")
            line = _read_line(sock, REPLY_BYTES_MAX)
    except TimeoutError:
        raise ControlError(
            f"the supervisor in {directory} did not answer in {timeout_s} s"
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
