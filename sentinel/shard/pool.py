"""`ShardedClient`: the thread-safe client of a sharded store, with the kv client's calls
(`sentinel.kvraft.client.Client`: get, put, append, delete, cas, redis, redis_exec,
redis_versions, their `_async` forms returning Futures, redis_reads_async, run_together,
close), so one address serves the
whole store: `sentinel.connect` returns one for a sharded cluster directory.

Each call runs on a worker thread with a `ShardClerk` of its own (at most `clerks_max` at
once; up to `queue_max` more wait, past that QueueFull), which routes it by key to the group
owning its shard. A command whose keys span shards answers Redis's CROSSSLOT error. A group
of writes sent as one EXEC without WATCH (the Redis front door's pipelining of one
connection's writes) whose commands span shards runs as consecutive single-shard EXECs in
order, so the connection's writes still apply in order; a burst of reads over several
shards is read one shard after another (each shard's at one read point). A shard-wide
command (KEYS, SCAN, DBSIZE, FLUSHDB, FLUSHALL) runs on every shard, its replies merged
(fanout.py: each shard's part is linearizable, the whole is not a snapshot), alone or at its
place in such a group or burst; the shards are asked at once (SCAN's in turn), the other
shards' parts on at most `part_workers_max` threads shared by all calls, each with a clerk
of the pool.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sentinel.kvraft.client import QueueFull
from sentinel.kvraft.commands import Cas, Get, RedisRead
from sentinel.kvraft.errors import OutcomeUnknown, ValueTooLarge
from sentinel.kvraft.keyspace import COMMANDS, Error
from sentinel.kvraft.results import ResultCode
from sentinel.netsim.client import Network
from sentinel.netsim.client import connect as connect_network
from sentinel.shard.client import ShardClerk
from sentinel.shard.fanout import ShardParts, run_on_every_shard
from sentinel.shard.keys import ShardKeyError, command_shard, is_shard_wide

T = TypeVar("T")
CLERKS_MAX_DEFAULT = 16
QUEUE_MAX_DEFAULT = 10_000
#: Threads asking the shards of shard-wide commands (one command asks 10 shards at once).
PART_WORKERS_MAX_DEFAULT = 16
TIMEOUT_S_DEFAULT = 10.0
#: The controller's nodes in a cluster started by `up --groups` (cluster/shardlayout.py).
CTL_IDS_DEFAULT = (1, 2, 3)


class ShardedClient:
    """The kv client's calls over a sharded store (see the module docstring)."""

    def __init__(
        self, network: Network, ctl_ids: Sequence[int] = CTL_IDS_DEFAULT,
        clerks_max: int = CLERKS_MAX_DEFAULT, queue_max: int = QUEUE_MAX_DEFAULT,
        rpc_timeout_s: float = 0.5, part_workers_max: int = PART_WORKERS_MAX_DEFAULT,
    ) -> None:  # fmt: skip
        if clerks_max < 1 or queue_max < 0:
            raise ValueError("clerks_max must be at least 1 and queue_max not negative")
        self.network = network
        self._make = lambda: ShardClerk(network, ctl_ids, rpc_timeout_s)
        self._idle: queue.SimpleQueue[ShardClerk] = queue.SimpleQueue()
        self._executor = ThreadPoolExecutor(clerks_max, thread_name_prefix="shard-client")
        self._slots = threading.BoundedSemaphore(clerks_max + queue_max)
        self._parts = ShardParts(self._take_clerk, self._idle.put, part_workers_max)
        self._closed = False

    # -- the str API ---------------------------------------------------------------------

    def get_async(self, key: str, timeout_s: float = TIMEOUT_S_DEFAULT) -> Future:
        def get(clerk: ShardClerk) -> str | None:
            result = clerk.run(Get(key))
            return result.value if result.code is ResultCode.OK else None

        return self._submit(get, timeout_s)

    def put_async(self, key: str, value: str, timeout_s: float = TIMEOUT_S_DEFAULT) -> Future:
        return self._submit(lambda clerk: clerk.put(key, value), timeout_s)

    def append_async(self, key: str, value: str, timeout_s: float = TIMEOUT_S_DEFAULT) -> Future:
        def append(clerk: ShardClerk) -> None:
            if clerk.append(key, value).code is ResultCode.VALUE_TOO_LARGE:
                raise ValueTooLarge(f"appending to {key!r} would pass the value size limit")

        return self._submit(append, timeout_s)

    def delete_async(self, key: str, timeout_s: float = TIMEOUT_S_DEFAULT) -> Future:
        return self._submit(lambda clerk: clerk.delete(key), timeout_s)

    def cas_async(
        self, key: str, expected: str | None, new: str, timeout_s: float = TIMEOUT_S_DEFAULT
    ) -> Future:
        def cas(clerk: ShardClerk) -> bool:
            result = clerk.write(lambda cid, seq: Cas(key, expected, new, cid, seq))
            return result.code is ResultCode.OK

        return self._submit(cas, timeout_s)

    def get(self, key: str, timeout_s: float = TIMEOUT_S_DEFAULT) -> str | None:
        """The value of `key`, or None when it is absent."""
        return self.get_async(key, timeout_s).result()  # type: ignore[no-any-return]

    def put(self, key: str, value: str, timeout_s: float = TIMEOUT_S_DEFAULT) -> None:
        self.put_async(key, value, timeout_s).result()

    def append(self, key: str, value: str, timeout_s: float = TIMEOUT_S_DEFAULT) -> None:
        self.append_async(key, value, timeout_s).result()

    def delete(self, key: str, timeout_s: float = TIMEOUT_S_DEFAULT) -> bool:
        """Remove `key`; whether it was there."""
        return self.delete_async(key, timeout_s).result()  # type: ignore[no-any-return]

    def cas(
        self, key: str, expected: str | None, new: str, timeout_s: float = TIMEOUT_S_DEFAULT
    ) -> bool:
        """Set `key` to `new` if it holds `expected` (None: absent); whether it did."""
        return self.cas_async(key, expected, new, timeout_s).result()  # type: ignore[no-any-return]

    # -- Redis commands ------------------------------------------------------------------

    def redis_async(self, args: Sequence[bytes], timeout_s: float = TIMEOUT_S_DEFAULT) -> Future:
        return self._submit(lambda clerk: _redis(clerk, self._parts, args), timeout_s)

    def redis_exec_async(
        self, commands: Sequence[Sequence[bytes]], watched: Mapping[bytes, int] | None,
        timeout_s: float = TIMEOUT_S_DEFAULT,
    ) -> Future:  # fmt: skip
        return self._submit(lambda clerk: _exec(clerk, self._parts, commands, watched), timeout_s)

    def redis_reads_async(
        self, commands: Sequence[Sequence[bytes]], timeout_s: float = TIMEOUT_S_DEFAULT
    ) -> Future:
        """Several reads: a Future of their replies in order (one read point per shard)."""
        return self._submit(lambda clerk: _reads(clerk, self._parts, commands), timeout_s)

    def run_together(self, fn: Callable[[], None]) -> None:
        """Run `fn()` (which starts calls) now: each call has a worker thread of its own,
        so there is nothing to coalesce and no thread to hop to."""
        fn()

    def redis_versions_async(
        self, keys: Sequence[bytes], timeout_s: float = TIMEOUT_S_DEFAULT
    ) -> Future:
        return self._submit(lambda clerk: clerk.redis_versions(keys), timeout_s)

    def redis(self, args: Sequence[bytes], timeout_s: float = TIMEOUT_S_DEFAULT) -> Any:
        """One Redis command on the shard of its keys (on every shard for a shard-wide
        one): its reply."""
        return self.redis_async(args, timeout_s).result()

    def redis_exec(
        self, commands: Sequence[Sequence[bytes]], watched: Mapping[bytes, int] | None = None,
        timeout_s: float = TIMEOUT_S_DEFAULT,
    ) -> Any:  # fmt: skip
        """A MULTI/EXEC block on one shard: its replies (None: a watched key changed)."""
        return self.redis_exec_async(commands, watched, timeout_s).result()

    def redis_versions(self, keys: Sequence[bytes], timeout_s: float = TIMEOUT_S_DEFAULT) -> Any:
        return self.redis_versions_async(keys, timeout_s).result()

    # -- plumbing ------------------------------------------------------------------------

    def _submit(self, work: Callable[[ShardClerk], T], timeout_s: float) -> Future:
        if self._closed:
            raise RuntimeError("the client is closed")
        if not self._slots.acquire(blocking=False):
            raise QueueFull("too many calls waiting")

        def run() -> T:
            try:
                clerk = self._take_clerk()
                clerk.deadline_s = timeout_s
                answer = work(clerk)
                self._idle.put(clerk)
                return answer
            finally:
                self._slots.release()

        return self._executor.submit(run)

    def _take_clerk(self) -> ShardClerk:
        """An idle clerk, or a new one (it asks the controller for the configuration)."""
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            return self._make()

    def close(self) -> None:
        """Stop: calls not yet started are cancelled; the router connection closes."""
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._parts.close()
        self.network.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> ShardedClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _redis(clerk: ShardClerk, parts: ShardParts[ShardClerk], args: Sequence[bytes]) -> Any:
    """One command on its keys' shard, or a shard-wide one on every shard."""
    return _on_every_shard(clerk, parts, args) if is_shard_wide(args) else clerk.redis(args)


