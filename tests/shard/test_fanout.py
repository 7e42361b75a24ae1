"""Shard-wide commands merged over shards (shard/fanout.py), each shard a real keyspace:
DBSIZE sums, KEYS merges in byte order, FLUSHDB reaches every shard, and a SCAN walked
from cursor 0 to 0 returns every key exactly once (none is written meanwhile) whatever
COUNT, MATCH and TYPE say; a bad cursor or option gets the unsharded store's error. The
sharded client runs them within one deadline, and a FLUSHDB that stops midway is an
unknown outcome, not "nothing changed"."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from sentinel.kvraft.errors import OutcomeUnknown, Unavailable
from sentinel.kvraft.keyspace import Array, Bulk, Error, Int, Keyspace, Reply, Simple
from sentinel.shard.config import NSHARDS, ShardConfig, key_shard
from sentinel.shard.fanout import run_on_every_shard
from sentinel.shard.pool import _on_every_shard

NOW_MS = 1_000


class Shards:
    """NSHARDS keyspaces; a key is set in the one its shard names."""

    def __init__(self) -> None:
        self.spaces = [Keyspace() for _ in range(NSHARDS)]
        self.calls: list[int] = []

    def set(self, key: bytes, value: bytes = b"v") -> None:
        self.spaces[key_shard(key)].apply([b"SET", key, value], NOW_MS)

    def redis_on(self, args: Sequence[bytes], shard: int) -> Reply:
        self.calls.append(shard)
        return self.spaces[shard].apply(list(args), NOW_MS)

    def run(self, *args: bytes) -> Reply:
        return run_on_every_shard(self.redis_on, list(args), NSHARDS)


def _scan_all(shards: Shards, *options: bytes) -> list[bytes]:
    found: list[bytes] = []
    cursor = b"0"
    for _ in range(10_000):
        reply = shards.run(b"SCAN", cursor, *options)
        assert isinstance(reply, Array)
        head, keys = reply.items
        assert isinstance(head, Bulk) and isinstance(keys, Array)
        found += [k.data for k in keys.items if isinstance(k, Bulk)]
        cursor = head.data
        if cursor == b"0":
            return found
    raise AssertionError("SCAN never returned cursor 0")


@pytest.fixture
def shards() -> Shards:
    made = Shards()
    for i in range(200):
        made.set(f"key:{i}".encode())
    made.spaces[key_shard(b"h")].apply([b"HSET", b"h", b"f", b"1"], NOW_MS)
    assert len({key_shard(f"key:{i}") for i in range(200)}) == NSHARDS
    return made


def test_dbsize_and_keys_cover_every_shard(shards: Shards) -> None:
    assert shards.run(b"DBSIZE") == Int(201)
    assert shards.calls == list(range(NSHARDS))
    keys = shards.run(b"KEYS", b"key:1*")
    wanted = sorted(f"key:{i}".encode() for i in range(200) if str(i).startswith("1"))
    assert keys == Array(tuple(Bulk(k) for k in wanted))


@pytest.mark.parametrize("count", [b"1", b"10", b"1000"])
def test_scan_returns_every_key_once(shards: Shards, count: bytes) -> None:
    found = _scan_all(shards, b"COUNT", count)
    assert sorted(found) == sorted([f"key:{i}".encode() for i in range(200)] + [b"h"])


def test_scan_match_and_type_pass_to_every_shard(shards: Shards) -> None:
    assert _scan_all(shards, b"TYPE", b"hash") == [b"h"]
    assert sorted(_scan_all(shards, b"MATCH", b"key:19*")) == [b"key:19"] + [
        f"key:19{i}".encode() for i in range(10)
    ]


def test_scan_cursor_names_a_shard_and_a_position(shards: Shards) -> None:
    reply = shards.run(b"SCAN", b"7", b"COUNT", b"1")  # shard 7 from its start
    assert isinstance(reply, Array)
    assert shards.calls[0] == 7
    keys = reply.items[1]
    assert isinstance(keys, Array) and keys.items
    assert all(isinstance(k, Bulk) and key_shard(k.data) == 7 for k in keys.items)


def test_scan_errors_are_the_unsharded_ones(shards: Shards) -> None:
    assert shards.run(b"SCAN", b"x") == Error("ERR invalid cursor")
    assert shards.run(b"SCAN", b"0", b"COUNT", b"0") == Keyspace().apply(
        [b"SCAN", b"0", b"COUNT", b"0"], NOW_MS
    )
    assert shards.calls == []  # refused before any shard was asked


def test_flushdb_empties_every_shard(shards: Shards) -> None:
    assert shards.run(b"FLUSHDB") == Simple("OK")
    assert shards.run(b"DBSIZE") == Int(0)


def test_a_shard_error_is_the_answer(shards: Shards) -> None:
    def failing(args: Sequence[bytes], shard: int) -> Reply:
        return Error("TRYAGAIN shard 3") if shard == 3 else shards.redis_on(args, shard)

    assert run_on_every_shard(failing, [b"DBSIZE"], NSHARDS) == Error("TRYAGAIN shard 3")
    assert run_on_every_shard(failing, [b"SCAN", b"3"], NSHARDS) == Error("TRYAGAIN shard 3")


class _Clerk:
    """A ShardClerk stand-in over `Shards`: shard `down` is unreachable."""

    def __init__(self, shards: Shards, down: int) -> None:
        self.shards, self.down = shards, down
        self.config = ShardConfig(1, (1,) * NSHARDS, ((1, ("g1.1",)),))
        self.deadline_s = 5.0
        self.deadlines_s: list[float] = []

    def redis(self, args: Sequence[bytes], shard: int | None = None) -> Reply:
        assert shard is not None
        self.deadlines_s.append(self.deadline_s)
        if shard == self.down:
            raise Unavailable(f"no group answered on shard {shard}")
        return self.shards.redis_on(args, shard)


def test_a_flush_that_stops_midway_is_unknown_not_unavailable(shards: Shards) -> None:
    clerk = _Clerk(shards, down=4)
    with pytest.raises(OutcomeUnknown, match="4 of 10 shards applied it"):
        _on_every_shard(clerk, [b"FLUSHDB"])  # type: ignore[arg-type]
    assert shards.spaces[0].apply([b"DBSIZE"], NOW_MS) == Int(0)  # shards 0-3 were flushed
    assert shards.spaces[5].apply([b"DBSIZE"], NOW_MS) != Int(0)
    with pytest.raises(Unavailable):
        _on_every_shard(clerk, [b"DBSIZE"])  # type: ignore[arg-type]  # a read: nothing changed
    deadlines = clerk.deadlines_s[:5]
    assert deadlines == sorted(deadlines, reverse=True) and deadlines[0] <= 5.0  # one deadline
