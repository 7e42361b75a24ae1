"""The router's client door: a 0600 Unix socket with the multiprocessing auth-key handshake.

The handshake (`deliver_challenge` + `answer_challenge`) blocks on the peer, so it never runs
on the router's loop: each accepted socket gets a short-lived thread, and at most
HANDSHAKES_MAX run at once. Each handshake has one deadline for the whole exchange
(HANDSHAKE_DEADLINE_S), not one per read: a watchdog thread shuts the socket down when it
passes, which ends any read or write the handshake is blocked in, so a peer that sends a
byte now and then is cut off as surely as a silent one. While every slot is taken the
router stops accepting (`accept_pending` says so) and new connections wait in the listen
backlog (BACKLOG) until a handshake ends, rather than being dropped. A finished handshake
hands the raw file descriptor to the loop through a queue and wakes it with a byte on a
self-pipe (every ended handshake wakes it, so that it accepts again); it keeps its slot until
the loop takes it, so the queue is bounded by the slots and never drops a client. A wrong
key, a silent peer or garbage only ever costs that one thread, for at most the deadline.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import queue
import socket
import threading
import time
from multiprocessing.connection import Connection, answer_challenge, deliver_challenge
from pathlib import Path

from sentinel.netsim.protocol import short_address

log = logging.getLogger(__name__)

HANDSHAKES_MAX = 64
#: A connection must finish its whole handshake within this.
HANDSHAKE_DEADLINE_S = 5.0
#: Connections the kernel holds while every handshake slot is taken (capped by
#: net.core.somaxconn, 4096 on current kernels).
BACKLOG = 1024


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
        self._ready: queue.Queue[int] = queue.Queue(HANDSHAKES_MAX)
        self._slots = threading.BoundedSemaphore(HANDSHAKES_MAX)
        self.refused = 0
        self._watchdog = _Watchdog()
        self._wake_lock = threading.Lock()
        self._closed = False

    @property
    def wake_fd(self) -> int:
        """Readable when authenticated clients are waiting in `take_ready`, or a handshake
        slot came free."""
        return self._wake_r

    def accept_pending(self) -> bool:
        """Accept waiting connections and start their handshakes (called when readable);
        False when every slot is taken: the rest wait in the backlog, and the caller should
        stop watching the socket until `wake_fd` is readable."""
        while True:
            if not self._slots.acquire(blocking=False):
                return False
            try:
                conn_sock, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                self._slots.release()
                return True
            except OSError as exc:
                self._slots.release()
                log.warning("accept failed: %s", exc)
                return True
            thread = threading.Thread(
                target=self._handshake, args=(conn_sock,), name="router-handshake", daemon=True
            )
            thread.start()

    def _handshake(self, conn_sock: socket.socket) -> None:
        fd = None
        try:
            conn_sock.setblocking(True)
            fd = self._authenticate(conn_sock)
            if fd is not None:  # it keeps its slot until `take_ready`: the queue never fills
                self._ready.put_nowait(fd)
        finally:
            if fd is None:
                self._slots.release()
            with self._wake_lock:  # `close` must not close the pipe under this write
                if not self._closed:
                    with contextlib.suppress(BlockingIOError):  # full of wake-ups already
                        os.write(self._wake_w, b"!")

    def _authenticate(self, conn_sock: socket.socket) -> int | None:
        """The handshake, under its deadline; the connection's fd, or None if refused."""
        ticket = self._watchdog.watch(conn_sock, time.monotonic() + HANDSHAKE_DEADLINE_S)
        conn = Connection(os.dup(conn_sock.fileno()))
        try:
            deliver_challenge(conn, self._authkey)
            answer_challenge(conn, self._authkey)
            passed = True
        except Exception as exc:  # wrong key, silence, garbage, too slow: refuse this one
            self.refused += 1
            log.info("client refused: %s: %s", type(exc).__name__, exc)
            passed = False
        if not self._watchdog.forget(ticket) and passed:  # cut off just as it finished
            self.refused += 1
            passed = False
        conn.close()
        if not passed:
            conn_sock.close()
            return None
        return conn_sock.detach()

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
            self._slots.release()

    def close(self) -> None:
        """Stop listening and remove the socket file."""
        self._watchdog.stop()
        self.sock.close()
        with self._wake_lock:
            self._closed = True
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


class _Watchdog:
    """Shuts sockets down at their deadline, on one thread (started on first use)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int]] = []
        self._socks: dict[int, socket.socket] = {}  # ticket -> socket, while watched
        self._tickets = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._stopped = False

    def watch(self, sock: socket.socket, deadline: float) -> int:
        """Shut `sock` down at `deadline` unless `forget` comes first; a ticket for that."""
        with self._cond:
            ticket = next(self._tickets)
            self._socks[ticket] = sock
            heapq.heappush(self._heap, (deadline, ticket))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="handshake-watchdog")
                self._thread.daemon = True
                self._thread.start()
            self._cond.notify()
            return ticket

    def forget(self, ticket: int) -> bool:
        """Stop watching; False if the deadline had already cut the socket off."""
        with self._cond:
            return self._socks.pop(ticket, None) is not None

    def _run(self) -> None:
        with self._cond:
            while not self._stopped:
                now = time.monotonic()
                heap = self._heap
                while heap and (heap[0][0] <= now or heap[0][1] not in self._socks):
                    _deadline, ticket = heapq.heappop(heap)
                    sock = self._socks.pop(ticket, None)
                    if sock is not None:
                        with contextlib.suppress(OSError):
                            sock.shutdown(socket.SHUT_RDWR)  # ends its blocked read or write
                self._cond.wait(heap[0][0] - now if heap else None)

    def stop(self) -> None:
        """End the thread (the sockets it watched are left as they are)."""
        with self._cond:
            self._stopped = True
            self._cond.notify()