def _on_every_shard(clerk: ShardClerk, parts: ShardParts[ShardClerk], args: Sequence[bytes]) -> Any:
    """A shard-wide command on every shard (fanout.py) within the call's one deadline: the
    shards asked at once through `parts` (SCAN's one after another on `clerk`). A write
    (FLUSHDB) that some shards applied while another failed is OutcomeUnknown, never
    Unavailable: it was partly applied (running it again finishes it)."""
    end_s = time.monotonic() + clerk.deadline_s
    spec = COMMANDS.get(bytes(args[0]).upper())
    write = spec is not None and spec.write

    def on(command: Sequence[bytes], shard: int, on_clerk: ShardClerk = clerk) -> Any:
        on_clerk.deadline_s = end_s - time.monotonic()  # a clerk's deadline is per call
        return on_clerk.redis(command, shard)

    def on_all(command: Sequence[bytes], nshards: int) -> list[Any]:
        asks = [lambda c, s=shard: on(command, s, c) for shard in range(nshards)]
        outcomes = parts.run(clerk, asks)
        failed = [o for o in outcomes if isinstance(o, Exception)]
        if not failed:
            return outcomes
        applied = sum(not isinstance(o, (Exception, Error)) for o in outcomes)
        if write and (applied or any(isinstance(o, OutcomeUnknown) for o in failed)):
            what = f"{failed[0]}; {applied} of {nshards} shards applied it"
            raise OutcomeUnknown(what) from failed[0]
        raise failed[0]

    return run_on_every_shard(on, args, len(clerk.config.shards), on_all)


