"""Raft-level clients: proposals at random times to whoever leads, and the liveness probe.
Commands are wire-encoded, as the 6.824 recorder (the raft workload's application) takes
them.

A proposal is acknowledged when the node that accepted it applies it at the index it was
given (committed and applied); it is lost when that node applies another entry there, and
its outcome is unknown when that node crashes first. Every acknowledged command must then
be in the one global applied sequence at its index (checked at the end of a run), and no
node's application may report an error (as the 6.824 tests read the recorder's).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sentinel.raft import Entry, NotLeader, ProposalDropped
from sentinel.sim.cluster import NEVER, TICK_US, SimCluster
from sentinel.sim.invariants import InvariantViolation
from sentinel.sim.node import SimNode
from sentinel.wire import encode

#: Proposals waiting for their outcome, across nodes.
PENDING_MAX = 100_000


@dataclass
class ProposalWorkload:
    """Proposes `cmd/<n>` to a random current leader every `gap_ms_max`/2 ms on average."""

    rng: random.Random
    gap_ms_max: int = 60
    stop_us: int = NEVER
    proposed: int = 0
    acked: int = 0
    lost: int = 0
    unknown: int = 0
    refused: int = 0
    #: (node id, incarnation, index) -> (term, data)
    pending: dict[tuple[int, int, int], tuple[int, bytes]] = field(default_factory=dict)
    #: index -> data of acknowledged commands.
    acknowledged: dict[int, bytes] = field(default_factory=dict)
    _next_us: int = 0

    def __post_init__(self) -> None:
        self._next_us = self.rng.randint(0, self.gap_ms_max) * 1000

    def next_us(self) -> int:
        """When the next proposal is due."""
        return self._next_us if self._next_us < self.stop_us else NEVER

    def fire(self, cluster: SimCluster) -> None:
        """Propose one command to a random node that believes it leads."""
        self._next_us = cluster.now_us + self.rng.randint(1, self.gap_ms_max) * 1000
        leaders = [n for n in cluster.nodes.values() if n.active and n.core.lead == n.id]  # type: ignore[union-attr]
        if not leaders:
            self.refused += 1
            return
        node = self.rng.choice(leaders)
        command = f"cmd/{self.proposed}"
        data = encode(command)  # as the recorder's Start encodes a command
        try:
            index, term = node.core.propose(data)  # type: ignore[union-attr]
        except (NotLeader, ProposalDropped):
            self.refused += 1
            return
        self.proposed += 1
        if len(self.pending) < PENDING_MAX:
            self.pending[(node.id, node.incarnation, index)] = (term, data)
        cluster.trace.add((cluster.now_us, "propose", node.id, index, term, command))
        cluster.process(node)

    def on_apply(self, node: SimNode, entry: Entry) -> None:
        """Settle the proposal this node accepted at this index, if any."""
        check_application(node)
        want = self.pending.pop((node.id, node.incarnation, entry.index), None)
        if want is None:
            return
        if (entry.term, entry.data) == want:
            self.acked += 1
            self.acknowledged[entry.index] = entry.data
        else:
            self.lost += 1

    def on_crash(self, node: SimNode) -> None:
        """Proposals the node had not applied yet: their outcome is unknown."""
        gone = [key for key in self.pending if key[0] == node.id and key[1] == node.incarnation]
        for key in gone:
            del self.pending[key]
        self.unknown += len(gone)

    def check(self, cluster: SimCluster) -> None:
        """Every acknowledged command is in the global applied sequence at its index, and
        no node's application reported an error."""
        for node in cluster.nodes.values():
            check_application(node)
        applied = cluster.checker.applied
        for index, data in self.acknowledged.items():
            entry = applied.get(index)
            if entry is None or entry.data != data:
                raise InvariantViolation(
                    "acknowledged write lost",
                    f"{data!r} was acknowledged at index {index} but the applied sequence "
                    f"holds {entry and entry.data!r} there",
                )


@dataclass
class LivenessProbe:
    """After the heal: a leader must emerge and commit a new entry within `bound_us`."""

    start_us: int
    bound_us: int
    done_us: int = -1
    proposal: tuple[int, int] | None = None  # (index, term)
    attempts: int = 0
    #: What the probe proposes (a valid command for the application).
    data: bytes = encode("liveness")
    _next_us: int = 0

    def __post_init__(self) -> None:
        self._next_us = self.start_us

    def next_us(self) -> int:
        """Every tick from the heal until done."""
        return NEVER if self.done_us >= 0 else self._next_us

    def fire(self, cluster: SimCluster) -> None:
        """Propose a marker through the leader; succeed once it is committed."""
        now = cluster.now_us
        self._next_us = now + TICK_US
        committed = cluster.checker.committed
        if self.proposal is not None:
            index, term = self.proposal
            entry = committed.get(index)
            if entry is not None and entry.term == term:
                self.done_us = now
                cluster.trace.add((now, "live", f"entry {index} committed"))
                return
        if now > self.start_us + self.bound_us:
            raise InvariantViolation(
                "liveness",
                f"no leader committed a new entry within {self.bound_us // 1000} ms of the heal "
                f"at {self.start_us // 1000} ms (leader now: "
                f"{cluster.leader().id if cluster.leader() else None})",
            )
        leader = cluster.leader()
        if leader is None or leader.core is None:
            return
        if self.proposal is not None and self.proposal[1] == leader.core.term:
            return  # still waiting on this leader's copy
        try:
            self.proposal = leader.core.propose(self.data)
        except (NotLeader, ProposalDropped):
            return
        self.attempts += 1
        cluster.trace.add((now, "propose", leader.id, *self.proposal, "liveness"))  # type: ignore[misc]
        cluster.process(leader)


def check_application(node: SimNode) -> None:
    """An error the node's application recorded (the 6.824 recorder's `errors`: an entry
    out of order, a command that does not decode, a snapshot that lies) is a violation: in
    the 6.824 tests it fails the test."""
    errors = getattr(node.app, "errors", None)
    if errors:
        raise InvariantViolation(f"node {node.id}'s application reported an error", errors[0])
