"""Key/value clients in the simulator, with a history checked by `sentinel.lin`.

Each client opens a session (Register, through the log), then loops: think, pick an
operation (get / put / append on a few keys), and propose it to a node that believes it
leads. The call returns when that node applies the entry at the index it was given; a
timeout, a crash or another entry at that index makes the client retry the same command
(same client id and sequence number, so the state machine applies a write at most once)
at whoever leads then. Gets go through the log too, so they are linearizable by
construction. Times in the history are virtual microseconds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sentinel.kvraft import Append, Get, Put, Register, Result, ResultCode, encode_command
from sentinel.lin import (
    PENDING,
    UNKNOWN,
    CheckResult,
    KvInput,
    Operation,
    check_operations,
    kv_model,
)
from sentinel.raft import Entry, NotLeader, ProposalDropped
from sentinel.sim.cluster import NEVER, SimCluster
from sentinel.sim.invariants import InvariantViolation
from sentinel.sim.node import SimNode

MS = 1000
#: Operations one run may record.
HISTORY_MAX = 100_000


@dataclass
class _Call:
    """One client call in progress: what it asks, since when, where it was proposed."""

    input: KvInput | None  # None for Register
    data: bytes
    call_us: int
    attempt: tuple[int, int, int] | None = None  # (node id, incarnation, index)
    #: The term the attempt's entry was proposed in: with the index, it names one entry
    #: (a Get has no client id, so another client's Get of the key has the same bytes).
    attempt_term: int = 0
    attempts: int = 0


@dataclass
class _Client:
    """One simulated client: its session (0 until Register answers), its last write's seq,
    the call in progress (at most one) and when it next acts."""

    id: int
    session: int = 0
    seq: int = 0
    call: _Call | None = None
    next_us: int = 0


@dataclass
class KVWorkload:
    """`clients` key/value clients; a Timer and an ApplyListener for the cluster."""

    rng: random.Random
    clients: int = 3
    keys: tuple[str, ...] = ("a", "b", "c")
    stop_us: int = NEVER
    timeout_us: int = 400 * MS
    think_ms_max: int = 40
    history: list[Operation] = field(default_factory=list)
    completed: int = 0
    retries: int = 0
    _clients: list[_Client] = field(default_factory=list)
    _waiting: dict[tuple[int, int, int], _Client] = field(default_factory=dict)
    #: The cluster this workload drives (known from the first fire; calls start there).
    _cluster: SimCluster | None = None

    def __post_init__(self) -> None:
        self._clients = [
            _Client(i, next_us=self.rng.randint(0, self.think_ms_max) * MS)
            for i in range(self.clients)
        ]

    # ------------------------------------------------------------------ Timer

    def next_us(self) -> int:
        """The earliest client's next move."""
        return min(c.next_us for c in self._clients)

    def fire(self, cluster: SimCluster) -> None:
        """Move every client that is due (in id order)."""
        self._cluster = cluster
        now = cluster.now_us
        for client in self._clients:
            if client.next_us <= now:
                self._move(cluster, client)

    def _move(self, cluster: SimCluster, client: _Client) -> None:
        now = cluster.now_us
        if client.call is None:
            if now >= self.stop_us:
                client.next_us = NEVER
                return
            client.call = self._new_call(client, now)
        call = client.call
        if call.attempt is not None:  # timed out: forget that attempt, retry
            self._waiting.pop(call.attempt, None)
            call.attempt = None
            self.retries += 1
        leaders = [n for n in cluster.nodes.values() if n.active and n.core.lead == n.id]  # type: ignore[union-attr]
        if not leaders:
            client.next_us = now + self.rng.randint(10, 50) * MS
            return
        node = self.rng.choice(leaders)
        try:
            index, term = node.core.propose(call.data)  # type: ignore[union-attr]
        except (NotLeader, ProposalDropped):
            client.next_us = now + self.rng.randint(10, 50) * MS
            return
        call.attempt = (node.id, node.incarnation, index)
        call.attempt_term = term
        call.attempts += 1
        self._waiting[call.attempt] = client
        client.next_us = now + self.timeout_us
        cluster.trace.add((now, "kv-call", client.id, node.id, index, repr(call.input)))
        cluster.process(node)

    def _new_call(self, client: _Client, now: int) -> _Call:
        if not client.session:
            return _Call(None, encode_command(Register()), now)
        key = self.rng.choice(self.keys)
        roll = self.rng.random()
        if roll < 0.4:
            return _Call(KvInput("get", key), encode_command(Get(key)), now)
        client.seq += 1
        value = f"{client.id}.{client.seq};"
        if roll < 0.7:
            command = Put(key, value, client.session, client.seq)
            return _Call(KvInput("put", key, value), encode_command(command), now)
        command = Append(key, value, client.session, client.seq)
        return _Call(KvInput("append", key, value), encode_command(command), now)

    # --------------------------------------------------------------- listener

    def on_apply(self, node: SimNode, entry: Entry, result: object) -> None:
        """Complete (or fail over) the call this node accepted at this index."""
        client = self._waiting.pop((node.id, node.incarnation, entry.index), None)
        if client is None or client.call is None:
            return
        call = client.call
        call.attempt = None
        assert self._cluster is not None
        now = self._cluster.now_us
        if entry.term == call.attempt_term and entry.data != call.data:
            raise InvariantViolation(
                "log matching", f"the entry at {entry.index} of term {entry.term} is another"
            )
        if entry.term != call.attempt_term or not isinstance(result, Result):
            client.next_us = now  # another entry took the slot: retry at once
            return
        if call.input is None:
            client.session = result.client_id
        else:
            self._record(client, call, result, now)
        client.call = None
        client.next_us = now + self.rng.randint(1, self.think_ms_max) * MS

    def on_crash(self, node: SimNode) -> None:
        """Calls waiting on the crashed node retry at once."""
        for key in [k for k in self._waiting if k[0] == node.id and k[1] == node.incarnation]:
            client = self._waiting.pop(key)
            if client.call is not None:
                client.call.attempt = None
            client.next_us = self._cluster.now_us if self._cluster else 0

    def _record(self, client: _Client, call: _Call, result: Result, now: int) -> None:
        assert call.input is not None
        if call.input.f == "get":
            output = result.value if result.code is ResultCode.OK else ""
        else:
            output = None
        if len(self.history) < HISTORY_MAX:
            self.history.append(Operation(client.id, call.input, call.call_us, output, now))
        self.completed += 1

    # ------------------------------------------------------------------ checks

    @property
    def acked(self) -> int:
        """Calls that returned to their client."""
        return self.completed

    def operations(self) -> list[Operation]:
        """The history: completed calls, plus writes still open (outcome unknown)."""
        ops = list(self.history)
        for client in self._clients:
            call = client.call
            if call is None or call.input is None or not call.attempts:
                continue
            if call.input.f != "get":  # an unanswered read constrains nothing
                ops.append(Operation(client.id, call.input, call.call_us, UNKNOWN, PENDING))
        return ops

    def check(self, cluster: SimCluster, timeout_s: float = 60.0) -> CheckResult:
        """Linearizability of the history; raises InvariantViolation when it is illegal."""
        verdict = check_operations(kv_model, self.operations(), timeout_s=timeout_s)
        if verdict is CheckResult.ILLEGAL:
            raise InvariantViolation(
                "linearizability",
                f"the key/value history of {len(self.history)} calls is not linearizable",
            )
        return verdict
