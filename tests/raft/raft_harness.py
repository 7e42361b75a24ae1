"""A tiny in-test cluster: cores, a hand-driven message queue, an in-memory "disk".

Messages are delivered only when a test says so (or by `deliver_all`), through a filter that
can cut links, so every scenario is an exact, deterministic schedule.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from sentinel.raft import (
    Config,
    Entry,
    EntryKind,
    Message,
    PersistentState,
    Raft,
    ReadState,
    Role,
    Snapshot,
    SnapshotMeta,
)
from sentinel.raft.membership import app_data
from sentinel.wire import decode, encode


class Disk:
    """What a node persisted: enough to rebuild its core after a crash."""

    def __init__(self) -> None:
        self.hard_state = None
        self.snapshot: Snapshot | None = None
        self.entries: list[Entry] = []

    def save(self, rd) -> None:
        if rd.snapshot is not None:
            self.snapshot = rd.snapshot
            index = rd.snapshot.meta.index
            keep = [e for e in self.entries if e.index > index]
            if not any(e.index == index and e.term == rd.snapshot.meta.term for e in self.entries):
                keep = []
            self.entries = keep
        if rd.hard_state is not None:
            self.hard_state = rd.hard_state
        for entry in rd.entries:
            first = self.entries[0].index if self.entries else entry.index
            del self.entries[entry.index - first :]
            self.entries.append(entry)

    def state(self) -> PersistentState:
        kw = {}
        if self.hard_state is not None:
            kw["hard_state"] = self.hard_state
        return PersistentState(snapshot=self.snapshot, entries=tuple(self.entries), **kw)


class Cluster:
    """N cores with hand-delivered messages. `applied[id]` is each node's applied commands."""

    def __init__(
        self, n: int, seed: int = 0, states: dict[int, PersistentState] | None = None, **config
    ) -> None:
        self.n = n
        self.seed = seed
        self.config_kw = config
        self.rng = random.Random(seed)
        self.disks = {i: Disk() for i in range(1, n + 1)}
        for i, state in (states or {}).items():
            self.disks[i].hard_state = state.hard_state
            self.disks[i].snapshot = state.snapshot
            self.disks[i].entries = list(state.entries)
        self.nodes: dict[int, Raft] = {i: self._make(i) for i in self.ids}
        self.queue: list[Message] = []
        self.cut: set[frozenset[int]] = set()
        self.down: set[int] = set()
        self.applied: dict[int, dict[int, bytes]] = {i: {} for i in self.ids}
        self.last_applied: dict[int, int] = {i: 0 for i in self.ids}
        for i, state in (states or {}).items():
            if state.snapshot is not None:
                self.restore(i, state.snapshot)
        self.state_machine: dict[int, list[bytes]] = {i: [] for i in self.ids}
        self.reads: dict[int, list[ReadState]] = {i: [] for i in self.ids}
        self.drop: Callable[[Message], bool] = lambda m: False

    @property
    def ids(self) -> list[int]:
        """Every node ever started: the founders 1..n, then those `add_node` added."""
        return sorted(self.disks)

    def config(self, i: int) -> Config:
        founders = tuple(range(1, self.n + 1))
        return Config(node_id=i, peer_ids=founders, joining=i > self.n, **self.config_kw)

    def add_node(self, i: int) -> None:
        """Start a blank node i that joins the cluster (it learns the configuration from
        the leader); the leader still has to add it."""
        self.disks[i] = Disk()
        self.applied[i], self.last_applied[i] = {}, 0
        self.state_machine[i], self.reads[i] = [], []
        self.nodes[i] = self._make(i)

    def _make(self, i: int) -> Raft:
        return Raft(self.config(i), random.Random(self.seed * 100 + i), self.disks[i].state())

    # -- driving
    def process(self, i: int) -> None:
        node = self.nodes[i]
        while node.has_ready():
            rd = node.ready()
            self.disks[i].save(rd)
            for m in rd.messages:
                # Every message crosses the wire codec, as in the real system.
                self.queue.append(decode(encode(m), Message))
            if rd.apply_snapshot is not None:
                self.restore(i, rd.apply_snapshot)
            for entry in rd.committed_entries:
                self.apply(i, entry)
            self.reads[i].extend(rd.read_states)
            node.advance(rd)

    def restore(self, i: int, snap: Snapshot) -> None:
        self.applied[i] = dict(decode(app_data(snap.data)))
        self.last_applied[i] = snap.meta.index

    def apply(self, i: int, entry: Entry) -> None:
        # As 6.824's snapshot applier: strictly in order, from snapshot index + 1.
        expected = self.last_applied[i] + 1
        assert entry.index == expected, f"node {i} applies {entry.index}, expected {expected}"
        self.last_applied[i] = entry.index
        seen = self.applied[i]
        if entry.kind is EntryKind.NORMAL:
            seen[entry.index] = entry.data
        else:
            seen[entry.index] = b""
        for j in self.ids:
            other = self.applied[j].get(entry.index)
            assert other is None or other == seen[entry.index], (
                f"node {i} applied {seen[entry.index]!r} at {entry.index}, node {j} {other!r}"
            )

    def snapshot_of(self, i: int, index: int) -> bytes:
        return encode({k: v for k, v in self.applied[i].items() if k <= index})

    def compact(self, i: int) -> bool:
        """Node i snapshots its state machine at its applied index."""
        index = self.nodes[i].log.applied
        return self.nodes[i].compact(index, self.snapshot_of(i, index))

    def timeout(self, i: int) -> None:
        """Tick node i (only) until it leaves the follower role; deliver nothing."""
        node = self.nodes[i]
        for _ in range(4 * node.config.election_ticks):
            if node.role is not Role.FOLLOWER:
                return
            node.tick()
        raise AssertionError(f"node {i} never campaigned")

    def process_all(self) -> None:
        for i in self.ids:
            if i not in self.down:
                self.process(i)

    def can_deliver(self, m: Message) -> bool:
        return (
            m.dst in self.nodes  # (a member added before its node was started)
            and m.dst not in self.down
            and m.src not in self.down
            and frozenset((m.src, m.dst)) not in self.cut
        )

    def deliver_all(self, rounds: int = 50) -> None:
        for _ in range(rounds):
            self.process_all()
            if not self.queue:
                return
            batch, self.queue = self.queue, []
            for m in batch:
                if self.can_deliver(m) and not self.drop(m):
                    self.nodes[m.dst].step(m)

    def deliver(self, pred: Callable[[Message], bool]) -> list[Message]:
        """Deliver only the queued messages that match; keep the others queued."""
        self.process_all()
        hit = [m for m in self.queue if pred(m)]
        self.queue = [m for m in self.queue if not pred(m)]
        for m in hit:
            if self.can_deliver(m):
                self.nodes[m.dst].step(m)
        self.process_all()
        return hit

    def tick(self, i: int, n: int = 1) -> None:
        for _ in range(n):
            self.nodes[i].tick()

    def tick_all(self, n: int = 1, deliver: bool = True) -> None:
        for _ in range(n):
            for i in self.ids:
                if i not in self.down:
                    self.nodes[i].tick()
            if deliver:
                self.deliver_all()

    def campaign(self, i: int) -> None:
        """Time node i out (and nobody else) and run the election to completion."""
        node = self.nodes[i]
        for _ in range(4 * node.config.election_ticks):
            if node.role is not Role.FOLLOWER:
                break
            node.tick()
        self.deliver_all()

    # -- partitions and crashes
    def isolate(self, i: int) -> None:
        for j in self.ids:
            if j != i:
                self.cut.add(frozenset((i, j)))

    def heal(self) -> None:
        self.cut.clear()

    def crash(self, i: int) -> None:
        self.down.add(i)
        self.queue = [m for m in self.queue if m.src != i and m.dst != i]

    def restart(self, i: int) -> None:
        self.down.discard(i)
        snap = self.disks[i].snapshot
        self.applied[i] = {}
        self.last_applied[i] = 0
        if snap is not None:
            self.restore(i, snap)
        self.nodes[i] = self._make(i)

    # -- queries
    def leaders(self) -> list[int]:
        return [i for i in self.ids if i not in self.down and self.nodes[i].role is Role.LEADER]

    def leader(self) -> int:
        leaders = self.leaders()
        top = max(self.nodes[i].term for i in leaders)
        (lead,) = [i for i in leaders if self.nodes[i].term == top]
        return lead

    def elect(self, i: int) -> None:
        self.campaign(i)
        assert self.nodes[i].role is Role.LEADER, self.nodes[i].status()
        self.deliver_all()

    def propose(self, i: int, data: bytes) -> tuple[int, int]:
        return self.nodes[i].propose(data)

    def logs_equal(self, *ids: int) -> bool:
        logs = [[(e.index, e.term, e.data) for e in self.disks[i].entries] for i in ids]
        return all(lg == logs[0] for lg in logs)


def meta(index: int, term: int) -> SnapshotMeta:
    return SnapshotMeta(index, term)
