"""Shared helpers of the keyspace tests: commands written as text, replies as Python values."""

from __future__ import annotations

from sentinel.kvraft.keyspace import Keyspace
from sentinel.kvraft.keyspace.replies import (
    Array,
    Bulk,
    Bulks,
    Double,
    Error,
    Int,
    Null,
    Pairs,
    Reply,
    Simple,
)


def args_of(*words: str | bytes | int) -> list[bytes]:
    """A command's arguments as bytes (str as UTF-8, int in decimal)."""
    return [w if isinstance(w, bytes) else str(w).encode() for w in words]


def plain(reply: Reply) -> object:
    """A reply as a plain value: bytes, int, float, None, "+TEXT", "-ERR ..." or a list
    (member/score pairs as a flat list)."""
    if isinstance(reply, Bulk):
        return reply.data
    if isinstance(reply, Int):
        return reply.value
    if isinstance(reply, Null):
        return None
    if isinstance(reply, Simple):
        return "+" + reply.text
    if isinstance(reply, Error):
        return "-" + reply.text
    if isinstance(reply, Bulks):
        return list(reply.items)
    if isinstance(reply, Double):
        return reply.value
    if isinstance(reply, Array | Pairs):
        return [plain(item) for item in reply.items]
    raise AssertionError(f"unexpected reply {reply!r}")


class Client:
    """Runs commands against one keyspace at a settable log time."""

    def __init__(self, keyspace: Keyspace | None = None, now_ms: int = 1_000_000) -> None:
        self.ks = keyspace if keyspace is not None else Keyspace()
        self.now_ms = now_ms

    def __call__(self, *words: str | bytes | int) -> object:
        return plain(self.ks.apply(args_of(*words), self.now_ms, 0))


def random_commands():  # type: ignore[no-untyped-def]
    """A hypothesis strategy of lists of commands over a few keys, any command of the table,
    valid or not (runtime errors included)."""
    from hypothesis import strategies as st

    key = st.sampled_from([b"a", b"b", b"c", b"d\x00\r\n"])
    value = st.sampled_from([b"1", b"-7", b"2.5", b"x", b"", b"\xff\x00"])
    number = st.sampled_from([b"-1", b"0", b"1", b"3", b"50", b"x"])
    command = st.one_of(
        st.tuples(st.just(b"SET"), key, value),
        st.tuples(st.just(b"SET"), key, value, st.sampled_from([b"PX", b"EX"]), number),
        st.tuples(st.sampled_from([b"INCR", b"DECR", b"GET", b"GETDEL", b"PERSIST"]), key),
        st.tuples(st.sampled_from([b"INCRBY", b"INCRBYFLOAT"]), key, number),
        st.tuples(st.sampled_from([b"APPEND", b"GETSET"]), key, value),
        st.tuples(st.sampled_from([b"PEXPIRE", b"EXPIRE", b"PEXPIREAT"]), key, number),
        st.tuples(st.sampled_from([b"DEL", b"RENAME", b"RENAMENX", b"MSETNX"]), key, key),
        st.tuples(st.just(b"SETRANGE"), key, number, value),
        st.tuples(st.sampled_from([b"GETEX", b"SETNX"]), key, st.sampled_from([b"PERSIST", b"v"])),
        st.tuples(st.sampled_from([b"SCAN", b"KEYS"]), st.sampled_from([b"0", b"*", b"[a-c]"])),
        st.tuples(st.sampled_from([b"FLUSHALL", b"DBSIZE"])),
    )
    return st.lists(command.map(list), max_size=30)


def collection_commands(max_size: int = 30):  # type: ignore[no-untyped-def]
    """A hypothesis strategy of lists of list and sorted set commands (and a few generic
    ones) over three keys, valid or not, with a string key among them for WRONGTYPE."""
    from hypothesis import strategies as st

    key = st.sampled_from([b"a", b"b", b"c"])
    item = st.sampled_from([b"x", b"y", b"z", b"", b"\x00\r\n"])
    index = st.sampled_from([b"-3", b"-1", b"0", b"1", b"2", b"5", b"x"])
    score = st.sampled_from([b"0", b"1", b"-1.5", b"2.5", b"inf", b"-inf", b"x", b"(1"])
    bound = st.sampled_from([b"-inf", b"+inf", b"(1", b"0", b"2.5", b"[x", b"(y", b"-", b"+"])
    end = st.sampled_from([b"LEFT", b"RIGHT"])
    items = st.lists(item, min_size=1, max_size=4)
    command = st.one_of(
        st.tuples(st.sampled_from([b"LPUSH", b"RPUSH", b"LPUSHX", b"RPUSHX"]), key, items),
        st.tuples(st.sampled_from([b"LPOP", b"RPOP", b"ZPOPMIN", b"ZPOPMAX"]), key),
        st.tuples(st.sampled_from([b"LPOP", b"RPOP", b"ZPOPMIN", b"ZPOPMAX"]), key, index),
        st.tuples(st.sampled_from([b"LRANGE", b"LTRIM", b"ZREMRANGEBYRANK"]), key, index, index),
        st.tuples(st.sampled_from([b"LSET", b"LREM"]), key, index, item),
        st.tuples(st.just(b"LINSERT"), key, st.sampled_from([b"BEFORE", b"AFTER"]), item, item),
        st.tuples(st.just(b"LMOVE"), key, key, end, end),
        st.tuples(st.just(b"RPOPLPUSH"), key, key),
        st.tuples(
            st.just(b"ZADD"),
            key,
            st.lists(st.sampled_from([b"NX", b"XX", b"GT", b"LT", b"CH", b"INCR"]), max_size=2),
            score,
            item,
        ),
        st.tuples(st.just(b"ZADD"), key, score, item, score, item),
        st.tuples(st.sampled_from([b"ZINCRBY"]), key, score, item),
        st.tuples(st.sampled_from([b"ZREM", b"ZSCORE", b"ZRANK", b"ZREVRANK"]), key, item),
        st.tuples(
            st.sampled_from([b"ZREMRANGEBYSCORE", b"ZCOUNT", b"ZRANGEBYSCORE"]), key, bound, bound
        ),
        st.tuples(st.sampled_from([b"ZREMRANGEBYLEX", b"ZRANGEBYLEX"]), key, bound, bound),
        st.tuples(st.just(b"ZRANGE"), key, index, index, st.sampled_from([b"WITHSCORES", b"REV"])),
        st.tuples(st.sampled_from([b"SET", b"APPEND"]), key, item),
        st.tuples(st.sampled_from([b"DEL", b"RENAME"]), key, key),
        st.tuples(st.just(b"PEXPIRE"), key, st.sampled_from([b"1", b"1000"])),
    )

    def flat(parts: tuple) -> list[bytes]:  # type: ignore[type-arg]
        out: list[bytes] = []
        for part in parts:
            out.extend(part if isinstance(part, list) else [part])
        return out

    return st.lists(command.map(flat), max_size=max_size)
