"""Seeded random schedules over five cores: crashes, partitions, loss, reordering, duplicates,
compaction, reads and transfers, with Raft's safety properties (paper Figure 3) checked after
every step. A failure prints its seed; RAFT_FUZZ_SEEDS=200 runs more seeds."""

from __future__ import annotations

import contextlib
import os
import random

import pytest
from raft_harness import Cluster

from sentinel.raft import NotLeader, ProposalDropped, Role

SEEDS = int(os.environ.get("RAFT_FUZZ_SEEDS", "8"))


class Checker:
    """Figure 3: election safety, log matching, leader completeness, state machine safety
    (the harness checks that one on every apply), plus ReadIndex freshness."""

    def __init__(self, c: Cluster) -> None:
        self.c = c
        self.leaders_by_term: dict[int, int] = {}
        self.committed: dict[int, int] = {}  # index -> term, ever committed anywhere
        self.read_floor: dict[bytes, int] = {}  # context -> highest commit when asked
        self.reads_seen = {i: 0 for i in c.ids}

    def live(self) -> list[int]:
        return [i for i in self.c.ids if i not in self.c.down]

    def check(self) -> None:
        c = self.c
        for i in self.live():
            node = c.nodes[i]
            if node.role is Role.LEADER:
                other = self.leaders_by_term.setdefault(node.term, i)
                assert other == i, f"two leaders in term {node.term}: {other} and {i}"
            lg = node.log
            for index in range(max(lg.first_index, 1), lg.committed + 1):
                term = lg.term(index)
                assert self.committed.setdefault(index, term) == term, f"commit differs @{index}"
        for i in self.live():
            node = c.nodes[i]
            if node.role is Role.LEADER:
                for index, term in self.committed.items():
                    if index > node.log.snapshot_index:
                        assert node.log.term(index) == term, f"leader {i} lacks committed {index}"
        self.check_log_matching()
        for i in c.ids:
            for rs in c.reads[i][self.reads_seen[i] :]:
                floor = self.read_floor.pop(rs.context)
                assert rs.index >= floor, f"stale read {rs} (a write at {floor} was committed)"
            self.reads_seen[i] = len(c.reads[i])

    def check_log_matching(self) -> None:
        live = self.live()
        for a in live:
            for b in live:
                if a >= b:
                    continue
                la, lb = self.c.nodes[a].log, self.c.nodes[b].log
                lo = max(la.first_index, lb.first_index)
                hi = min(la.last_index, lb.last_index)
                top = next((k for k in range(hi, lo - 1, -1) if la.term(k) == lb.term(k)), None)
                if top is None:
                    continue
                for k in range(lo, top + 1):
                    assert la.entry(k) == lb.entry(k), f"logs {a},{b} match at {top}, not {k}"

    def max_commit(self) -> int:
        return max((self.c.nodes[i].log.committed for i in self.live()), default=0)


def run(seed: int, steps: int) -> Cluster:
    print("seed", seed)
    c = Cluster(5, seed=seed, max_msg_entries=3, max_inflight_msgs=3, snapshot_timeout_ticks=40)
    rng = random.Random(seed)
    chk = Checker(c)
    counter = 0
    for _ in range(steps):
        r = rng.random()
        live = chk.live()
        if r < 0.40:
            c.nodes[rng.choice(live)].tick()
        elif r < 0.75 and c.queue:
            m = c.queue.pop(rng.randrange(len(c.queue)))  # any order: reordering
            if rng.random() < 0.05:
                c.queue.append(m)  # duplicated
            if c.can_deliver(m) and rng.random() > 0.05:  # 5% loss
                c.nodes[m.dst].step(m)
        elif r < 0.85:
            counter += 1
            target = rng.choice([i for i in c.leaders() if i in live] or live)
            with contextlib.suppress(NotLeader, ProposalDropped):
                c.nodes[target].propose(b"%d-%d" % (seed, counter))
        elif r < 0.88:
            counter += 1
            ctx = b"read-%d" % counter
            floor = chk.max_commit()
            target = rng.choice([i for i in c.leaders() if i in live] or live)
            try:
                c.nodes[target].read_index(ctx)
                chk.read_floor[ctx] = floor
            except (NotLeader, ProposalDropped):
                pass
        elif r < 0.91:
            c.compact(rng.choice(live))
        elif r < 0.925 and len(c.down) < 2:
            c.crash(rng.choice(live))
        elif r < 0.95 and c.down:
            c.restart(rng.choice(sorted(c.down)))
        elif r < 0.96:
            c.isolate(rng.choice(list(c.ids)))
        elif r < 0.98:
            c.heal()
        else:
            i = rng.choice(live)
            if c.nodes[i].role is Role.LEADER:
                c.nodes[i].transfer_leadership(rng.choice(list(c.ids)))
        c.process_all()
        chk.check()
    # Liveness once the faults stop: everyone back, one leader, everything applied everywhere.
    for i in sorted(c.down):
        c.restart(i)
    c.heal()
    for attempt in range(10):
        for _ in range(300):
            c.tick_all(1)
            chk.check()
            if len(c.leaders()) == 1:
                break
        data = b"final-%d" % attempt
        try:
            index, _ = c.propose(c.leader(), data)
        except ProposalDropped:  # a leadership transfer is finishing
            c.tick_all(20)
            continue
        c.tick_all(60)
        chk.check()
        if all(c.applied[i].get(index) == data for i in c.ids):
            break
    else:
        raise AssertionError("the healed cluster never committed and applied a new entry")
    return c


@pytest.mark.parametrize("seed", range(SEEDS))
def test_figure3_safety_properties_hold_under_random_schedules(seed: int) -> None:
    run(seed, steps=2500)
