"""Shard-wide Redis commands on a sharded store: each runs on every shard and the replies
are merged, as a Redis Cluster proxy runs a keyless command on every master.

- DBSIZE: the sum of the shards' counts.
- KEYS pattern: every shard's matching keys, merged in byte order.
- FLUSHDB, FLUSHALL: each shard flushed in turn, each a write through its group's log under
  the clerk's session on that shard (so a retry applies once); OK once all are, else the
  first error (the shards before it are flushed, the others not).
- SCAN cursor [MATCH p] [COUNT n] [TYPE t]: the cursor names a shard and a position in
  that shard's own SCAN: `cursor = position * nshards + shard`, so 0 starts at shard 0 and
  0 again means done. A call pages through shards in order until it has COUNT keys or a
  shard's SCAN stops midway. A cursor names shards, not groups, and a shard moves with its
  data, so a cursor stays good while shards move between groups.

Consistency: each shard's part is linearizable (a read at that shard's read point, or a
write through its group's log), but the parts are taken one after another, not at one
instant: the whole is not a snapshot. A key written while DBSIZE or KEYS runs may be
counted or not; SCAN keeps Redis's guarantee (a key present for the whole scan is returned
at least once, a key may be returned twice) and no more.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sentinel.kvraft.keyspace import Array, Bulk, Error, Int, Reply
from sentinel.kvraft.keyspace.scan import parse_scan

#: Runs a Redis command on one shard: (args, shard) -> its reply.
RedisOn = Callable[[Sequence[bytes], int], Reply]


def run_on_every_shard(redis_on: RedisOn, args: Sequence[bytes], nshards: int) -> Reply:
    """The merged reply of the shard-wide command `args` over shards 0..nshards-1, or the
    first shard's error (see the module docstring)."""
    name = bytes(args[0]).upper()
    if name == b"SCAN":
        return _scan(redis_on, list(args), nshards)
    replies: list[Reply] = []
    for shard in range(nshards):
        reply = redis_on(args, shard)
        if isinstance(reply, Error):
            return reply
        replies.append(reply)
    if name == b"DBSIZE":
        counts = [r.value for r in replies if isinstance(r, Int)]
        return Int(sum(counts)) if len(counts) == nshards else _odd(name)
    if name == b"KEYS":
        if not all(isinstance(r, Array) for r in replies):
            return _odd(name)
        found = [item for r in replies for item in r.items]  # type: ignore[union-attr]
        return Array(tuple(sorted(found, key=_data)))
    return replies[0]  # FLUSHDB, FLUSHALL: every shard answered OK


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
