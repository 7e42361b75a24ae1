"""Random command sequences against `Keyspace` and a tiny independent model of Redis's
string and expiry semantics: every reply must agree, while log time advances and the
leader purges expired keys. Hypothesis prints the failing sequence (and its seed)."""

from __future__ import annotations

import re

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from sentinel.kvraft.keyspace import Keyspace
from tests.kvraft.keyspace.helpers import args_of, plain

KEYS = st.sampled_from([b"a", b"b", b"c"])
VALUES = st.sampled_from([b"1", b"10", b"-5", b"x", b"", b"9223372036854775807", b"\x00\r\n"])
INT64_MAX = 2**63 - 1
NOT_INT = "-ERR value is not an integer or out of range"


class Model:
    """key -> [value, expiry ms or None]; an entry stays until deleted or overwritten."""

    def __init__(self) -> None:
        self.entries: dict[bytes, list] = {}  # type: ignore[type-arg]

    def live(self, key: bytes, now: int) -> list | None:  # type: ignore[type-arg]
        entry = self.entries.get(key)
        if entry is None or (entry[1] is not None and now >= entry[1]):
            return None
        return entry

    def set(self, key: bytes, value: bytes, at: int | None) -> None:
        self.entries[key] = [value, at]

    def delete(self, key: bytes, now: int) -> int:
        found = self.live(key, now) is not None
        self.entries.pop(key, None)
        return int(found)


class KeyspaceVsModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ks = Keyspace()
        self.model = Model()
        self.now = 1000

    def check(self, expected: object, *words: bytes | str | int) -> None:
        got = plain(self.ks.apply(args_of(*words), self.now, 0))
        assert got == expected, (words, got, expected)

    @rule(key=KEYS, value=VALUES, cond=st.sampled_from(["", "NX", "XX"]), get=st.booleans(),
          ttl=st.sampled_from([None, "KEEPTTL", 1, 2, 40]))  # fmt: skip
    def set(self, key: bytes, value: bytes, cond: str, get: bool, ttl: str | int | None) -> None:
        words: list[bytes | str | int] = ["SET", key, value]
        words += [cond] if cond else []
        words += ["GET"] if get else []
        words += [] if ttl is None else ["KEEPTTL"] if ttl == "KEEPTTL" else ["PX", ttl]
        old = self.model.live(key, self.now)
        skip = (cond == "NX" and old is not None) or (cond == "XX" and old is None)
        expected: object = (old[0] if old else None) if get else (None if skip else "+OK")
        if not skip:
            at = (old[1] if old else None) if ttl == "KEEPTTL" else None
            at = self.now + ttl if isinstance(ttl, int) else at
            self.model.set(key, value, at)
        self.check(expected, *words)

    @rule(key=KEYS)
    def get(self, key: bytes) -> None:
        old = self.model.live(key, self.now)
        self.check(old[0] if old else None, "GET", key)

    @rule(keys=st.lists(KEYS, min_size=1, max_size=3))
    def delete(self, keys: list[bytes]) -> None:
        expected = sum(self.model.delete(key, self.now) for key in keys)
        self.check(expected, "DEL", *keys)

    @rule(keys=st.lists(KEYS, min_size=1, max_size=3))
    def exists(self, keys: list[bytes]) -> None:
        expected = sum(self.model.live(key, self.now) is not None for key in keys)
        self.check(expected, "EXISTS", *keys)

    @rule(key=KEYS, step=st.sampled_from([1, -1, 7, INT64_MAX]))
    def incrby(self, key: bytes, step: int) -> None:
        old = self.model.live(key, self.now)
        text = old[0] if old else b"0"
        canonical = re.fullmatch(rb"-?[1-9][0-9]*|0", text) is not None
        current = int(text) if canonical and -(2**63) <= int(text) <= INT64_MAX else None
        if current is None:
            expected: object = NOT_INT
        elif not -(2**63) <= current + step <= INT64_MAX:
            expected = "-ERR increment or decrement would overflow"
        else:
            expected = current + step
            self.model.set(key, str(expected).encode(), old[1] if old else None)
        self.check(expected, "INCRBY", key, step)

    @rule(key=KEYS, value=VALUES)
    def append(self, key: bytes, value: bytes) -> None:
        old = self.model.live(key, self.now)
        new = (old[0] if old else b"") + value
        self.model.set(key, new, old[1] if old else None)
        self.check(len(new), "APPEND", key, value)

    @rule(key=KEYS)
    def strlen(self, key: bytes) -> None:
        old = self.model.live(key, self.now)
        self.check(len(old[0]) if old else 0, "STRLEN", key)

    @rule(key=KEYS, offset=st.integers(0, 4), value=VALUES)
    def setrange(self, key: bytes, offset: int, value: bytes) -> None:
        old = self.model.live(key, self.now)
        base = old[0] if old else b""
        if not value:
            self.check(len(base), "SETRANGE", key, offset, value)
            return
        base = base.ljust(offset, b"\x00")
        new = base[:offset] + value + base[offset + len(value) :]
        self.model.set(key, new, old[1] if old else None)
        self.check(len(new), "SETRANGE", key, offset, value)

    @rule(key=KEYS, ms=st.sampled_from([-1, 0, 1, 2, 5, 40]))
    def pexpire(self, key: bytes, ms: int) -> None:
        old = self.model.live(key, self.now)
        if old is None:
            self.check(0, "PEXPIRE", key, ms)
            return
        if ms <= 0:
            self.model.delete(key, self.now)
        else:
            old[1] = self.now + ms
        self.check(1, "PEXPIRE", key, ms)

    @rule(key=KEYS)
    def persist(self, key: bytes) -> None:
        old = self.model.live(key, self.now)
        changed = old is not None and old[1] is not None
        if changed:
            old[1] = None  # type: ignore[index]
        self.check(int(changed), "PERSIST", key)

    @rule(key=KEYS)
    def pttl(self, key: bytes) -> None:
        old = self.model.live(key, self.now)
        expected = -2 if old is None else -1 if old[1] is None else old[1] - self.now
        self.check(expected, "PTTL", key)

    @rule(key=KEYS)
    def getdel(self, key: bytes) -> None:
        old = self.model.live(key, self.now)
        if old:  # an expired key stays stored until a purge (it reads as absent either way)
            self.model.delete(key, self.now)
        self.check(old[0] if old else None, "GETDEL", key)

    @rule(pairs=st.lists(st.tuples(KEYS, VALUES), min_size=1, max_size=3))
    def msetnx(self, pairs: list[tuple[bytes, bytes]]) -> None:
        if any(self.model.live(key, self.now) for key, _ in pairs):
            expected = 0
        else:
            for key, value in pairs:
                self.model.set(key, value, None)
            expected = 1
        self.check(expected, "MSETNX", *[w for pair in pairs for w in pair])

    @rule(source=KEYS, dest=KEYS)
    def rename(self, source: bytes, dest: bytes) -> None:
        old = self.model.live(source, self.now)
        if old is None:
            self.check("-ERR no such key", "RENAME", source, dest)
            return
        if source != dest:
            self.model.entries.pop(source)
            self.model.set(dest, old[0], old[1])
        self.check("+OK", "RENAME", source, dest)

    @rule()
    def keys_and_dbsize(self) -> None:
        live = sorted(k for k in self.model.entries if self.model.live(k, self.now))
        self.check(live, "KEYS", "*")
        self.check(len(self.model.entries), "DBSIZE")

    @rule(ms=st.sampled_from([0, 1, 2, 5, 20]))
    def advance(self, ms: int) -> None:
        self.now += ms

    @rule(limit=st.integers(1, 3))
    def purge(self, limit: int) -> None:
        due = self.ks.expired_keys(self.now, limit)
        entries = self.model.entries.items()
        expired = sorted((at, k) for k, (_, at) in entries if at is not None and self.now >= at)
        assert due == [k for _, k in expired[:limit]]
        assert self.ks.purge_expired(due, self.now) == len(due)
        for key in due:
            del self.model.entries[key]

    @invariant()
    def same_stored_state(self) -> None:
        mine = [(k, v, at) for k, v, at in self.ks.items()]
        theirs = sorted((k, v, at) for k, (v, at) in self.model.entries.items())
        assert mine == theirs


KeyspaceVsModel.TestCase.settings = settings(max_examples=150, stateful_step_count=40)
TestKeyspaceVsModel = KeyspaceVsModel.TestCase
