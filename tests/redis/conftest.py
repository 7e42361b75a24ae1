"""Helpers for the Redis front door tests: an in-memory fake backend (tests only), a server
running it in a background thread, and a raw-socket client with deadlines."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Any

import pytest

from sentinel.redis.backend import Caller, RaftStatus, Version
from sentinel.redis.replies import OK, error
from sentinel.redis.server import RedisServer
from sentinel.redis.session import Options

DEADLINE_S = 10.0


class FakeBackend:
    """A dict of bytes with a version per key: GET/SET/DEL/EXISTS/INCR/MGET/MSET/DBSIZE/
    FLUSHDB/FLUSHALL, enough to drive the front door end to end. With `reverse_after = n`,
    the first n calls are held and answered last-first once all n have arrived. Commands
    named in `refused_in_multi` are refused when queued in MULTI, with that error."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self.versions: dict[bytes, int] = {}
        self.calls: list[list[bytes]] = []
        self.batches: list[list[list[bytes]]] = []
        self.reverse_after = 0
        self._held: list[asyncio.Future[None]] = []
        self.max_inflight = 0
        self.inflight: list[bytes] = []  # names of the calls in flight now
        #: (command name, names of the calls in flight when it started), per call
        self.started: list[tuple[bytes, list[bytes]]] = []
        self.refused_in_multi: dict[bytes, Any] = {}

    def _touch(self, key: bytes) -> None:
        self.versions[key] = self.versions.get(key, 0) + 1

    def apply(self, cmd: list[bytes]) -> Any:
        """Run one command on the dict."""
        name, args = cmd[0].lower(), cmd[1:]
        if name == b"get":
            return self.data.get(args[0])
        if name == b"set":
            if len(args) != 2:
                return error("syntax error")
            self.data[args[0]] = args[1]
            self._touch(args[0])
            return OK
        if name in (b"del", b"unlink"):
            gone = [k for k in args if self.data.pop(k, None) is not None]
            for key in gone:
                self._touch(key)
            return len(gone)
        if name == b"exists":
            return sum(k in self.data for k in args)
        if name in (b"incr", b"incrby", b"decr", b"decrby"):
            return self._incr(name, args)
        if name == b"mget":
            return [self.data.get(k) for k in args]
        if name == b"mset":
            for key, value in zip(args[::2], args[1::2], strict=True):
                self.data[key] = value
                self._touch(key)
            return OK
        if name == b"dbsize":
            return len(self.data)
        if name in (b"flushdb", b"flushall"):
            for key in list(self.data):
                self._touch(key)
            self.data.clear()
            return OK
        return error(f"fake backend does not do {name.decode()}")

    def _incr(self, name: bytes, args: list[bytes]) -> Any:
        step = int(args[1]) if len(args) > 1 else 1
        step = -step if name.startswith(b"decr") else step
        try:
            value = int(self.data.get(args[0], b"0")) + step
        except ValueError:
            return error("value is not an integer or out of range")
        self.data[args[0]] = str(value).encode()
        self._touch(args[0])
        return value

    def together(self, start: Callable[[], None]) -> None:
        start()  # every call here starts at once anyway

    async def execute(self, command: list[bytes], caller: Caller) -> Any:
        self.calls.append(command)
        self.started.append((command[0].lower(), list(self.inflight)))
        self.inflight.append(command[0].lower())
        self.max_inflight = max(self.max_inflight, len(self.inflight))
        try:
            await asyncio.sleep(0)  # let the calls started in the same turn overlap
            if len(self._held) < self.reverse_after:
                gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._held.append(gate)
                if len(self._held) == self.reverse_after:
                    for held in reversed(self._held):
                        held.get_loop().call_soon(held.set_result, None)
                        await asyncio.sleep(0)
                await gate
                return self.apply(command)
            return self.apply(command)
        finally:
            self.inflight.remove(command[0].lower())

    async def execute_batch(
        self, commands: Sequence[list[bytes]], watched: dict[bytes, Version], caller: Caller
    ) -> list[Any] | None:
        self.batches.append(list(commands))
        if any(self.versions.get(k, 0) != v for k, v in watched.items()):
            return None
        return [self.apply(c) for c in commands]

    async def watch(self, keys: Sequence[bytes], caller: Caller) -> list[Version]:
        return [self.versions.get(k, 0) for k in keys]

    async def status(self) -> RaftStatus:
        return RaftStatus("leader", 3, "n2", 41, 40, len(self.data), 0)

    def refuse_queued(
        self, queued: Sequence[list[bytes]], args: list[bytes], watched: Collection[bytes]
    ) -> Any | None:
        return self.refused_in_multi.get(args[0].lower())


