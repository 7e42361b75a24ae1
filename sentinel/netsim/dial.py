"""Opening a client connection to a cluster's router: the socket, then the auth-key handshake.

What `multiprocessing.connection.Client` does, but under one deadline, and with errors that
say what went wrong: the router is not there, or it did not take this client in time.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from multiprocessing.connection import Connection, answer_challenge, deliver_challenge
from pathlib import Path

from sentinel.netsim import protocol as p


def dial(directory: Path, timeout_s: float) -> Connection:
    """An authenticated connection to the router of `directory` (auth key from its file),
    within `timeout_s`. A router that is not there raises FileNotFoundError or
    ConnectionRefusedError naming the socket; one that does not take this client in time
    (or hangs up on it) raises ConnectionError saying why; a wrong key AuthenticationError."""
    authkey = p.read_authkey(directory)
    try:
        return _authenticated(directory, authkey, time.monotonic() + timeout_s)
    except (OSError, EOFError) as exc:
        if isinstance(exc, FileNotFoundError | ConnectionRefusedError):  # down, or died
            why = "no router is listening here: is the cluster running?"
            raise type(exc)(exc.errno, why, str(p.socket_path(directory))) from None
        raise not_accepting(directory, exc, timeout_s) from None


def not_accepting(directory: Path, exc: BaseException, timeout_s: float) -> ConnectionError:
    """The error for a router that did not take a client in (it failed with `exc`)."""
    why = _why_not_accepted(exc, timeout_s)
    return ConnectionError(f"router at {directory} is not accepting connections: {why}")


def _authenticated(directory: Path, authkey: bytes, deadline: float) -> Connection:
    """A connection to the router that passed the auth-key handshake (what
    `multiprocessing.connection.Client` does, but with a deadline on every step)."""
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        sock.connect(p.short_address(p.socket_path(directory), dir_fd))
        left_s = max(0.001, deadline - time.monotonic())
        sock.setblocking(True)
        _set_io_timeouts(sock, left_s)  # the router is trusted: a bound per read suffices
        conn = Connection(sock.detach())
    except BaseException:
        sock.close()
        raise
    finally:
        os.close(dir_fd)
    try:
        answer_challenge(conn, authkey)
        deliver_challenge(conn, authkey)
        with socket.socket(fileno=os.dup(conn.fileno())) as view:
            _set_io_timeouts(view, 0.0)
    except BaseException:
        conn.close()
        raise
    return conn


def _set_io_timeouts(sock: socket.socket, seconds: float) -> None:
    """SO_RCVTIMEO and SO_SNDTIMEO: they bound the plain reads and writes of a Connection
    (0: no bound)."""
    whole = int(seconds)
    timeval = struct.pack("ll", whole, int((seconds - whole) * 1_000_000))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)


def _why_not_accepted(exc: BaseException, timeout_s: float) -> str:
    if isinstance(exc, TimeoutError | BlockingIOError):
        return f"no answer within {timeout_s:g} s (it may be overloaded)"
    if isinstance(exc, EOFError | ConnectionResetError | BrokenPipeError):
        return "it closed the connection during the handshake (overloaded or stopping)"
    return f"{type(exc).__name__}: {exc}"
