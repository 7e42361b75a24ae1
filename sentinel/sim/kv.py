"""Key/value clients in the simulator, with a history checked by `sentinel.lin`.

Each client is the real client state machine (`kvraft.attempts.Operation` on a
`SessionState`: registration, exactly-once (client id, seq) retries, leader hints, round
pauses, deadlines) talking to the nodes' real kv servers (kvserve.py) over the virtual
network: an attempt is an RPC request with a request id; its reply, its failure notice or
its timeout (virtual time) goes back into the Operation. Gets are served by the servers'
ReadIndex and lease reads, never through the log. A call that ends in OutcomeUnknown stays
in the history as a write of unknown outcome; one that ends Unavailable changed nothing.
Times in the history are virtual microseconds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sentinel.kvraft import Append, Get, Put
from sentinel.kvraft.attempts import Done, Fail, Operation, Pause, Send, SessionState, prepare
from sentinel.kvraft.codec import encode_command
from sentinel.kvraft.errors import OutcomeUnknown, Unavailable
from sentinel.lin import PENDING, UNKNOWN, CheckResult, KvInput, check_operations, kv_model
from sentinel.lin import Operation as LinOperation
from sentinel.netsim.rpc import RpcCall, RpcReply
from sentinel.netsim.vnet import Delivery
from sentinel.sim.cluster import NEVER, SimCluster
from sentinel.sim.invariants import InvariantViolation
from sentinel.sim.node import SimNode
from sentinel.wire import decode, encode

MS = 1000
US_PER_S = 1_000_000
#: Operations one run may record.
HISTORY_MAX = 100_000
#: Client endpoints on the virtual network are CLIENT_ENDPOINT_BASE + client number.
CLIENT_ENDPOINT_BASE = 1000
_KINDS = {"put": Put, "append": Append}


@dataclass
class _Client:
    """One simulated client: its session, the call in progress (at most one), the RPC it
    waits for (request id, 0: none) and when it next acts (an RPC timeout or a pause end)."""

    id: int
    session: SessionState
    op: Operation | None = None
    input: KvInput | None = None
    call_us: int = 0
    waiting: int = 0
    next_us: int = 0
    calls: int = 0  # calls begun (numbers the values it writes)
    sent: bool = False  # the call in progress sent at least one attempt


@dataclass
class KVWorkload:
    """`clients` key/value clients; a Timer for the cluster (and an ApplyListener that
    needs nothing: answers come as RPC replies)."""

    rng: random.Random
    clients: int = 3
    keys: tuple[str, ...] = ("a", "b", "c")
    stop_us: int = NEVER
    rpc_timeout_s: float = 0.25
    #: The chance that a client starts a call as a new client process would: a new
    #: session, first sent to a random server (clients that all follow one leader never
    #: meet a new leader while the old one still believes it leads).
    new_session_chance: float = 0.1
    call_timeout_s: float = 3.0
    think_ms_max: int = 40
    history: list[LinOperation] = field(default_factory=list)
    completed: int = 0
    retries: int = 0
    unknown: int = 0
    _clients: list[_Client] = field(default_factory=list)
    _next_request: int = 0
    _cluster: SimCluster | None = None

    def __post_init__(self) -> None:
        self._clients = []

    def _join(self, cluster: SimCluster) -> None:
        """Put the clients on the cluster's network (once, at the first fire)."""
        self._cluster = cluster
        cluster.rpc_client = self.on_delivery
        for i in range(self.clients):
            cluster.net.add_endpoint(CLIENT_ENDPOINT_BASE + i)
            session = SessionState(cluster.ids)
            session.leader = self.rng.randrange(len(cluster.ids))
            first_us = cluster.now_us + self.rng.randint(0, self.think_ms_max) * MS
            self._clients.append(_Client(i, session, next_us=first_us))

    # ------------------------------------------------------------------ Timer

    def next_us(self) -> int:
        """The earliest client's next move."""
        if not self._clients:
            return 0
        return min(c.next_us for c in self._clients)

    def fire(self, cluster: SimCluster) -> None:
        """Move every client that is due (in id order)."""
        if self._cluster is None:
            self._join(cluster)
        now = cluster.now_us
        for client in self._clients:
            if client.next_us <= now:
                self._move(client, now)

    def _move(self, client: _Client, now: int) -> None:
        op = client.op
        if op is None:
            if now >= self.stop_us:
                client.next_us = NEVER
                return
            self._begin(client, now)
        elif client.waiting:  # the RPC timed out
            client.waiting = 0
            self.retries += 1
            self._act(client, op.on_reply(None, now / US_PER_S), now)
        else:  # a pause ended
            self._act(client, op.resume(now / US_PER_S), now)

    def _begin(self, client: _Client, now: int) -> None:
        if self.rng.random() < self.new_session_chance:
            assert self._cluster is not None
            client.session = SessionState(self._cluster.ids)
            client.session.leader = self.rng.randrange(len(self._cluster.ids))
        key = self.rng.choice(self.keys)
        roll = self.rng.random()
        if roll < 0.4:
            client.input = KvInput("get", key)
            request = prepare(Get, key)
        else:
            value = f"{client.id}.{client.calls};"
            f = "put" if roll < 0.7 else "append"
            client.input = KvInput(f, key, value)
            request = prepare(_KINDS[f], key, value)
        deadline_s = now / US_PER_S + self.call_timeout_s
        client.op = Operation(client.session, request, deadline_s, self.rpc_timeout_s)
        client.call_us = now
        client.calls += 1
        client.sent = False
        self._act(client, client.op.start(now / US_PER_S), now)

    def _act(self, client: _Client, action: object, now: int) -> None:
        """Do what the client's Operation says."""
        cluster = self._cluster
        assert cluster is not None
        if isinstance(action, Send):
            self._next_request += 1
            client.waiting = self._next_request
            client.sent = True
            # The one form a command travels in, as the real client sends it.
            payload = encode(RpcCall(action.method, encode_command(action.command)))
            src = CLIENT_ENDPOINT_BASE + client.id
            cluster.net.send(now, src, action.server, payload, False, client.waiting)
            client.next_us = now + int(action.timeout_s * US_PER_S)
            cluster.trace.add((now, "kv-call", client.id, action.server, action.method))
        elif isinstance(action, Pause):
            client.next_us = now + max(1, int(action.pause_s * US_PER_S))
        elif isinstance(action, Done):
            self._record(client, action.value, now)
            self._end(client, now)
        else:
            assert isinstance(action, Fail), action
            self._failed(client, action.error, now)
            self._end(client, now)

    def _end(self, client: _Client, now: int) -> None:
        client.op = client.input = None
        client.waiting = 0
        client.next_us = now + self.rng.randint(1, self.think_ms_max) * MS

    def on_delivery(self, delivery: Delivery) -> None:
        """A reply (or a failure notice) for a client's RPC."""
        client = self._clients[delivery.dst - CLIENT_ENDPOINT_BASE]
        if client.op is None or delivery.request_id != client.waiting:
            return  # a late reply to an attempt given up on
        client.waiting = 0
        now = self._cluster.now_us if self._cluster else 0
        reply = None
        if not delivery.failed:
            reply = decode(delivery.payload, RpcReply)
            assert isinstance(reply, RpcReply)
        else:
            self.retries += 1
        self._act(client, client.op.on_reply(reply, now / US_PER_S), now)

    def _record(self, client: _Client, value: object, now: int) -> None:
        call = client.input
        assert call is not None
        output = (value or "") if call.f == "get" else None
        if len(self.history) < HISTORY_MAX:
            self.history.append(LinOperation(client.id, call, client.call_us, output, now))
        self.completed += 1

    def _failed(self, client: _Client, error: Exception, now: int) -> None:
        call = client.input
        assert call is not None
        if isinstance(error, OutcomeUnknown):  # may take effect at any time from its call
            self.unknown += 1
            if len(self.history) < HISTORY_MAX:
                op = LinOperation(client.id, call, client.call_us, UNKNOWN, PENDING)
                self.history.append(op)
            return
        if not isinstance(error, Unavailable):
            raise InvariantViolation(
                "kv client", f"client {client.id}: {call}: {type(error).__name__}: {error}"
            )

    # --------------------------------------------------------------- listener

    def on_apply(self, node: SimNode, entry: object, result: object) -> None:
        """Answers come as RPC replies, not from here."""

    def on_crash(self, node: SimNode) -> None:
        """A call waiting on the crashed node times out as it would in a real client."""

    # ------------------------------------------------------------------ checks

    @property
    def acked(self) -> int:
        """Calls that returned to their client."""
        return self.completed

    def operations(self) -> list[LinOperation]:
        """The history: completed calls, plus writes still open (outcome unknown)."""
        ops = list(self.history)
        for client in self._clients:
            call = client.input
            if call is None or client.op is None or not client.sent:
                continue
            if call.f != "get":  # an unanswered read constrains nothing
                ops.append(LinOperation(client.id, call, client.call_us, UNKNOWN, PENDING))
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
