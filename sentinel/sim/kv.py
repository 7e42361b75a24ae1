"""Key/value clients in the simulator, with a history checked by `sentinel.lin`.

Each client is a session of one client process, driven by the real client state machine
(`kvraft.attempts.Operation` on a `SessionState`: registration, exactly-once (client id,
seq) retries, re-registration after its session expired, leader hints, round pauses,
deadlines) talking to the nodes' real kv servers (kvserve.py) over the virtual network.
Its attempts go through the real `Coalescer` (kvraft/batching.py) on a `SimClientNetwork`
(clientnet.py): the attempts started in one virtual instant travel to a server as one
batch; each attempt's reply, failure notice or timeout goes back into its Operation. Gets
are served by the servers' ReadIndex and lease reads, never through the log. A call that
ends in OutcomeUnknown stays in the history as a write of unknown outcome; one that ends
Unavailable changed nothing. Times in the history are virtual microseconds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sentinel.kvraft import Append, Get, Put
from sentinel.kvraft.attempts import Done, Fail, Operation, Pause, Send, SessionState, prepare
from sentinel.kvraft.batching import Coalescer
from sentinel.kvraft.codec import encode_command
from sentinel.kvraft.errors import OutcomeUnknown, Unavailable
from sentinel.lin import PENDING, UNKNOWN, CheckResult, KvInput, check_operations, kv_model
from sentinel.lin import Operation as LinOperation
from sentinel.netsim.rpc import RpcReply
from sentinel.sim.clientnet import SimClientNetwork
from sentinel.sim.cluster import NEVER, SimCluster
from sentinel.sim.invariants import InvariantViolation
from sentinel.sim.node import SimNode

MS = 1000
US_PER_S = 1_000_000
#: Operations one run may record.
HISTORY_MAX = 100_000
#: The client process's endpoint on the virtual network.
CLIENT_ENDPOINT = 1000
_KINDS = {"put": Put, "append": Append}


@dataclass
class _Client:
    """One simulated client session: its state, the call in progress (at most one), the
    number of its current attempt (a callback of an earlier one is stale) and when it
    next begins a call (after thinking)."""

    id: int
    session: SessionState
    op: Operation | None = None
    input: KvInput | None = None
    call_us: int = 0
    attempt: int = 0
    next_us: int = 0
    calls: int = 0  # calls begun (numbers the values it writes)
    sent: bool = False  # the call in progress sent at least one attempt
    registered: int = 0  # the client id its session last had (0: none yet)


@dataclass
class KVWorkload:
    """`clients` key/value sessions of one client process; a Timer for the cluster (and an
    ApplyListener that needs nothing: answers come as RPC replies). Their attempts go
    through the production `Coalescer`: those started in one burst (one virtual instant)
    travel to a server as one "KVServer.Batch" request, whose writes the server proposes as
    one WriteBatch entry."""

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
    #: Think time between a session's calls, up to think_ms_max; none (the next call starts
    #: in the burst of the last one's answer, as in a pipelining client, so that the calls
    #: of several sessions coalesce) with the chance pipeline_chance.
    think_ms_max: int = 40
    pipeline_chance: float = 0.5
    history: list[LinOperation] = field(default_factory=list)
    completed: int = 0
    retries: int = 0
    unknown: int = 0
    #: Sessions the servers expired while their client used them (it registered again).
    sessions_expired: int = 0
    _clients: list[_Client] = field(default_factory=list)
    _cluster: SimCluster | None = None
    _net: SimClientNetwork | None = None
    _coalescer: Coalescer | None = None

    def __post_init__(self) -> None:
        self._clients = []

    def _join(self, cluster: SimCluster) -> None:
        """Put the client process on the cluster's network (once, at the first fire)."""
        self._cluster = cluster
        self._net = SimClientNetwork(cluster, CLIENT_ENDPOINT)
        self._coalescer = Coalescer(self._net)  # type: ignore[arg-type]  # a Network's calls
        cluster.rpc_client = self._net.on_delivery
        for i in range(self.clients):
            session = SessionState(cluster.ids)
            session.leader = self.rng.randrange(len(cluster.ids))
            first_us = cluster.now_us + self.rng.randint(0, self.think_ms_max) * MS
            self._clients.append(_Client(i, session, next_us=first_us))

    # ------------------------------------------------------------------ Timer

    def next_us(self) -> int:
        """The earliest client's next call, timeout, pause end or flush."""
        if self._net is None:
            return 0
        return min(self._net.next_us(), *(c.next_us for c in self._clients))

    def fire(self, cluster: SimCluster) -> None:
        """Run what is due: timeouts and pause ends, then new calls (in id order); then
        send what they started, coalesced."""
        if self._net is None:
            self._join(cluster)
        net = self._net
        assert net is not None
        net.run_due()
        now = cluster.now_us
        for client in self._clients:
            if client.op is None and client.next_us <= now:
                self._begin(client, now)
        net.flush()

    def _begin(self, client: _Client, now: int) -> None:
        if now >= self.stop_us:
            client.next_us = NEVER
            return
        client.next_us = NEVER  # until the call ends
        if self.rng.random() < self.new_session_chance:
            assert self._cluster is not None
            client.session = SessionState(self._cluster.ids)
            client.session.leader = self.rng.randrange(len(self._cluster.ids))
            client.registered = 0
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
        self._act(client, client.op.start(now / US_PER_S))

    def _act(self, client: _Client, action: object) -> None:
        """Do what the client's Operation says."""
        cluster, net, coalescer = self._cluster, self._net, self._coalescer
        assert cluster is not None and net is not None and coalescer is not None
        now = cluster.now_us
        client.attempt += 1
        attempt = client.attempt
        if isinstance(action, Send):
            client.sent = True
            self._note_session(client)
            coalescer.send(
                action.server,
                action.method,
                encode_command(action.command),  # the one form a command travels in
                action.timeout_s,
                lambda reply: self._on_reply(client, attempt, reply),
                lambda exc: self._on_send_error(client, attempt, exc),
            )
        elif isinstance(action, Pause):
            net.call_later(action.pause_s, lambda: self._on_resume(client, attempt))
        elif isinstance(action, Done):
            self._record(client, action.value, now)
            self._end(client, now)
        else:
            assert isinstance(action, Fail), action
            self._failed(client, action.error, now)
            self._end(client, now)

    def _note_session(self, client: _Client) -> None:
        """Count a session the servers expired under its client: it registers again."""
        client_id = client.session.client_id
        if client_id == 0 and client.registered:
            self.sessions_expired += 1
        client.registered = client_id

    def _on_reply(self, client: _Client, attempt: int, reply: RpcReply | None) -> None:
        """The answer to an attempt: its reply, or None (lost, failed, timed out)."""
        op = client.op
        if op is None or attempt != client.attempt:
            return  # a stale callback (cannot happen: each runs once, for the last attempt)
        if reply is None:
            self.retries += 1
        now = self._cluster.now_us if self._cluster else 0
        self._act(client, op.on_reply(reply, now / US_PER_S))

    def _on_send_error(self, client: _Client, attempt: int, exc: Exception) -> None:
        """A held attempt could not be sent (over a bound): the call ends, as in `Job`."""
        op = client.op
        if op is not None and attempt == client.attempt:
            self._act(client, op.cancel(f"could not send ({type(exc).__name__}: {exc})"))

    def _on_resume(self, client: _Client, attempt: int) -> None:
        op = client.op
        if op is not None and attempt == client.attempt:
            now = self._cluster.now_us if self._cluster else 0
            self._act(client, op.resume(now / US_PER_S))

    def _end(self, client: _Client, now: int) -> None:
        client.op = client.input = None
        think_ms = 0
        if self.rng.random() >= self.pipeline_chance:
            think_ms = self.rng.randint(1, self.think_ms_max)
        client.next_us = now + think_ms * MS

    @property
    def batches(self) -> int:
        """Batch requests the clients sent (each of several attempts)."""
        return self._coalescer.batches_sent if self._coalescer else 0

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

    def on_apply(self, node: SimNode, entry: object) -> None:
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
