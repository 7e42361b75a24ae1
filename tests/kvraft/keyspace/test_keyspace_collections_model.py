"""Random list and sorted set command sequences against `Keyspace` and a tiny independent
model of Redis's semantics (plain Python lists and dicts, everything O(n)): every reply
must agree. Hypothesis prints the failing sequence (and its seed)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.kvraft.keyspace import Keyspace
from tests.kvraft.keyspace.helpers import plain

WRONGTYPE = "-WRONGTYPE Operation against a key holding the wrong kind of value"
NOW = 1_000_000
ZADD_FLAGS = {b"NX", b"XX", b"GT", b"LT", b"CH", b"INCR"}


def redis_slice(start: int, stop: int, size: int) -> range:
    """Redis's inclusive start..stop with negative indexes, as Python positions."""
    start = start + size if start < 0 else start
    stop = stop + size if stop < 0 else stop
    start = max(start, 0)
    stop = min(stop, size - 1)
    return range(start, stop + 1) if start <= stop else range(0)


class Model:
    """key -> bytes | list[bytes] | dict[bytes, float]."""

    def __init__(self) -> None:
        self.data: dict[bytes, Any] = {}

    def get(self, key: bytes, kind: type) -> Any:
        value = self.data.get(key)
        if value is not None and type(value) is not kind:
            raise TypeError
        return value

    def tidy(self, key: bytes) -> None:
        value = self.data.get(key)
        if type(value) is not bytes and not value:
            del self.data[key]

    def run(self, args: list[bytes]) -> Any:
        name = args[0].decode().lower()
        try:
            return getattr(self, "cmd_" + name)(*args[1:])
        except TypeError:
            return WRONGTYPE
        finally:
            for key in list(self.data):
                self.tidy(key)

    # -- strings and keys
    def cmd_set(self, key: bytes, value: bytes) -> Any:
        self.data[key] = value
        return "+OK"

    def cmd_del(self, key: bytes) -> Any:
        return int(self.data.pop(key, None) is not None)

    # -- lists
    def _push(self, key: bytes, items: tuple[bytes, ...], left: bool, only_if: bool) -> Any:
        current = self.get(key, list)
        if current is None:
            if only_if:
                return 0
            current = self.data[key] = []
        for item in items:
            current.insert(0, item) if left else current.append(item)
        return len(current)

    def cmd_lpush(self, key: bytes, *items: bytes) -> Any:
        return self._push(key, items, True, False)

    def cmd_rpush(self, key: bytes, *items: bytes) -> Any:
        return self._push(key, items, False, False)

    def cmd_lpushx(self, key: bytes, *items: bytes) -> Any:
        return self._push(key, items, True, True)

    def cmd_rpushx(self, key: bytes, *items: bytes) -> Any:
        return self._push(key, items, False, True)

    def _pop(self, key: bytes, count: bytes | None, left: bool) -> Any:
        current = self.get(key, list)
        if current is None:
            return None
        n = 1 if count is None else int(count)
        taken = [current.pop(0 if left else -1) for _ in range(min(n, len(current)))]
        return taken[0] if count is None else taken

    def cmd_lpop(self, key: bytes, count: bytes | None = None) -> Any:
        return self._pop(key, count, True)

    def cmd_rpop(self, key: bytes, count: bytes | None = None) -> Any:
        return self._pop(key, count, False)

    def cmd_llen(self, key: bytes) -> Any:
        return len(self.get(key, list) or [])

    def cmd_lrange(self, key: bytes, start: bytes, stop: bytes) -> Any:
        current = self.get(key, list) or []
        return [current[i] for i in redis_slice(int(start), int(stop), len(current))]

    def cmd_lindex(self, key: bytes, index: bytes) -> Any:
        current = self.get(key, list) or []
        i = int(index)
        return current[i] if -len(current) <= i < len(current) else None

    def cmd_lset(self, key: bytes, index: bytes, item: bytes) -> Any:
        current = self.get(key, list)
        if current is None:
            return "-ERR no such key"
        i = int(index)
        if not -len(current) <= i < len(current):
            return "-ERR index out of range"
        current[i] = item
        return "+OK"

    def cmd_lrem(self, key: bytes, count: bytes, item: bytes) -> Any:
        current = self.get(key, list) or []
        n = int(count)
        positions = [i for i, x in enumerate(current) if x == item]
        if n < 0:
            positions = positions[::-1]
        doomed = set(positions[: abs(n)] if n else positions)
        self.data[key] = [x for i, x in enumerate(current) if i not in doomed] if current else []
        return len(doomed)

    def cmd_ltrim(self, key: bytes, start: bytes, stop: bytes) -> Any:
        current = self.get(key, list)
        if current is not None:
            kept = redis_slice(int(start), int(stop), len(current))
            self.data[key] = [current[i] for i in kept]
        return "+OK"

    def cmd_linsert(self, key: bytes, where: bytes, pivot: bytes, item: bytes) -> Any:
        current = self.get(key, list)
        if current is None:
            return 0
        if pivot not in current:
            return -1
        current.insert(current.index(pivot) + (where == b"AFTER"), item)
        return len(current)

    def cmd_lpos(self, key: bytes, item: bytes, *options: bytes) -> Any:
        opts = {options[i]: int(options[i + 1]) for i in range(0, len(options), 2)}
        current = self.get(key, list) or []
        rank = opts.get(b"RANK", 1)
        hits = [i for i, x in enumerate(current) if x == item]
        maxlen = opts.get(b"MAXLEN", 0) or len(current)
        hits = [i for i in hits if (len(current) - 1 - i if rank < 0 else i) < maxlen]
        hits = hits[::-1] if rank < 0 else hits
        hits = hits[abs(rank) - 1 :]
        if b"COUNT" not in opts:
            return hits[0] if hits else None
        return hits[: opts[b"COUNT"]] if opts[b"COUNT"] else hits

    def cmd_lmove(self, source: bytes, target: bytes, src: bytes, dst: bytes) -> Any:
        items = self.get(source, list)
        if items is None:
            return None
        self.get(target, list)
        item = items.pop(0 if src == b"LEFT" else -1)
        destination = self.data.setdefault(target, []) if target != source else items
        destination.insert(0 if dst == b"LEFT" else len(destination), item)
        return item

    def cmd_rpoplpush(self, source: bytes, target: bytes) -> Any:
        return self.cmd_lmove(source, target, b"RIGHT", b"LEFT")

    # -- sorted sets
    def ordered(self, key: bytes) -> list[tuple[float, bytes]]:
        zset = self.get(key, dict) or {}
        return sorted((score, member) for member, score in zset.items())

    def cmd_zadd(self, key: bytes, *args: bytes) -> Any:
        if len(args) > 2 and args[0] not in ZADD_FLAGS:  # several pairs, no flags
            return sum(self.cmd_zadd(key, args[i], args[i + 1]) for i in range(0, len(args), 2))
        flags = {a for a in args[:-2]}
        score, member = float(args[-2]), args[-1]
        zset = self.get(key, dict)
        if zset is None:
            if b"XX" in flags:
                return None if b"INCR" in flags else 0
            zset = self.data[key] = {}
        old = zset.get(member)
        new = old + score if b"INCR" in flags and old is not None else score
        if math.isnan(new):
            return "-ERR resulting score is not a number (NaN)"
        allowed = (
            (b"XX" not in flags)
            if old is None
            else not (
                b"NX" in flags or (b"GT" in flags and new <= old) or (b"LT" in flags and new >= old)
            )
        )
        if not allowed:
            return None if b"INCR" in flags else 0
        zset[member] = new
        if b"INCR" in flags:
            return new
        return int(old is None or (b"CH" in flags and old != new))

    def cmd_zincrby(self, key: bytes, increment: bytes, member: bytes) -> Any:
        return self.cmd_zadd(key, b"INCR", increment, member)

    def cmd_zrem(self, key: bytes, member: bytes) -> Any:
        zset = self.get(key, dict) or {}
        return int(zset.pop(member, None) is not None)

    def cmd_zscore(self, key: bytes, member: bytes) -> Any:
        return (self.get(key, dict) or {}).get(member)

    def cmd_zmscore(self, key: bytes, *members: bytes) -> Any:
        zset = self.get(key, dict) or {}
        return [zset.get(member) for member in members]

    def cmd_zcard(self, key: bytes) -> Any:
        return len(self.get(key, dict) or {})

    def cmd_zrank(self, key: bytes, member: bytes) -> Any:
        names = [m for _, m in self.ordered(key)]
        return names.index(member) if member in names else None

    def cmd_zrevrank(self, key: bytes, member: bytes) -> Any:
        names = [m for _, m in self.ordered(key)][::-1]
        return names.index(member) if member in names else None

    def _pop_z(self, key: bytes, count: bytes | None, top: bool) -> Any:
        ordered = self.ordered(key)
        picked = (ordered[::-1] if top else ordered)[: 1 if count is None else int(count)]
        for _, member in picked:
            del self.data[key][member]
        return [x for score, member in picked for x in (member, score)]

    def cmd_zpopmin(self, key: bytes, count: bytes | None = None) -> Any:
        return self._pop_z(key, count, False)

    def cmd_zpopmax(self, key: bytes, count: bytes | None = None) -> Any:
        return self._pop_z(key, count, True)

    def in_score_range(self, key: bytes, low: bytes, high: bytes) -> list[tuple[float, bytes]]:
        def ok(score: float, bound: bytes, upper: bool) -> bool:
            value = float(bound.lstrip(b"("))
            if bound.startswith(b"("):
                return score < value if upper else score > value
            return score <= value if upper else score >= value

        return [(s, m) for s, m in self.ordered(key) if ok(s, low, False) and ok(s, high, True)]

    def cmd_zcount(self, key: bytes, low: bytes, high: bytes) -> Any:
        return len(self.in_score_range(key, low, high))

    def cmd_zrange(self, key: bytes, start: bytes, stop: bytes, *options: bytes) -> Any:
        ordered = self.ordered(key)
        rev, withscores = b"REV" in options, b"WITHSCORES" in options
        if b"BYSCORE" in options:
            low, high = (stop, start) if rev else (start, stop)
            picked = self.in_score_range(key, low, high)
            picked = picked[::-1] if rev else picked
            if b"LIMIT" in options:
                at = options.index(b"LIMIT")
                offset, count = int(options[at + 1]), int(options[at + 2])
                picked = [] if offset < 0 else picked[offset:]
                picked = picked if count < 0 else picked[:count]
        else:
            ordered = ordered[::-1] if rev else ordered
            picked = [ordered[i] for i in redis_slice(int(start), int(stop), len(ordered))]
        if withscores:
            return [x for score, member in picked for x in (member, score)]
        return [member for _, member in picked]

    def cmd_zremrangebyrank(self, key: bytes, start: bytes, stop: bytes) -> Any:
        ordered = self.ordered(key)
        doomed = [ordered[i][1] for i in redis_slice(int(start), int(stop), len(ordered))]
        for member in doomed:
            del self.data[key][member]
        return len(doomed)

    def cmd_zremrangebyscore(self, key: bytes, low: bytes, high: bytes) -> Any:
        doomed = self.in_score_range(key, low, high)
        for _, member in doomed:
            del self.data[key][member]
        return len(doomed)


