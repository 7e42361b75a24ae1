"""Hashes and sets against a simple model of Redis's semantics (a dict of Python dicts,
sets and bytes): random command sequences, every reply compared (random picks checked
against the model's members, then applied to it); plus snapshot round trips, the seed rule
and the undo log, over the same sequences."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.kvraft.keyspace import Keyspace
from sentinel.kvraft.keyspace.keyspace import command_seed
from sentinel.kvraft.keyspace.members import Hash
from tests.kvraft.keyspace.hashset_helpers import collection_commands, comparable, flat

NOW = 1_000_000
WRONGTYPE = "-WRONGTYPE Operation against a key holding the wrong kind of value"

KEY = st.sampled_from([b"h", b"s", b"t"])
MEMBER = st.sampled_from([b"a", b"b", b"c", b"7", b""])
MEMBERS = st.lists(MEMBER, min_size=1, max_size=4)
COUNT = st.integers(-4, 4).map(lambda n: str(n).encode())
MODEL_COMMANDS = st.lists(
    st.one_of(
        st.tuples(st.sampled_from([b"HSET", b"HSETNX"]), KEY, MEMBER, MEMBER),
        st.tuples(st.sampled_from([b"HGET", b"HEXISTS", b"HSTRLEN", b"HDEL"]), KEY, MEMBER),
        st.tuples(st.sampled_from([b"HLEN", b"HGETALL", b"HKEYS", b"HVALS", b"SMEMBERS"]), KEY),
        st.tuples(st.sampled_from([b"SCARD", b"SPOP", b"SRANDMEMBER", b"HRANDFIELD"]), KEY),
        st.tuples(st.sampled_from([b"SPOP", b"SRANDMEMBER", b"HRANDFIELD"]), KEY, COUNT),
        st.tuples(st.just(b"HINCRBY"), KEY, MEMBER, COUNT),
        st.tuples(st.sampled_from([b"SADD", b"SREM", b"SMISMEMBER", b"HMGET"]), KEY, MEMBERS),
        st.tuples(st.just(b"SISMEMBER"), KEY, MEMBER),
        st.tuples(st.just(b"SMOVE"), KEY, KEY, MEMBER),
        st.tuples(st.sampled_from([b"SINTER", b"SUNION", b"SDIFF"]), st.lists(KEY, min_size=1)),
        st.tuples(st.sampled_from([b"SINTERSTORE", b"SUNIONSTORE", b"SDIFFSTORE"]), KEY, KEY, KEY),
        st.tuples(st.sampled_from([b"SET", b"RENAME"]), KEY, KEY),
        st.tuples(st.sampled_from([b"DEL", b"TYPE"]), KEY),
    ).map(lambda t: [w for part in t for w in (part if isinstance(part, list) else [part])]),
    max_size=40,
)  # fmt: skip


class Model:
    """Redis's semantics for the commands above, as plainly as Python says them."""

    def __init__(self) -> None:
        self.data: dict[bytes, object] = {}

    def typed(self, key: bytes, kind: type) -> object:
        value = self.data.get(key)
        if value is not None and type(value) is not kind:
            raise TypeError
        return value

    def tidy(self, key: bytes) -> None:
        if self.data.get(key) in ({}, set()):
            del self.data[key]

    def run(self, cmd: list[bytes], reply: object) -> object:
        """The expected reply of `cmd`; for a random pick, `reply` is checked and used."""
        try:
            return self._run(cmd[0], cmd[1:], reply)
        except TypeError:
            return WRONGTYPE

    def _run(self, name: bytes, a: list[bytes], reply: object) -> object:
        if name == b"SPOP" and len(a) == 2 and int(a[1]) < 0:  # the count is read first
            return "-ERR value is out of range, must be positive"
        if name in (b"SET", b"DEL", b"TYPE", b"RENAME"):
            return self._keys(name, a)
        if name.startswith(b"H"):
            h = self.typed(a[0], dict) or {}
            assert isinstance(h, dict)
            if name == b"HSET" or name == b"HSETNX":
                new = a[1] not in h
                if new or name == b"HSET":
                    h[a[1]] = a[2]
                self.data[a[0]] = h
                return int(new)
            if name == b"HINCRBY":
                current = h.get(a[1], b"0")
                if not current.lstrip(b"-").isdigit():
                    return "-ERR hash value is not an integer"
                total = int(current) + int(a[2])
                h[a[1]] = str(total).encode()
                self.data[a[0]] = h
                return total
            if name == b"HDEL":
                gone = h.pop(a[1], None) is not None
                self.tidy(a[0])
                return int(gone)
            simple = {b"HGET": lambda: h.get(a[1]), b"HEXISTS": lambda: int(a[1] in h),
                      b"HSTRLEN": lambda: len(h.get(a[1], b"")), b"HLEN": lambda: len(h),
                      b"HKEYS": lambda: list(h), b"HVALS": lambda: list(h.values()),
                      b"HGETALL": lambda: [x for kv in h.items() for x in kv],
                      b"HMGET": lambda: [h.get(f) for f in a[1:]]}  # fmt: skip
            if name in simple:
                return simple[name]()
            return self._random(name, a, list(h), reply)
        s = self.typed(a[0], set) if name not in _MANY else None
        s = s if s is not None else set()
        assert isinstance(s, set)
        if name == b"SADD":
            new = set(a[1:]) - s
            self.data[a[0]] = s | new
            return len(new)
        if name == b"SREM":
            gone = set(a[1:]) & s
            self.data[a[0]] = s - gone
            self.tidy(a[0])
            return len(gone)
        if name == b"SMOVE":
            return self._smove(a, s)
        if name in _MANY:
            return self._many(name, a)
        simple = {b"SMEMBERS": lambda: sorted(s), b"SCARD": lambda: len(s),
                  b"SISMEMBER": lambda: int(a[1] in s),
                  b"SMISMEMBER": lambda: [int(m in s) for m in a[1:]]}  # fmt: skip
        if name in simple:
            return simple[name]()
        return self._random(name, a, sorted(s), reply)

    def _keys(self, name: bytes, a: list[bytes]) -> object:
        if name == b"SET":
            self.data[a[0]] = a[1]
            return "+OK"
        if name == b"DEL":
            return int(self.data.pop(a[0], None) is not None)
        if name == b"TYPE":
            kind = {bytes: "string", dict: "hash", set: "set"}
            value = self.data.get(a[0])
            return "+" + ("none" if value is None else kind[type(value)])
        if a[0] not in self.data:
            return "-ERR no such key"
        self.data[a[1]] = self.data.pop(a[0])
        return "+OK"

    def _smove(self, a: list[bytes], s: set[bytes]) -> object:
        if a[0] not in self.data:
            return 0
        target = self.typed(a[1], set)
        if a[2] not in s:
            return 0
        if a[0] != a[1]:
            s.discard(a[2])
            self.tidy(a[0])
            self.data[a[1]] = (target or set()) | {a[2]}  # type: ignore[operator]
        return 1

    def _many(self, name: bytes, a: list[bytes]) -> object:
        store = name.endswith(b"STORE")
        sources = [self.typed(k, set) or set() for k in (a[1:] if store else a)]
        op = name.removesuffix(b"STORE")
        if op == b"SINTER":
            result = set.intersection(*sources)  # type: ignore[arg-type]
        elif op == b"SUNION":
            result = set.union(*sources)  # type: ignore[arg-type]
        else:
            result = sources[0].difference(*sources[1:])  # type: ignore[attr-defined]
        if not store:
            return sorted(result)
        self.data[a[0]] = result
        self.tidy(a[0])
        return len(result)

    def _random(self, name: bytes, a: list[bytes], pool: list[bytes], reply: object) -> object:
        if len(a) == 1:
            assert reply is None if not pool else reply in pool, (name, reply, pool)
        else:
            count = int(a[1])
            assert isinstance(reply, list)
            if count < 0:
                assert len(reply) == (-count if pool else 0) and set(reply) <= set(pool)
            else:
                assert len(reply) == min(count, len(pool)) == len(set(reply))
                assert set(reply) <= set(pool)
        if name == b"SPOP" and pool:
            popped = {reply} if len(a) == 1 else set(reply)  # type: ignore[arg-type]
            self.data[a[0]] = set(pool) - popped
            self.tidy(a[0])
        return reply


