"""When the front door's calls leave and its replies are written, counted in event-loop turns:
a connection served alone sends its call in the turn that read the request and writes the
reply in the turn the answer arrives; with several connections the calls of one turn leave
together. Driven in-process: a Connection over a ClusterBackend whose client records calls
and validates as the real one does (redisreq.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from sentinel.kvraft.errors import Unavailable
from sentinel.kvraft.keyspace import Keyspace
from sentinel.kvraft.keyspace.replies import Error
from sentinel.kvraft.limits import KEY_BYTES_MAX
from sentinel.kvraft.redisreq import exec_call, redis_call
from sentinel.redis.cluster_backend import ClusterBackend
from sentinel.redis.connection import Connection
from sentinel.redis.replies import encode
from sentinel.redis.server import RedisServer


class RecordingClient:
    """The cluster client's Redis calls over a Keyspace, answered when `answer()` is called
    (as the router's reply would be read): a call the real client refuses holds the same
    Error reply at once."""

    def __init__(self) -> None:
        self.keyspace = Keyspace()
        self.started: list[tuple[str, Any]] = []
        self.hops = 0
        self._owed: list[tuple[Future[Any], Callable[[], Any]]] = []

    def _call(self, kind: str, call: Any, work: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        self.started.append((kind, call))
        if isinstance(call, Error):
            future.set_result(call)
        else:
            self._owed.append((future, work))
        return future

    def redis_async(self, args: Sequence[bytes], timeout_s: float = 5.0) -> Future[Any]:
        return self._call("one", redis_call(args), lambda: self.keyspace.apply(list(args), 0))

    def redis_exec_async(
        self, commands: Sequence[Sequence[bytes]], watched: Any, timeout_s: float = 5.0
    ) -> Future[Any]:
        batch = [list(c) for c in commands]
        return self._call(
            "exec", exec_call(commands, watched), lambda: self.keyspace.apply_batch(batch, 0)
        )

    def run_together(self, fn: Callable[[], None]) -> None:
        self.hops += 1
        fn()

    def answer(self) -> None:
        """Complete every call started so far."""
        owed, self._owed = self._owed, []
        for future, work in owed:
            future.set_result(work())


class Transport(asyncio.Transport):
    """Collects what the connection writes."""

    def __init__(self) -> None:
        super().__init__()
        self.written = b""

    def write(self, data: Any) -> None:
        self.written += bytes(data)

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1)

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def close(self) -> None: ...


def request(*args: bytes) -> bytes:
    return encode(list(args))


async def _turn() -> None:
    """Let the loop run one turn."""
    await asyncio.sleep(0)


def run(test: Callable[[RecordingClient, Callable[[], tuple[Connection, Transport]]], Any]) -> None:
    async def main() -> None:
        client = RecordingClient()
        server = RedisServer(ClusterBackend(client))  # type: ignore[arg-type]

        def connect() -> tuple[Connection, Transport]:
            conn, transport = Connection(server.door), Transport()
            conn.connection_made(transport)
            return conn, transport

        await test(client, connect)

    asyncio.run(main())


def test_alone_the_call_leaves_and_the_reply_is_written_without_a_loop_turn() -> None:
    async def test(client: RecordingClient, connect: Any) -> None:
        conn, transport = connect()
        for n in range(3):
            conn.data_received(request(b"SET", b"k", b"%d" % n))
            assert len(client.started) == n + 1 and client.hops == n + 1  # sent already
            client.answer()
            assert transport.written == b"+OK\r\n" * (n + 1)  # written already
        conn.data_received(request(b"GET", b"k"))
        client.answer()
        assert transport.written.endswith(b"$1\r\n2\r\n")

    run(test)


def test_with_two_connections_the_calls_of_one_turn_leave_together() -> None:
    async def test(client: RecordingClient, connect: Any) -> None:
        (a, a_out), (b, b_out) = connect(), connect()
        a.data_received(request(b"SET", b"a", b"1"))
        b.data_received(request(b"SET", b"b", b"2"))
        assert client.started == []  # gathered until the turn ends
        await _turn()
        assert len(client.started) == 2 and client.hops == 1
        client.answer()
        assert a_out.written == b_out.written == b"+OK\r\n"

    run(test)


def test_a_refused_write_in_a_pipeline_fails_alone_and_the_others_apply_in_order() -> None:
    """Writes grouped into one entry are validated first: the client would refuse the whole
    group for one oversized key."""

    async def test(client: RecordingClient, connect: Any) -> None:
        conn, transport = connect()
        conn.data_received(request(b"INCR", b"n"))  # in flight: the next ones wait as a group
        too_long = b"x" * (KEY_BYTES_MAX + 1)
        conn.data_received(
            request(b"INCR", b"n") + request(b"SET", too_long, b"v") + request(b"INCR", b"n")
        )
        client.answer()  # the first INCR; the other writes leave as one group
        await _turn()
        assert [kind for kind, _call in client.started] == ["one", "exec"]
        client.answer()
        replies = transport.written.split(b"\r\n")
        assert replies[:3] == [b":1", b":2", replies[2]] and replies[2].startswith(b"-ERR key")
        assert replies[3:] == [b":3", b""]

    run(test)


def test_alone_a_call_that_cannot_start_is_answered_at_once_and_the_next_one_works() -> None:
    """A call whose start raises (the client closed or full) answers its error within the
    same turn, from inside the start: the connection is not left waiting."""

    async def test(client: RecordingClient, connect: Any) -> None:
        conn, transport = connect()
        working = client.redis_async

        def refuse(args: Sequence[bytes], timeout_s: float = 5.0) -> Future[Any]:
            raise Unavailable("the client is closed")

        client.redis_async = refuse  # type: ignore[method-assign]
        conn.data_received(request(b"SET", b"k", b"v") + request(b"GET", b"k"))
        assert transport.written.startswith(b"-CLUSTERDOWN ")  # the SET, no turn needed
        await _turn()
        assert transport.written.count(b"-") == 2  # the GET after it: -TRYAGAIN
        assert b"-TRYAGAIN " in transport.written
        client.redis_async = working  # type: ignore[method-assign]
        conn.data_received(request(b"SET", b"k", b"w"))
        client.answer()
        assert transport.written.endswith(b"+OK\r\n")

    run(test)
