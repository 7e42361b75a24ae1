"""The shard controller's state machine: the 6.824 controller tests on it directly (one log
shared by every clerk, under a lock), rebalancing properties, sessions and snapshots."""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence

import ctl_scenarios
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.shard.config import NSHARDS, ConfigError, ShardConfig, key_shard, rebalance
from sentinel.shard.ctl import (
    ERR_INVALID,
    ERR_SESSION,
    ERR_STALE,
    OK,
    CtlJoin,
    CtlLeave,
    CtlMove,
    CtlRegister,
    CtlReply,
    ShardCtlMachine,
)
from sentinel.wire import encode


class Log:
    """One controller log: every clerk's command is applied at the next index."""

    def __init__(self) -> None:
        self.machine = ShardCtlMachine()
        self.lock = threading.Lock()
        self.index = 0
        self.entries: list[bytes] = []

    def append(self, data: bytes) -> CtlReply:
        with self.lock:
            self.index += 1
            self.entries.append(data)
            return self.machine.apply(self.index, data)


class LocalClerk:
    """A clerk whose commands go straight into `Log` (sessions as over the network)."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.client_id = log.append(encode(CtlRegister())).client_id
        self.seq = 0

    def _do(self, command: object) -> ShardConfig:
        reply = self.log.append(encode(command))
        if reply.err != OK:
            raise ConfigError(f"{reply.err}: {reply.detail}")
        assert reply.config is not None
        return reply.config

    def join(self, groups: dict[int, Sequence[str]]) -> ShardConfig:
        self.seq += 1
        items = tuple(sorted((g, tuple(s)) for g, s in groups.items()))
        return self._do(CtlJoin(items, self.client_id, self.seq))

    def leave(self, gids: Sequence[int]) -> ShardConfig:
        self.seq += 1
        return self._do(CtlLeave(tuple(gids), self.client_id, self.seq))

    def move(self, shard: int, gid: int) -> ShardConfig:
        self.seq += 1
        return self._do(CtlMove(shard, gid, self.client_id, self.seq))

    def query(self, num: int = -1) -> ShardConfig:
        with self.log.lock:
            return self.log.machine.query(num)


def replay(entries: list[bytes]) -> ShardCtlMachine:
    machine = ShardCtlMachine()
    for index, data in enumerate(entries, 1):
        machine.apply(index, data)
    return machine


def test_basic() -> None:
    log = Log()
    ctl_scenarios.basic(lambda: LocalClerk(log))
    # Same config on every replica: a replay of the log, and a restore of a snapshot.
    assert replay(log.entries).snapshot() == log.machine.snapshot()
    copy = ShardCtlMachine()
    copy.restore(log.machine.snapshot())
    assert copy.configs == log.machine.configs


def test_multi() -> None:
    log = Log()
    ctl_scenarios.multi(lambda: LocalClerk(log))
    assert replay(log.entries).snapshot() == log.machine.snapshot()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 12), min_size=NSHARDS, max_size=NSHARDS),
    st.sets(st.integers(1, 12), max_size=14),
)
def test_rebalance_is_balanced_and_minimal(shards: list[int], gids: set[int]) -> None:
    out = rebalance(shards, sorted(gids))
    assert rebalance(shards, sorted(gids, reverse=True)) == out  # order of input irrelevant
    if not gids:
        assert out == (0,) * NSHARDS
        return
    counts = [out.count(g) for g in gids]
    assert set(out) <= gids and max(counts) - min(counts) <= 1
    # Minimal: the shards that stay put are the most any balanced assignment keeps.
    kept = sum(1 for a, b in zip(shards, out, strict=True) if a == b)
    have = sorted((shards.count(g) for g in gids), reverse=True)
    base, extra = divmod(NSHARDS, len(gids))
    targets = [base + 1] * extra + [base] * (len(gids) - extra)
    assert kept == sum(min(h, t) for h, t in zip(have, targets, strict=True))


def test_key_shard_is_stable_and_follows_hash_tags() -> None:
    assert key_shard("a") == key_shard(b"a") == 7  # crc32(b"a") % 10: fixed forever
    assert key_shard("{user1}.name") == key_shard("{user1}.mail") == key_shard("user1")
    assert key_shard("{}x") == key_shard("{}x")  # an empty tag: the whole key
    spread = {key_shard(f"k{i}") for i in range(200)}
    assert spread == set(range(NSHARDS))


def test_sessions_make_a_retried_change_apply_once() -> None:
    m = ShardCtlMachine()
    cid = m.apply(1, encode(CtlRegister())).client_id
    join = encode(CtlJoin(((5, ("a",)),), cid, 1))
    first = m.apply(2, join)
    again = m.apply(3, join)
    assert first.err == OK and again.err == OK and again.duplicate
    assert len(m.configs) == 2
    assert m.apply(4, encode(CtlMove(0, 5, cid, 0))).err in (ERR_INVALID, ERR_STALE)
    assert m.apply(5, encode(CtlMove(0, 5, 999, 1))).err == ERR_SESSION
    bad = m.apply(6, encode(CtlLeave((7,), cid, 2)))
    assert bad.err == ERR_INVALID and "not in configuration" in bad.detail
    assert m.apply(7, b"garbage").err == ERR_INVALID
    assert len(m.configs) == 2


def test_random_logs_agree_after_snapshot_and_restore() -> None:
    seed = random.randrange(1 << 30)
    print(f"seed={seed}")
    rng = random.Random(seed)
    m = ShardCtlMachine()
    cid = m.apply(1, encode(CtlRegister())).client_id
    entries = [encode(CtlRegister())]
    for seq in range(1, 200):
        gids = m.latest().group_ids()
        kind = rng.random()
        if kind < 0.4 or not gids:
            cmd: object = CtlJoin(((rng.randint(1, 30), ("s",)),), cid, seq)
        elif kind < 0.8:
            cmd = CtlLeave((rng.choice(gids),), cid, seq)
        else:
            cmd = CtlMove(rng.randrange(NSHARDS), rng.choice(gids), cid, seq)
        entries.append(encode(cmd))
        m.apply(len(entries), entries[-1])
        if m.latest().group_ids():
            assert 0 not in m.latest().shards
    copy = ShardCtlMachine()
    copy.restore(m.snapshot())
    assert copy.snapshot() == m.snapshot() == replay(entries).snapshot()


def test_query_past_the_end_is_the_latest() -> None:
    m = ShardCtlMachine()
    assert m.query(5) == m.query(-1) == m.configs[0]
    with pytest.raises(ValueError):
        m.apply(0, b"")
