"""Shard-wide Redis commands on a sharded store: each runs on every shard and the replies
are merged, as a Redis Cluster proxy runs a keyless command on every master.

- DBSIZE: the sum of the shards' counts.
- KEYS pattern: every shard's matching keys, merged in byte order.
- FLUSHDB, FLUSHALL: every shard flushed, each a write through its group's log under the
  clerk's session on that shard (so a retry applies once); OK once all are, else the first
  error in shard order (any of the shards may be flushed then).
- SCAN cursor [MATCH p] [COUNT n] [TYPE t]: the cursor names a shard and a position in
  that shard's own SCAN: `cursor = position * nshards + shard`, so 0 starts at shard 0 and
  0 again means done. A call pages through shards in order until it has COUNT keys or a
  shard's SCAN stops midway. A cursor names shards, not groups, and a shard moves with its
  data, so a cursor stays good while shards move between groups.

DBSIZE, KEYS and FLUSH* ask the shards at once (`ShardParts`: one call per shard, each
shard's reply put at its place); SCAN asks one shard after another, as its cursor walks.

Consistency: each shard's part is linearizable (a read at that shard's read point, or a
write through its group's log), but the parts are not taken at one instant: the whole is
not a snapshot. A key written while DBSIZE or KEYS runs may be counted or not; SCAN keeps
Redis's guarantee (a key present for the whole scan is returned at least once, a key may be
returned twice) and no more.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from sentinel.kvraft.keyspace import Array, Bulk, Error, Int, Reply
from sentinel.kvraft.keyspace.scan import parse_scan

C = TypeVar("C")
T = TypeVar("T")
#: Runs a Redis command on one shard: (args, shard) -> its reply.
RedisOn = Callable[[Sequence[bytes], int], Reply]
#: Runs a Redis command on each of `nshards` shards: (args, nshards) -> the replies in
#: shard order.
RedisOnAll = Callable[[Sequence[bytes], int], Sequence[Reply]]


def run_on_every_shard(
    redis_on: RedisOn, args: Sequence[bytes], nshards: int, redis_on_all: RedisOnAll | None = None
) -> Reply:
    """The merged reply of the shard-wide command `args` over shards 0..nshards-1, or the
    first shard's error (see the module docstring). SCAN walks the shards with `redis_on`;
    the others ask every shard through `redis_on_all` (by default `redis_on` on each shard
    in turn)."""
    name = bytes(args[0]).upper()
    if name == b"SCAN":
        return _scan(redis_on, list(args), nshards)
    if redis_on_all is None:
        replies: Sequence[Reply] = [redis_on(args, shard) for shard in range(nshards)]
    else:
        replies = redis_on_all(args, nshards)
    error = next((r for r in replies if isinstance(r, Error)), None)
    if error is not None:
        return error
    if len(replies) != nshards:
        return _odd(name)
    if name == b"DBSIZE":
        counts = [r.value for r in replies if isinstance(r, Int)]
        return Int(sum(counts)) if len(counts) == nshards else _odd(name)
    if name == b"KEYS":
        if not all(isinstance(r, Array) for r in replies):
            return _odd(name)
        found = [item for r in replies for item in r.items]  # type: ignore[union-attr]
        return Array(tuple(sorted(found, key=_data)))
    return replies[0]  # FLUSHDB, FLUSHALL: every shard answered OK


class ShardParts(Generic[C]):
    """Runs the parts of one shard-wide command at once, one part per shard (so at most one
    call outstanding per shard for that command), each part a blocking call on a clerk of
    its own (a clerk makes one call at a time): the first on the caller's clerk and thread,
    the others on at most `workers_max` worker threads shared by all commands, with clerks
    from `take` given back to `give`. A part never waits for another, so parts queued
    behind other commands' parts only wait for a worker."""

    def __init__(self, take: Callable[[], C], give: Callable[[C], None], workers_max: int) -> None:
        if workers_max < 1:
            raise ValueError("workers_max must be at least 1")
        self._take, self._give = take, give
        self._workers = ThreadPoolExecutor(workers_max, thread_name_prefix="shard-part")

    def run(self, clerk: C, parts: Sequence[Callable[[C], T]]) -> list[T | Exception]:
        """Each of `parts` called with a clerk, all at once: their results in order, an
        exception a part raised in its place. Returns once every part is done."""
        if not parts:
            return []
        futures = [self._workers.submit(self._on_clerk, part) for part in parts[1:]]
        first = _outcome(parts[0], clerk)
        return [first, *(future.result() for future in futures)]

    def _on_clerk(self, part: Callable[[C], T]) -> T | Exception:
        """`part` on a clerk from `take` (a new clerk asks the controller: that may fail
        too), given back unless it failed, as the client's own calls do."""
        try:
            clerk = self._take()
            outcome = part(clerk)
        except Exception as exc:  # handed to the caller, which raises it
            return exc
        self._give(clerk)
        return outcome

    def close(self) -> None:
        """Stop: parts not yet started are cancelled (their commands' waits raise)."""
        self._workers.shutdown(wait=False, cancel_futures=True)


def _outcome(part: Callable[[C], T], clerk: C) -> T | Exception:
    """What `part(clerk)` returns, or the exception it raises."""
    try:
        return part(clerk)
    except Exception as exc:  # handed to the caller, which raises it
        return exc


def _scan(redis_on: RedisOn, args: list[bytes], nshards: int) -> Reply:
    """SCAN over the shards from the shard and position the cursor names."""
    options = parse_scan(args, 1, allow_type=True)
    if isinstance(options, Error):
        return options
    shard, position = options.cursor % nshards, options.cursor // nshards
    found: list[Reply] = []
    while shard < nshards:  # each shard at most once
        reply = redis_on([args[0], str(position).encode(), *args[2:]], shard)
        page = _page(reply)
        if page is None:
            return reply if isinstance(reply, Error) else _odd(b"SCAN")
        position, keys = page
        found.extend(keys)
        if position != 0:
            return _scan_reply(position * nshards + shard, found)
        shard += 1
        if len(found) >= options.count:
            break
    return _scan_reply(shard if shard < nshards else 0, found)


def _page(reply: Reply) -> tuple[int, tuple[Reply, ...]] | None:
    """A shard's SCAN reply as (next position, keys); None if it is not one."""
    if not isinstance(reply, Array) or len(reply.items) != 2:
        return None
    cursor, keys = reply.items
    if not isinstance(cursor, Bulk) or not isinstance(keys, Array) or not cursor.data.isdigit():
        return None
    return int(cursor.data), keys.items


def _scan_reply(cursor: int, keys: list[Reply]) -> Reply:
    return Array((Bulk(str(cursor).encode()), Array(tuple(keys))))


def _data(item: Reply) -> bytes:
    return item.data if isinstance(item, Bulk) else b""


def _odd(name: bytes) -> Error:
    """A shard answered a shard-wide command with something it never answers (a bug)."""
    return Error(f"ERR a shard answered {name.decode()} with an unexpected reply")
