"""Shard-wide commands merged over shards (shard/fanout.py), each shard a real keyspace:
DBSIZE sums, KEYS merges in byte order, FLUSHDB reaches every shard, and a SCAN walked
from cursor 0 to 0 returns every key exactly once (none is written meanwhile) whatever
COUNT, MATCH and TYPE say; a bad cursor or option gets the unsharded store's error. The
sharded client asks every shard at once, once each, within one deadline, and a FLUSHDB
that fails on a shard is an unknown outcome, not "nothing changed"."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence

import pytest

from sentinel.kvraft.errors import OutcomeUnknown, Unavailable
from sentinel.kvraft.keyspace import Array, Bulk, Error, Int, Keyspace, Reply, Simple
from sentinel.shard.config import NSHARDS, ShardConfig, key_shard
from sentinel.shard.fanout import ShardParts, run_on_every_shard
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
    """A ShardClerk stand-in over `Shards`: shard `down` is unreachable; each call's shard
    and deadline go to `calls`. With `together` set, a call waits until that many calls are
    in flight at once (or fails past a deadline)."""

    def __init__(
        self, shards: Shards, down: int, calls: list[tuple[int, float]],
        together: threading.Barrier | None = None,
    ) -> None:  # fmt: skip
        self.shards, self.down, self.calls, self.together = shards, down, calls, together
        self.config = ShardConfig(1, (1,) * NSHARDS, ((1, ("g1.1",)),))
        self.deadline_s = 5.0

    def redis(self, args: Sequence[bytes], shard: int | None = None) -> Reply:
        assert shard is not None
        self.calls.append((shard, self.deadline_s))
        if self.together is not None:
            self.together.wait(timeout=5.0)  # BrokenBarrierError if the calls were not at once
        if shard == self.down:
            raise Unavailable(f"no group answered on shard {shard}")
        return self.shards.redis_on(args, shard)


PartsOf = Callable[[Callable[[], _Clerk]], ShardParts[_Clerk]]


@pytest.fixture
def parts_of() -> Iterator[PartsOf]:
    """Makes ShardParts whose clerks are the stand-ins `take` makes; closes them."""
    made: list[ShardParts[_Clerk]] = []

    def make(take: Callable[[], _Clerk]) -> ShardParts[_Clerk]:
        made.append(ShardParts(take, lambda clerk: None, NSHARDS))
        return made[-1]

    yield make
    for parts in made:
        parts.close()


def test_every_shard_is_asked_at_once_once(shards: Shards, parts_of: PartsOf) -> None:
    calls: list[tuple[int, float]] = []
    together = threading.Barrier(NSHARDS)
    parts = parts_of(lambda: _Clerk(shards, -1, calls, together))
    clerk = _Clerk(shards, -1, calls, together)
    assert _on_every_shard(clerk, parts, [b"DBSIZE"]) == Int(201)  # type: ignore[arg-type]
    assert sorted(shard for shard, _ in calls) == list(range(NSHARDS))  # one call per shard
    keys = _on_every_shard(clerk, parts, [b"KEYS", b"*"])  # type: ignore[arg-type]
    assert keys == shards.run(b"KEYS", b"*")  # merged in order whatever order they answer


def test_a_flush_that_fails_on_a_shard_is_unknown_not_unavailable(
    shards: Shards, parts_of: PartsOf
) -> None:
    calls: list[tuple[int, float]] = []
    parts = parts_of(lambda: _Clerk(shards, 4, calls))
    clerk = _Clerk(shards, 4, calls)
    with pytest.raises(OutcomeUnknown, match="9 of 10 shards applied it"):
        _on_every_shard(clerk, parts, [b"FLUSHDB"])  # type: ignore[arg-type]
    assert shards.spaces[0].apply([b"DBSIZE"], NOW_MS) == Int(0)  # the others were flushed
    assert shards.spaces[4].apply([b"DBSIZE"], NOW_MS) != Int(0)
    assert all(0 < deadline_s <= 5.0 for _, deadline_s in calls)  # one deadline over all
    with pytest.raises(Unavailable):
        _on_every_shard(clerk, parts, [b"DBSIZE"])  # type: ignore[arg-type]  # nothing changed