KEYS = st.sampled_from([b"a", b"b", b"c"])
ITEMS = st.sampled_from([b"x", b"y", b"z", b"", b"\x00"])
INDEXES = st.integers(-6, 6).map(lambda n: str(n).encode())
COUNTS = st.integers(0, 4).map(lambda n: str(n).encode())
SCORES = st.sampled_from([b"0", b"1", b"-1.5", b"2.5", b"inf", b"-inf", b"3"])
BOUNDS = st.sampled_from([b"-inf", b"+inf", b"0", b"(0", b"1", b"(1", b"2.5", b"(3"])
ENDS = st.sampled_from([b"LEFT", b"RIGHT"])
FLAGS = st.sampled_from([(), (b"NX",), (b"XX",), (b"GT",), (b"LT",), (b"CH",), (b"GT", b"CH"),
                         (b"INCR",), (b"XX", b"INCR"), (b"LT", b"INCR")])  # fmt: skip


LPOS_OPTIONS = [(), (b"RANK", b"-1"), (b"RANK", b"2"), (b"COUNT", b"0"),
                (b"RANK", b"-2", b"COUNT", b"1"), (b"MAXLEN", b"2")]  # fmt: skip
BY_SCORE = [(b"BYSCORE",), (b"BYSCORE", b"REV"), (b"BYSCORE", b"WITHSCORES"),
            (b"BYSCORE", b"LIMIT", b"1", b"2"),
            (b"BYSCORE", b"REV", b"LIMIT", b"0", b"-1"),
            (b"BYSCORE", b"REV", b"LIMIT", b"1", b"2")]  # fmt: skip