#: The run key of a shard-wide command in `_by_shard`: it runs alone, on every shard.
EVERY_SHARD = -1


def _by_shard(
    clerk: ShardClerk, commands: Sequence[Sequence[bytes]]
) -> list[tuple[int, list[int]]] | None:
    """The commands' positions in runs of consecutive commands on one shard, a shard-wide
    command alone in a run of EVERY_SHARD (None: a command that cannot run on one shard)."""
    runs: list[tuple[int, list[int]]] = []
    for at, args in enumerate(commands):
        try:
            read = RedisRead(tuple(bytes(a) for a in args))
            shard = command_shard(read, len(clerk.config.shards))
        except ShardKeyError:
            return None
        if shard is None:
            runs.append((EVERY_SHARD, [at]))
        elif runs and runs[-1][0] == shard:
            runs[-1][1].append(at)
        else:
            runs.append((shard, [at]))
    return runs


def _single(runs: list[tuple[int, list[int]]] | None) -> bool:
    """Whether `runs` is not a split into runs (None, or one run on one shard)."""
    return runs is None or (len(runs) == 1 and runs[0][0] != EVERY_SHARD)


def _reads(
    clerk: ShardClerk, parts: ShardParts[ShardClerk], commands: Sequence[Sequence[bytes]]
) -> Any:
    """Reads at one read point per run of one shard, the replies put back in order."""
    runs = _by_shard(clerk, commands)
    if _single(runs):
        return clerk.redis_reads(commands)  # one shard, or the error reply
    assert runs is not None
    replies: list[Any] = []
    for shard, positions in runs:
        if shard == EVERY_SHARD:
            replies.append(_redis(clerk, parts, commands[positions[0]]))
            continue
        answer = clerk.redis_reads([commands[at] for at in positions])
        if not isinstance(answer, list):
            return answer
        replies.extend(answer)
    return replies


def _exec(
    clerk: ShardClerk, parts: ShardParts[ShardClerk], commands: Sequence[Sequence[bytes]],
    watched: Mapping[bytes, int] | None,
) -> Any:  # fmt: skip
    """An EXEC; without WATCH and across shards, consecutive single-shard EXECs in order
    (a shard-wide command on every shard, at its place)."""
    runs = _by_shard(clerk, commands) if not watched else None
    if _single(runs):
        return clerk.redis_exec(commands, watched)  # one shard, WATCH, or the error reply
    assert runs is not None
    replies: list[Any] = []
    for shard, positions in runs:
        if shard == EVERY_SHARD:
            replies.append(_redis(clerk, parts, commands[positions[0]]))
            continue
        answer = clerk.redis_exec([commands[at] for at in positions], None)
        if not isinstance(answer, list):
            return answer if isinstance(answer, Error) else Error("ERR the group did not run")
        replies.extend(answer)
    return replies


def connect(cluster_dir: str | os.PathLike[str], **options: Any) -> ShardedClient:
    """A ShardedClient of the sharded cluster in `cluster_dir` (through its router)."""
    network = connect_network(Path(cluster_dir))
    try:
        return ShardedClient(network, **options)
    except BaseException:
        network.close()
        raise