_MANY = {b"SINTER", b"SUNION", b"SDIFF", b"SINTERSTORE", b"SUNIONSTORE", b"SDIFFSTORE"}


@settings(max_examples=300, deadline=None)  # no deadline: the machine is shared
@given(commands=MODEL_COMMANDS, seed=st.integers(0, 2**64 - 1))
def test_replies_match_the_model(commands: list[list[bytes]], seed: int) -> None:
    ks, model = Keyspace(), Model()
    for i, cmd in enumerate(commands):
        mine = flat(ks.apply(cmd, NOW, command_seed(seed, i)))
        expected = model.run(cmd, mine)
        assert comparable(cmd, mine) == comparable(cmd, expected), cmd
    for key, value in model.data.items():
        stored = ks.live(key, NOW)
        if isinstance(value, dict):
            assert isinstance(stored, Hash) and dict(stored.pairs()) == value
        elif isinstance(value, set):
            assert set(stored) == value  # type: ignore[arg-type]
        else:
            assert stored == value
    assert len(ks) == len(model.data)


def run(ks: Keyspace, commands: list[list[bytes]], seed: int, now_ms: int = NOW) -> list[object]:
    return [ks.apply(c, now_ms + i, command_seed(seed, i)) for i, c in enumerate(commands)]


@settings(deadline=None)
@given(history=collection_commands(), future=collection_commands(), seed=st.integers(0, 2**64 - 1))
def test_a_snapshot_restores_hashes_and_sets_exactly(
    history: list[list[bytes]], future: list[list[bytes]], seed: int
) -> None:
    ks = Keyspace()
    run(ks, history, seed)
    data = ks.encode()
    restored = Keyspace.decode(data)
    assert restored.items() == ks.items()  # members in the same order: the same draws later
    assert restored.encode() == data
    assert restored.size_bytes() == ks.size_bytes()
    assert run(restored, future, seed + 1, NOW + 50) == run(ks, future, seed + 1, NOW + 50)
    assert restored.encode() == ks.encode()