class ServerThread:
    """A RedisServer on its own event loop in a background thread."""

    def __init__(self, backend: Any, options: Options) -> None:
        self.backend = backend
        self.server = RedisServer(backend, options)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(DEADLINE_S)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(DEADLINE_S)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(DEADLINE_S)
        self.loop.close()

    @property
    def port(self) -> int:
        return self.server.address[1]

    def call(self, fn: Any) -> Any:
        """Run `fn()` on the server's loop; its result."""

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(DEADLINE_S)

    def connect(self) -> RawClient:
        return RawClient(self.port)


class RawClient:
    """A plain socket speaking bytes, for what a library would never send."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S)
        self.received = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def expect(self, wanted: bytes) -> bytes:
        """Read len(wanted) bytes and compare them with `wanted`."""
        self._fill(len(wanted))
        got, self.received = self.received[: len(wanted)], self.received[len(wanted) :]
        assert got == wanted
        return got

    def _fill(self, size: int) -> None:
        """Read until `received` holds `size` bytes (failing at the deadline)."""
        deadline = time.monotonic() + DEADLINE_S
        while len(self.received) < size:
            assert time.monotonic() < deadline, f"waited for {size} bytes: {self.received!r}"
            chunk = self.sock.recv(65536)
            assert chunk, f"closed while waiting for {size} bytes: {self.received!r}"
            self.received += chunk

    def bulk(self) -> bytes:
        """Read one bulk string reply (`$<n>` then n bytes); its payload."""
        while b"\r\n" not in self.received:
            self._fill(len(self.received) + 1)
        head, _, _ = self.received.partition(b"\r\n")
        assert head[:1] == b"$", self.received[:100]
        size = len(head) + 2 + int(head[1:]) + 2
        self._fill(size)
        payload, self.received = self.received[len(head) + 2 : size - 2], self.received[size:]
        return payload

    def until_closed(self) -> bytes:
        """Everything until the server closes the connection (within the deadline)."""
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                return self.received
            self.received += chunk
        else:
            raise AssertionError(f"still open after {DEADLINE_S}s: {self.received[:200]!r}")
        return self.received

    def close(self) -> None:
        self.sock.close()


def _wait_for(condition: Any, what: str) -> None:
    """Poll `condition()` until true or DEADLINE_S passes."""
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@contextlib.contextmanager
def _serve(backend: Any = None, **options: Any) -> Iterator[ServerThread]:
    """A running front door on a free port with `backend` (a FakeBackend by default)."""
    with ServerThread(backend or FakeBackend(), Options(port=0, **options)) as running:
        yield running


@pytest.fixture
def serve() -> Any:
    """`serve(backend=None, **options)`: a context manager running a front door."""
    return _serve


@pytest.fixture
def fake() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def server(fake: FakeBackend) -> Iterator[ServerThread]:
    with _serve(fake) as running:
        yield running


@pytest.fixture
def raw(server: ServerThread) -> Iterator[RawClient]:
    client = server.connect()
    yield client
    client.close()


@pytest.fixture
def wait_for() -> Any:
    """`wait_for(condition, what)`: poll until true, failing after DEADLINE_S."""
    return _wait_for
