"""The 6.824 shard controller tests (shardctrler's TestBasic and TestMulti), scenario by
scenario, against anything with a clerk's calls (`join`, `leave`, `move`, `query`).

`make_clerk()` gives a fresh clerk (its own session); clerks run in threads for the
concurrent parts, as the lab's goroutines do. The checks after each step are the lab's:
the groups are exactly the expected ones, every shard belongs to one of them (when there is
any), group sizes differ by at most one, and historical queries never change.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from sentinel.shard.config import NSHARDS, ShardConfig

#: How long the threads of a concurrent step may take (a real cluster elects in < 1 s).
THREADS_DEADLINE_S = 60.0


class Clerk(Protocol):
    def join(self, groups: dict[int, Sequence[str]]) -> Any: ...
    def leave(self, gids: Sequence[int]) -> Any: ...
    def move(self, shard: int, gid: int) -> Any: ...
    def query(self, num: int = -1) -> ShardConfig: ...


MakeClerk = Callable[[], Clerk]


def check(ck: Clerk, gids: Sequence[int]) -> ShardConfig:
    """The lab's check(): the latest configuration has exactly `gids`, every shard is owned
    by one of them, and sizes are within one of each other."""
    c = ck.query(-1)
    assert sorted(c.group_ids()) == sorted(gids), (c.group_ids(), gids)
    if gids:
        for shard, gid in enumerate(c.shards):
            assert gid in gids, f"shard {shard} -> invalid group {gid} in {c}"
    counts = [len(c.shards_of(g)) for g in gids]
    if counts:
        assert max(counts) <= min(counts) + 1, f"unbalanced {counts} in {c}"
    return c


def run_threads(targets: Sequence[Callable[[], None]]) -> None:
    """Run each target in a thread; re-raise the first failure; fail if any hangs."""
    errors: list[BaseException] = []

    def wrap(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=wrap, args=(t,), daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(THREADS_DEADLINE_S)
        assert not thread.is_alive(), "a clerk thread hung"
    if errors:
        raise errors[0]


def servers(gid: int) -> list[str]:
    return [f"{gid}a", f"{gid}b", f"{gid}c"]


def basic(make_clerk: MakeClerk) -> None:
    """shardctrler TestBasic."""
    ck = make_clerk()
    # Basic leave/join
    cfa = [ck.query(-1)]
    check(ck, [])
    gid1, gid2 = 1, 2
    ck.join({gid1: ["x", "y", "z"]})
    check(ck, [gid1])
    cfa.append(ck.query(-1))
    ck.join({gid2: ["a", "b", "c"]})
    check(ck, [gid1, gid2])
    cfa.append(ck.query(-1))
    cfx = ck.query(-1)
    assert cfx.servers(gid1) == ("x", "y", "z") and cfx.servers(gid2) == ("a", "b", "c")
    ck.leave([gid1])
    check(ck, [gid2])
    cfa.append(ck.query(-1))
    ck.leave([gid2])
    cfa.append(ck.query(-1))
    check(ck, [])
    # Historical queries
    for cf in cfa:
        assert ck.query(cf.num) == cf, f"historical query {cf.num} changed"
    # Move
    gid3, gid4 = 503, 504
    ck.join({gid3: ["3a", "3b", "3c"]})
    ck.join({gid4: ["4a", "4b", "4c"]})
    for i in range(NSHARDS):
        ck.move(i, gid3 if i < NSHARDS // 2 else gid4)
    cf2 = ck.query(-1)
    for i in range(NSHARDS):
        want = gid3 if i < NSHARDS // 2 else gid4
        assert cf2.shards[i] == want, f"shard {i} wrong group {cf2.shards[i]}, want {want}"
    ck.leave([gid3])
    ck.leave([gid4])
    check(ck, [])
    # Concurrent leave/join
    npara = 10
    cka = [make_clerk() for _ in range(npara)]
    gids = [(i * 10) + 100 for i in range(npara)]

    def join_leave(i: int) -> Callable[[], None]:
        def run() -> None:
            gid = gids[i]
            cka[i].join({gid + 1000: servers(gid + 1000)})
            cka[i].join({gid: servers(gid)})
            cka[i].leave([gid + 1000])

        return run

    run_threads([join_leave(i) for i in range(npara)])
    check(ck, gids)
    # Minimal transfers after joins
    c1 = ck.query(-1)
    for i in range(5):
        gid = npara + 1 + i
        ck.join({gid: servers(gid)})
    c2 = ck.query(-1)
    for i in range(1, npara + 1):
        for j in range(NSHARDS):
            if c2.shards[j] == i and c1.shards[j] != i:
                raise AssertionError("non-minimal transfer after Join()s")
    for j in range(NSHARDS):  # a shard moves only to a new group
        if c2.shards[j] in gids:
            assert c1.shards[j] == c2.shards[j], f"shard {j} moved between old groups"
    # Minimal transfers after leaves
    for i in range(5):
        ck.leave([npara + 1 + i])
    c3 = ck.query(-1)
    for j in range(NSHARDS):
        if c2.shards[j] in gids:
            assert c3.shards[j] == c2.shards[j], "non-minimal transfer after Leave()s"
    check(ck, gids)
    more_groups_than_shards(ck, gids)


def more_groups_than_shards(ck: Clerk, base: Sequence[int]) -> None:
    """More groups than shards: some hold none, none holds two, and leaving restores balance."""
    extra = [2000 + i for i in range(NSHARDS + 2)]
    ck.join({gid: servers(gid) for gid in extra})
    c = check(ck, list(base) + extra)
    assert max(len(c.shards_of(g)) for g in c.group_ids()) == 1
    ck.leave(extra)
    check(ck, base)


def multi(make_clerk: MakeClerk) -> None:
    """shardctrler TestMulti."""
    ck = make_clerk()
    # Multi-group join/leave
    cfa = [ck.query(-1)]
    check(ck, [])
    gid1, gid2, gid3 = 1, 2, 3
    ck.join({gid1: ["x", "y", "z"], gid2: ["a", "b", "c"]})
    check(ck, [gid1, gid2])
    cfa.append(ck.query(-1))
    ck.join({gid3: ["j", "k", "l"]})
    check(ck, [gid1, gid2, gid3])
    cfa.append(ck.query(-1))
    cfx = ck.query(-1)
    assert cfx.servers(gid1) == ("x", "y", "z") and cfx.servers(gid3) == ("j", "k", "l")
    ck.leave([gid1, gid3])
    check(ck, [gid2])
    cfa.append(ck.query(-1))
    ck.leave([gid2])
    check(ck, [])
    for cf in cfa:  # historical queries
        assert ck.query(cf.num) == cf, f"historical query {cf.num} changed"
    # Concurrent multijoin/leave
    npara = 10
    cka = [make_clerk() for _ in range(npara)]
    gids = [i + 1000 for i in range(npara)]

    def multi_join(i: int) -> Callable[[], None]:
        def run() -> None:
            gid = gids[i]
            cka[i].join(
                {
                    gid: servers(gid),
                    gid + 1000: servers(gid + 1000),
                    gid + 2000: servers(gid + 2000),
                }
            )
            cka[i].leave([gid + 1000, gid + 2000])

        return run

    run_threads([multi_join(i) for i in range(npara)])
    check(ck, gids)
    # Minimal transfers after multijoins
    c1 = ck.query(-1)
    ck.join({i + 1: servers(i + 1) for i in range(5)})
    c2 = ck.query(-1)
    for j in range(NSHARDS):
        if c2.shards[j] in gids:
            assert c1.shards[j] == c2.shards[j], "non-minimal transfer after multijoin"
    # Minimal transfers after multileaves
    ck.leave([i + 1 for i in range(5)])
    c3 = ck.query(-1)
    for j in range(NSHARDS):
        if c2.shards[j] in gids:
            assert c3.shards[j] == c2.shards[j], "non-minimal transfer after multileave"
    check(ck, gids)
    # Check the controller refuses what does not apply, changing nothing
    before = ck.query(-1)
    for bad in (
        lambda: ck.leave([1]),
        lambda: ck.join({gids[0]: ["q"]}),
        lambda: ck.move(NSHARDS, gids[0]),
    ):
        try:
            bad()
        except Exception as exc:
            assert "invalid" in str(exc) or "not" in str(exc), exc
        else:
            raise AssertionError("a change that does not apply was accepted")
    assert ck.query(-1) == before