def _list_commands() -> list[st.SearchStrategy[tuple[Any, ...]]]:
    c, one = st.tuples, st.sampled_from
    return [
        c(one([b"LPUSH", b"RPUSH", b"LPUSHX", b"RPUSHX"]), KEYS,
          st.lists(ITEMS, min_size=1, max_size=3)),
        c(one([b"LPOP", b"RPOP"]), KEYS),
        c(one([b"LPOP", b"RPOP"]), KEYS, COUNTS),
        c(one([b"LRANGE", b"LTRIM"]), KEYS, INDEXES, INDEXES),
        c(one([b"LINDEX"]), KEYS, INDEXES),
        c(one([b"LLEN"]), KEYS),
        c(one([b"LSET", b"LREM"]), KEYS, INDEXES, ITEMS),
        c(st.just(b"LINSERT"), KEYS, one([b"BEFORE", b"AFTER"]), ITEMS, ITEMS),
        c(st.just(b"LPOS"), KEYS, ITEMS, one(LPOS_OPTIONS)),
        c(st.just(b"LMOVE"), KEYS, KEYS, ENDS, ENDS),
        c(st.just(b"RPOPLPUSH"), KEYS, KEYS),
    ]  # fmt: skip


def _zset_commands() -> list[st.SearchStrategy[tuple[Any, ...]]]:
    c, one = st.tuples, st.sampled_from
    return [
        c(one([b"ZPOPMIN", b"ZPOPMAX", b"ZCARD"]), KEYS),
        c(one([b"ZPOPMIN", b"ZPOPMAX"]), KEYS, COUNTS),
        c(st.just(b"ZREMRANGEBYRANK"), KEYS, INDEXES, INDEXES),
        c(st.just(b"ZADD"), KEYS, FLAGS, SCORES, ITEMS),
        c(st.just(b"ZADD"), KEYS, SCORES, ITEMS, SCORES, ITEMS, SCORES, ITEMS),
        c(st.just(b"ZINCRBY"), KEYS, SCORES, ITEMS),
        c(one([b"ZREM", b"ZSCORE", b"ZRANK", b"ZREVRANK"]), KEYS, ITEMS),
        c(st.just(b"ZMSCORE"), KEYS, st.lists(ITEMS, min_size=1, max_size=3)),
        c(one([b"ZCOUNT", b"ZREMRANGEBYSCORE"]), KEYS, BOUNDS, BOUNDS),
        c(st.just(b"ZRANGE"), KEYS, INDEXES, INDEXES, one([(), (b"REV",), (b"WITHSCORES",),
                                                           (b"REV", b"WITHSCORES")])),
        c(st.just(b"ZRANGE"), KEYS, BOUNDS, BOUNDS, one(BY_SCORE)),
        c(KEYS, BOUNDS, BOUNDS, one(BY_SCORE)).map(_ordered_zrange),
        c(KEYS, BOUNDS, BOUNDS, one(BY_SCORE)).map(_ordered_zrange),
    ]  # fmt: skip


