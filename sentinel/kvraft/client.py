"""The public Python client: `sentinel.connect(cluster_dir)`.

    import sentinel
    with sentinel.connect("/tmp/cluster") as kv:
        kv.put("k", "v", timeout_s=5)
        kv.get("k")                 # "v"; None for a missing key
        kv.append("k", "w")
        kv.cas("k", "vw", "x")      # True if it swapped
        kv.delete("k")              # True if the key was there

        future = kv.put_async("k", "v", timeout_s=5)   # a concurrent.futures.Future
        future.add_done_callback(lambda f: ...)        # or future.result()

A `Client` is thread-safe: it lends each call a session (exactly-once: registered on its
first write, writes numbered 1, 2, 3, ... and every retry resending the same number) from
its pool for the call's duration, so concurrent calls run concurrently over one router
connection. A blocking call is its `*_async` twin waited on: one code path, the same
deadline, errors and validation. Every call has a deadline (`timeout_s`); when it
passes, a write raises `OutcomeUnknown` (it may have been applied) and a read raises
`Unavailable`. Bad input raises `InvalidRequest` before anything is sent (a key or value
that is not exactly a `str`, or breaks a limit; a `timeout_s` out of range), and so does a
`timeout_s` that is not an int or float (`TypeError`); limits.py has the rules. attempts.py
has the retry rules, errors.py the errors.

Asynchronous calls: `get_async`, `put_async`, `append_async`, `delete_async`, `cas_async`
take the same arguments and return a `concurrent.futures.Future` of what the blocking call
returns (or raises: OutcomeUnknown, Unavailable, InvalidRequest, ValueTooLarge, ...). Bad
input, a bad `timeout_s`, a closed client (`ClientClosed`) and a full queue (`QueueFull`)
raise at once, before anything is sent. No thread per call: the attempts run on the router
connection's reader thread, driven by RPC completions and timers (attempts.py: a silent
server is left after about an election timeout). Future callbacks run on that thread too:
keep them short; `*_async` from one is fine, a blocking call raises. A future can be
cancelled only while it waits in the queue (nothing sent yet).

The pool: at most `clerks_max` sessions ("clerks", 6.824's name). A call, blocking or not,
takes an idle session or makes a new one; when all `clerks_max` are busy it waits in one
FIFO queue (at most `queue_max` calls; past that the call raises QueueFull) and starts when
a session frees up. `clerks_max=1` gives 6.824's clerk: one session, calls in order. A
call's deadline counts from its submission, time in the queue included.

Coalescing (batching.py, on by default, `coalesce=False` turns it off): the attempts that
asynchronous calls start on the reader thread during one burst of replies leave, per
server, as one "KVServer.Batch" request, like a pipeline; each call keeps its own session,
sequence number, deadline, retries and errors.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any

from sentinel.kvraft.attempts import (
    RPC_TIMEOUT_S,
    SILENCE_S,
    Request,
    SessionState,
    prepare,
)
from sentinel.kvraft.batching import Coalescer
from sentinel.kvraft.commands import Append, Cas, Delete, Get, Put
from sentinel.kvraft.jobs import ClientClosed, Job
from sentinel.kvraft.keyspace import Error, Reply
from sentinel.kvraft.limits import InvalidRequest, validate_int, validate_timeout_s
from sentinel.kvraft.protocol import SERVICE, ServerState
from sentinel.kvraft.redisreq import Call, exec_call, reads_call, redis_call, versions_call
from sentinel.netsim.client import Network
from sentinel.netsim.protocol import NODE_ID_MAX
from sentinel.netsim.rpc import RpcReply

TIMEOUT_S_DEFAULT = 10.0
#: Sessions (clerks) one Client keeps; calls beyond this many at once wait for one.
CLERKS_MAX_DEFAULT = 64
#: Calls that may wait for a session at once; past that a call raises QueueFull.
QUEUE_MAX_DEFAULT = 10_000


class QueueFull(RuntimeError):
    """Every session is busy and `queue_max` calls already wait for one; nothing was sent."""


class Client:
    """A thread-safe kv client over one router connection (see the module docstring)."""

    def __init__(
        self,
        network: Network,
        servers: Sequence[int],
        clerks_max: int = CLERKS_MAX_DEFAULT,
        rpc_timeout_s: float = RPC_TIMEOUT_S,
        owns_network: bool = True,
        queue_max: int = QUEUE_MAX_DEFAULT,
        coalesce: bool = True,
        silence_s: float = SILENCE_S,
    ) -> None:
        self.servers = check_pool(servers, clerks_max, queue_max)
        self.network = network
        self.clerks_max = clerks_max
        self.queue_max = queue_max
        self.rpc_timeout_s, self.silence_s = check_waits(rpc_timeout_s, silence_s)
        self._owns_network = owns_network
        self._sessions: list[SessionState] = []  # every session made (<= clerks_max)
        self._idle: list[SessionState] = []
        self._waiting: deque[Job] = deque()  # FIFO of calls waiting for a session
        self._leader = self.servers[0]  # the last leader any session found
        self._lock = threading.Lock()
        self._closed = False
        #: Async attempts to one server started in one burst travel as one batch (batching.py).
        self.coalescer = Coalescer(network) if coalesce else None

    # -- blocking calls: the asynchronous ones, waited on ----------------------------------

    def get(self, key: str, timeout_s: float = TIMEOUT_S_DEFAULT) -> str | None:
        """The value of `key`, or None when it is absent."""
        return self._wait(prepare(Get, key), timeout_s)

    def put(self, key: str, value: str, timeout_s: float = TIMEOUT_S_DEFAULT) -> None:
        """Set `key` to `value`."""
        self._wait(prepare(Put, key, value), timeout_s)

    def append(self, key: str, value: str, timeout_s: float = TIMEOUT_S_DEFAULT) -> None:
        """Append `value` to the value of `key` (a missing key counts as "")."""
        self._wait(prepare(Append, key, value), timeout_s)

    def delete(self, key: str, timeout_s: float = TIMEOUT_S_DEFAULT) -> bool:
        """Remove `key`; True if it was there."""
        return self._wait(prepare(Delete, key), timeout_s)

    def cas(
        self, key: str, expected: str | None, new: str, timeout_s: float = TIMEOUT_S_DEFAULT
    ) -> bool:
        """Set `key` to `new` if its value is `expected` (None: absent); True if it did."""
        return self._wait(prepare(Cas, key, expected, new), timeout_s)

    # -- asynchronous calls ----------------------------------------------------------------

    def get_async(self, key: str, timeout_s: float = TIMEOUT_S_DEFAULT) -> Future:
        """`get` without blocking: a Future of the value (None when absent)."""
        return self._submit(prepare(Get, key), timeout_s)

    def put_async(self, key: str, value: str, timeout_s: float = TIMEOUT_S_DEFAULT) -> Future:
        """`put` without blocking: a Future of None."""
        return self._submit(prepare(Put, key, value), timeout_s)

    def append_async(self, key: str, value: str, timeout_s: float = TIMEOUT_S_DEFAULT) -> Future:
        """`append` without blocking: a Future of None."""
        return self._submit(prepare(Append, key, value), timeout_s)

    def delete_async(self, key: str, timeout_s: float = TIMEOUT_S_DEFAULT) -> Future:
        """`delete` without blocking: a Future of whether the key was there."""
        return self._submit(prepare(Delete, key), timeout_s)

    def cas_async(
        self, key: str, expected: str | None, new: str, timeout_s: float = TIMEOUT_S_DEFAULT
    ) -> Future:
        """`cas` without blocking: a Future of whether it swapped."""
        return self._submit(prepare(Cas, key, expected, new), timeout_s)

    # -- Redis commands (redisreq.py): replies are sentinel.kvraft.keyspace reply objects --

    def redis_async(self, args: Sequence[bytes], timeout_s: float = TIMEOUT_S_DEFAULT) -> Future:
        """One Redis command (`args[0]` its name; every arg bytes): a Future of its reply.
        A write goes through the log under this client's exactly-once session (a retry is
        applied once and answers the original reply); a read is served by ReadIndex on the
        leader, and reads issued together share one round (coalescing). A command the
        keyspace's `validate` refuses (unknown, wrong arity, over a limit) is not sent: the
        Future holds that `Error` reply (not an exception), as Redis would answer it. The
        Future's exceptions are those of the str calls: Unavailable (certainly not applied),
        OutcomeUnknown (a write whose outcome is unknown). Arguments that are not bytes
        raise InvalidRequest at once."""
        return self._submit_call(redis_call(args), timeout_s)

    def redis_exec_async(
        self,
        commands: Sequence[Sequence[bytes]],
        watched: Mapping[bytes, int] | None = None,
        timeout_s: float = TIMEOUT_S_DEFAULT,
    ) -> Future:
        """A MULTI/EXEC block as one log entry, all or nothing: a Future of the list of its
        replies, or of None when a key of `watched` (key -> the version `redis_versions`
        read) changed since (nothing ran). A command `validate` refuses: the Future holds
        the first such `Error` reply instead and nothing is sent."""
        return self._submit_call(exec_call(commands, watched), timeout_s)

    def redis_reads_async(
        self, commands: Sequence[Sequence[bytes]], timeout_s: float = TIMEOUT_S_DEFAULT
    ) -> Future:
        """Several Redis read commands at one ReadIndex read point, in one request: a
        Future of the list of their replies. A command `validate` refuses, or a write: the
        Future holds the first such `Error` reply instead and nothing is sent."""
        return self._submit_call(reads_call(commands), timeout_s)

    def redis_versions_async(
        self, keys: Sequence[bytes], timeout_s: float = TIMEOUT_S_DEFAULT
    ) -> Future:
        """WATCH's versions of `keys` (a read): a Future of {key: version}."""
        return self._submit_call(versions_call(keys), timeout_s)

    def run_together(self, fn: Callable[[], None]) -> None:
        """Run `fn()` soon on the router connection's reader thread, where the asynchronous
        calls it starts are coalesced (one request per server, the reads sharing one
        ReadIndex round) as those of one burst of replies are. For a caller on another
        thread (the Redis front door's loop) with many calls to start at once. `fn` must be
        quick and must not block; an exception in it is logged. On the reader thread itself
        (a network read by an asyncio loop) `fn()` runs at once. Raises NetworkClosed once
        the connection is closed."""
        if self.network.on_reader_thread() and not self.network.closed:
            return self.network.burst(fn)
        self.network.call_later(0.0, fn)

    def redis(self, args: Sequence[bytes], timeout_s: float = TIMEOUT_S_DEFAULT) -> Reply:
        """`redis_async` waited on."""
        return self._wait_call(redis_call(args), timeout_s)

    def redis_exec(
        self,
        commands: Sequence[Sequence[bytes]],
        watched: Mapping[bytes, int] | None = None,
        timeout_s: float = TIMEOUT_S_DEFAULT,
    ) -> list[Reply] | Error | None:
        """`redis_exec_async` waited on."""
        return self._wait_call(exec_call(commands, watched), timeout_s)

    def redis_versions(
        self, keys: Sequence[bytes], timeout_s: float = TIMEOUT_S_DEFAULT
    ) -> dict[bytes, int]:
        """`redis_versions_async` waited on."""
        return self._wait_call(versions_call(keys), timeout_s)

    def _submit_call(self, call: Call | Error, timeout_s: float) -> Future:
        if isinstance(call, Error):
            validate_timeout_s(timeout_s)
            future: Future = Future()
            future.set_result(call)
            return future
        return self._submit(Request(*call), timeout_s)

    def _wait_call(self, call: Call | Error, timeout_s: float) -> Any:
        if isinstance(call, Error):
            validate_timeout_s(timeout_s)
            return call
        return self._wait(Request(*call), timeout_s)

    def server_states(self, timeout_s: float = 1.0) -> dict[int, ServerState | None]:
        """Each server's view of itself ("KVServer.State": node id, term, whether it leads,
        the leader it knows, commit and applied index, stored keys), asked of all at once;
        None for a server that did not answer within `timeout_s`. For INFO's raft section
        and tools; it is not a linearizable read."""
        validate_timeout_s(timeout_s)
        if self.network.on_reader_thread():
            raise RuntimeError("a blocking call from a callback would wait for its own thread")
        futures = {server: Future() for server in self.servers}
        for server, future in futures.items():

            def done(reply: RpcReply | None, future: Future = future) -> None:
                value = None if reply is None else reply.value
                future.set_result(value if isinstance(value, ServerState) else None)

            try:
                self.network.call_async(server, f"{SERVICE}.State", None, timeout_s, done)
            except Exception:  # closed or over a bound: no answer from that one
                future.set_result(None)
        deadline = time.monotonic() + timeout_s + 1.0  # the network times each call out
        return {
            server: future.result(max(0.0, deadline - time.monotonic()))
            for server, future in futures.items()
        }

    # -- the pool --------------------------------------------------------------------------

    def _wait(self, request: Request, timeout_s: float) -> Any:
        """Submit `request` and wait for its outcome. Its own deadline ends the call, so
        the wait needs none; interrupted (Ctrl-C), a call still in the queue leaves it."""
        future = self._submit(request, timeout_s, blocking=True)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # only while queued: nothing was sent
            raise

    def _submit(self, request: Request, timeout_s: float, blocking: bool = False) -> Future:
        job = Job(self, request, _deadline(timeout_s))
        if blocking and self.network.on_reader_thread():  # before anything is sent
            raise RuntimeError("a blocking call from a callback would wait for its own thread")
        with self._lock:
            session = self._take()
            if session is None:
                if len(self._waiting) >= self.queue_max:
                    raise QueueFull(
                        f"{self.clerks_max} clerks busy and {self.queue_max} calls waiting"
                    )
                self._waiting.append(job)
                return job.future
        self._launch(session, job)
        return job.future

    def _take(self) -> SessionState | None:
        """An idle or new session (lock held), lent with the last known leader; None if
        every session is busy."""
        if self._closed:
            raise ClientClosed("the client is closed")
        if self._idle:
            session = self._idle.pop()
        elif len(self._sessions) < self.clerks_max:
            session = SessionState(self.servers)
            self._sessions.append(session)
        else:
            return None
        if self._leader in session.servers:
            session.leader = session.servers.index(self._leader)
        return session

    def _release(self, session: SessionState) -> Job | None:
        """Take `session` back: hand it to the first waiting call (returned, for the caller
        to launch outside any callback chain) or make it idle."""
        with self._lock:
            self._leader = session.servers[session.leader % len(session.servers)]
            if self._waiting and not self._closed:
                return self._waiting.popleft()
            self._idle.append(session)
            return None

    def _launch(self, session: SessionState, job: Job | None) -> None:
        """Start `job` on `session`, and the next queued ones while they end at once."""
        while job is not None:
            if job.begin(session):
                return  # in flight: `_job_done` takes over
            nxt = self._release(session)
            job.settle()
            job = nxt

    def _job_done(self, job: Job) -> None:
        session: SessionState = job.session  # type: ignore[assignment]
        nxt = self._release(session)  # first, so the future's callbacks find a free session
        job.settle()
        self._launch(session, nxt)

    # -- the sessions, for tools and tests -------------------------------------------------

    @property
    def leader(self) -> int:
        """The node id of the server that answered last (the leader, as far as we know)."""
        return self._leader

    @property
    def rpcs(self) -> int:
        """RPC attempts sent so far by every session (tests: "nothing was sent")."""
        with self._lock:
            return sum(session.rpcs for session in self._sessions)

    def set_servers(self, servers: Sequence[int]) -> None:
        """Change the servers every session talks to (6.824's tests: a client's reachable
        set). A call in flight uses the new set from its next attempt."""
        ids = check_pool(servers, self.clerks_max, self.queue_max)
        with self._lock:
            self.servers = ids
            if self._leader not in ids:
                self._leader = ids[0]
            for session in self._sessions:
                session.set_servers(ids)

    def close(self) -> None:
        """Close: waiting calls fail with ClientClosed; calls in flight end (OutcomeUnknown or
        Unavailable) as the router connection closes (if this client opened it)."""
        with self._lock:
            self._closed = True
            waiting = list(self._waiting)
            self._waiting.clear()
        for job in waiting:
            job.abandon()
        if self._owns_network:
            self.network.close()

    @property
    def closed(self) -> bool:
        """Whether no call can succeed any more: closed, or its router connection is gone."""
        return self._closed or self.network.closed

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _deadline(timeout_s: float) -> float:
    return time.monotonic() + validate_timeout_s(timeout_s)


def check_pool(servers: Sequence[int], clerks_max: int, queue_max: int) -> tuple[int, ...]:
    """The server ids as a tuple, once they and the pool's bounds are checked
    (InvalidRequest, or TypeError for servers that are not a sequence)."""
    if isinstance(servers, str | bytes) or not isinstance(servers, Sequence | set | frozenset):
        raise TypeError(f"servers must be a sequence of node ids, not {type(servers).__name__}")
    if not servers:
        raise InvalidRequest("servers must name at least one node")
    ids = tuple(validate_int(node, "a server id", 1, NODE_ID_MAX) for node in servers)
    validate_int(clerks_max, "clerks_max", 1, 2**31)
    validate_int(queue_max, "queue_max", 0, 2**31)
    return ids


def check_waits(rpc_timeout_s: float, silence_s: float) -> tuple[float, float]:
    """The attempt waits, checked as call timeouts are (TypeError, InvalidRequest)."""
    return validate_timeout_s(rpc_timeout_s, "rpc_timeout_s"), validate_timeout_s(
        silence_s, "silence_s"
    )
