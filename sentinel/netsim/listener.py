"""The router's client door: a 0600 Unix socket with the multiprocessing auth-key handshake.

The handshake (`deliver_challenge` + `answer_challenge`) blocks on the peer, so it never runs
on the router's loop: each accepted socket gets a short-lived thread with socket timeouts
(SO_RCVTIMEO/SO_SNDTIMEO, which also bound the plain read/write calls the handshake makes),
and at most HANDSHAKES_MAX run at once. A finished handshake hands the raw file descriptor to
the loop through a queue and wakes it with a byte on a self-pipe. A wrong key, a silent peer or
garbage only ever costs that one thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import struct
import threading
from multiprocessing.connection import Connection, answer_challenge, deliver_challenge
from pathlib import Path

from sentinel.netsim.protocol import short_address

log = logging.getLogger(__name__)

HANDSHAKES_MAX = 16
HANDSHAKE_TIMEOUT_S = 5.0
BACKLOG = 64
READY_MAX = 256


def _set_timeouts(sock: socket.socket, seconds: float) -> None:
    whole = int(seconds)
    timeval = struct.pack("ll", whole, int((seconds - whole) * 1_000_000))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)


class ClientListener:
    """Accepts clients on `<dir>/router.sock`; authenticated fds come out of `take_ready`."""

    def __init__(self, path: Path, authkey: bytes) -> None:
        self.path = path
        self._authkey = authkey
        self._dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)  # the socket is created 0600: no window with wider access
        try:
            self.sock.bind(short_address(path, self._dir_fd))
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)
        self.sock.listen(BACKLOG)
        self.sock.setblocking(False)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._ready: queue.Queue[int] = queue.Queue(READY_MAX)
        self._slots = threading.BoundedSemaphore(HANDSHAKES_MAX)
        self.refused = 0

    @property
    def wake_fd(self) -> int:
        """Readable when authenticated clients are waiting in `take_ready`."""
        return self._wake_r

    def accept_pending(self) -> None:
        """Accept every waiting connection and start its handshake (called when readable)."""
        while True:
            try:
                conn_sock, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("accept failed: %s", exc)
                return
            if not self._slots.acquire(blocking=False):
                self.refused += 1
                conn_sock.close()
                continue
            thread = threading.Thread(
                target=self._handshake, args=(conn_sock,), name="router-handshake", daemon=True
            )
            thread.start()

    def _handshake(self, conn_sock: socket.socket) -> None:
        try:
            conn_sock.setblocking(True)
            _set_timeouts(conn_sock, HANDSHAKE_TIMEOUT_S)
            conn = Connection(conn_sock.detach())
            try:
                deliver_challenge(conn, self._authkey)
                answer_challenge(conn, self._authkey)
            except Exception as exc:  # wrong key, silence, garbage: refuse this one peer
                self.refused += 1
                log.info("client refused: %s: %s", type(exc).__name__, exc)
                conn.close()
                return
            fd = os.dup(conn.fileno())
            conn.close()
            with socket.socket(fileno=os.dup(fd)) as view:
                _set_timeouts(view, 0.0)
            try:
                self._ready.put_nowait(fd)
            except queue.Full:
                os.close(fd)
                return
            with contextlib.suppress(BlockingIOError):  # the pipe is full of wake-ups already
                os.write(self._wake_w, b"!")
        finally:
            self._slots.release()

    def take_ready(self) -> list[int]:
        """File descriptors of clients that passed the handshake since the last call."""
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        fds: list[int] = []
        while True:
            try:
                fds.append(self._ready.get_nowait())
            except queue.Empty:
                return fds

    def close(self) -> None:
        """Stop listening and remove the socket file."""
        self.sock.close()
        for fd in (self._wake_r, self._wake_w, self._dir_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        for fd in self.take_ready_quiet():
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def take_ready_quiet(self) -> list[int]:
        """Drain the ready queue without touching the (maybe closed) wake pipe."""
        fds: list[int] = []
        while True:
            try:
                fds.append(self._ready.get_nowait())
            except queue.Empty:
                return fds