def _ordered_zrange(parts: tuple[Any, ...]) -> tuple[Any, ...]:
    """ZRANGE BYSCORE with its bounds in the order that selects something (max first for
    REV), so that LIMIT and REV meet ranges of several members."""
    key, one, other, options = parts
    low, high = sorted([one, other], key=lambda bound: float(bound.lstrip(b"(")))
    return (b"ZRANGE", key, *((high, low) if b"REV" in options else (low, high)), options)


def _command(family: str) -> st.SearchStrategy[list[bytes]]:
    # SET only on "c": a string stays until deleted, and the other keys stay collections
    generic = [st.tuples(st.just(b"SET"), st.just(b"c"), ITEMS), st.tuples(st.just(b"DEL"), KEYS)]
    lists = _list_commands() if family != "zsets" else []
    zsets = _zset_commands() if family != "lists" else []
    return st.one_of(*lists, *zsets, *generic).map(_flat)


def _flat(parts: tuple[Any, ...]) -> list[bytes]:
    return [w for p in parts for w in (p if isinstance(p, list | tuple) else [p])]


@pytest.mark.parametrize("family", ["lists", "zsets", "both"])
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_every_reply_agrees_with_the_model(family: str, data: st.DataObject) -> None:
    commands = data.draw(st.lists(_command(family), max_size=60), label="commands")
    ks, model = Keyspace(), Model()
    for args in commands:
        expected = model.run(args)
        got = plain(ks.apply(args, NOW))
        assert got == expected, (args, got, expected)
    live = {key for key, _, _ in ks.items()}
    assert live == set(model.data)