@settings(deadline=None)
@given(history=collection_commands(), seed=st.integers(0, 2**64 - 1))
def test_the_same_entries_give_the_same_replies_and_bytes(
    history: list[list[bytes]], seed: int
) -> None:
    one, other = Keyspace(), Keyspace()
    assert run(one, history, seed) == run(other, history, seed)
    assert one.encode() == other.encode()


@settings(deadline=None)
@given(history=collection_commands(), batch=collection_commands(max_size=10))
def test_a_failing_transaction_rolls_collections_back_exactly(
    history: list[list[bytes]], batch: list[list[bytes]]
) -> None:
    """A command that raises half way through a MULTI/EXEC rolls every in-place change of
    a hash or set back: the same members, in the same order, the same versions."""
    ks = Keyspace()
    run(ks, history, 3)
    before = ks.encode()
    boom = [b"HSET", b"h", b"boom", b"1"]  # made to raise below, after the batch's changes
    from sentinel.kvraft.keyspace import commands as table

    spec = table.COMMANDS[b"HSET"]

    def failing(store, args, now_ms):  # type: ignore[no-untyped-def]
        if args[2] == b"boom":
            raise RuntimeError("a planted bug")
        return spec.handler(store, args, now_ms)

    table.COMMANDS[b"HSET"] = type(spec)(**{**_fields(spec), "handler": failing})
    try:
        replies = ks.apply_batch([*batch, boom], NOW + 10, 5)
    finally:
        table.COMMANDS[b"HSET"] = spec
    assert replies is not None and all(
        getattr(r, "text", "").startswith("ERR internal") for r in replies
    )
    assert ks.encode() == before


def _fields(spec: object) -> dict[str, object]:
    return {name: getattr(spec, name) for name in spec.__slots__}  # type: ignore[attr-defined]


def test_commands_of_one_entry_draw_differently_and_replicas_draw_alike() -> None:
    members = [str(i).encode() for i in range(50)]
    pops = []
    for _ in range(2):
        ks = Keyspace()
        ks.apply([b"SADD", b"s", *members], NOW)
        pops.append(ks.apply_batch([[b"SPOP", b"s"], [b"SPOP", b"s"]], NOW, 12345))
    assert pops[0] == pops[1]
    assert pops[0][0] != pops[0][1]  # type: ignore[index]
    draws = {Keyspace.decode(_with_set(members)).apply([b"SPOP", b"s"], NOW, s) for s in range(20)}
    assert len(draws) > 1  # the seed chooses the member
    assert command_seed(7, 0) == 7 and command_seed(7, 1) != 7
    assert random.Random(command_seed(7, 1)).random() != random.Random(7).random()


def _with_set(members: list[bytes]) -> bytes:
    ks = Keyspace()
    ks.apply([b"SADD", b"s", *members], NOW)
    return ks.encode()
