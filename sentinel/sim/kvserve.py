"""The production kv server (`KVServerApp`) on a simulated node; its RPCs on the virtual net.

Each node of a kv run hosts a real `KVServerApp` as its driver's application, with a
`SimContext` as its `NodeContext`: proposals, ReadIndex reads (leased or not) and
compactions go through the node's `NodeDriver`, and reply deadlines run on virtual time.
Clients (kv.py) reach the server's "KVServer" RPC service over the `VirtualNetwork`: a
request is a delivery with a request id carrying an `RpcCall`; `serve_rpc` looks the method
up in the node's `RpcServer` and sends the reply (at once, or when its `Deferred` resolves)
back with the same request id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sentinel.kvraft.logclock import LogClock
from sentinel.kvraft.server import KVServerApp
from sentinel.kvraft.statemachine import KVStateMachine
from sentinel.netsim.rpc import Deferred, RpcCall, RpcReply, RpcServer
from sentinel.netsim.vnet import Delivery
from sentinel.raft import Config, Entry, Role, Status
from sentinel.wire import decode, encode

if TYPE_CHECKING:
    from sentinel.sim.cluster import SimCluster
    from sentinel.sim.node import SimNode

#: Deferred replies are answered RETRY after this long (the server's `reply_timeout_ms`).
REPLY_TIMEOUT_MS = 100
TICK_S = 0.01


def lease_s(config: Config) -> float:
    """The read lease of a simulated leader: as `NodeSpec.lease_ms`, 80% of the shortest
    time a follower that heard from it refuses to vote for another."""
    return 0.8 * (config.election_ticks - 1) * TICK_S


class KVServerMachine:
    """A `KVServerApp` as a simulated node's state machine (sim/app.py `StateMachine`),
    with the driver's read and role hooks passed on (SimApp forwards them) and the gets it
    serves counted by how their read point was confirmed."""

    def __init__(self) -> None:
        self.server = KVServerApp()
        self.ctx: SimContext | None = None
        #: read context -> "reads_lease" or "reads_index" (the counter it goes to).
        self.read_kinds: dict[bytes, str] = {}

    def apply(self, entry: Entry) -> None:
        """Apply through the server (which answers the writes waiting on this entry)."""
        self.server.apply(entry)

    def snapshot(self) -> bytes:
        """The state machine's snapshot."""
        return self.server.sm.snapshot()

    def restore(self, data: bytes) -> None:
        """Install a snapshot through the server (waiting writes it covers learn so)."""
        probe = KVStateMachine()
        probe.restore(data)
        self.server.restore(probe.applied_index, data)

    def read_ready(self, context: bytes) -> None:
        """Serve the gets of a confirmed read point; count them."""
        kind = self.read_kinds.pop(context, None)
        if kind is not None and self.ctx is not None:
            self.ctx.cluster.counts[kind] += len(self.server.reads.get(context, ()))
        self.server.read_ready(context)

    def read_failed(self, context: bytes) -> None:
        """A read point lost with the leadership."""
        self.read_kinds.pop(context, None)
        self.server.read_failed(context)

    def role_changed(self, role: Role, term: int, leader: int) -> None:
        """Pass on to the server (pending writes are answered RETRY)."""
        self.server.role_changed(role, term, leader)

    def on_tick(self) -> None:
        """Pass on to the server (deferred replies time out)."""
        self.server.on_tick()


class SimContext:
    """A `NodeContext` on a simulated node: the driver, virtual time, no files."""

    def __init__(self, cluster: SimCluster, node: SimNode, machine: KVServerMachine) -> None:
        self.cluster = cluster
        self.node = node
        self.machine = machine
        self.node_id = node.id
        self.peer_ids = node.peer_ids
        self.rpc = RpcServer(None)  # type: ignore[arg-type]  # calls come through serve_rpc
        self.directory = ""
        self.options: Mapping[str, object] = {
            "reply_timeout_ms": REPLY_TIMEOUT_MS,
            **cluster.app_options,
        }

    def clock(self) -> float:
        """Virtual seconds."""
        return self.cluster.now_us / 1e6

    def propose(self, data: bytes) -> tuple[int, int]:
        """Through the node's driver."""
        assert self.node.driver is not None
        return self.node.driver.propose(data)

    def read_index(self, context: bytes) -> None:
        """Through the node's driver, on virtual time; remember whether a lease answers."""
        driver = self.node.driver
        assert driver is not None
        now_s = self.clock()
        leased = now_s < driver.lease_until
        driver.read_index(context, now_s)
        self.machine.read_kinds[bytes(context)] = "reads_lease" if leased else "reads_index"

    def compact(self, index: int, data: bytes) -> None:
        """Through the node's driver."""
        assert self.node.driver is not None
        self.node.driver.compact(index, data)

    def compact_in_background(
        self, index: int, make_snapshot: Callable[[], bytes], state_bytes: int
    ) -> bool:
        """No fork in the simulator: compact at once."""
        self.compact(index, make_snapshot())
        return True

    def raft_status(self) -> Status:
        """The core's status."""
        assert self.node.core is not None
        return self.node.core.status()

    def entry(self, index: int) -> Entry | None:
        """The core's entry at `index`, if held."""
        core = self.node.core
        assert core is not None
        if not core.log.snapshot_index < index <= core.log.last_index:
            return None
        return core.log.entry(index)

    def raft_state_bytes(self) -> int:
        """Not measured in the simulator (compaction follows `compact_every`)."""
        return 0

    def snapshot_bytes(self) -> int:
        """Not measured in the simulator."""
        return 0

    def counters(self) -> Mapping[str, int]:
        """None kept."""
        return {}


#: The wall-clock time (ms) at virtual time 0: any fixed value keeps runs reproducible.
SIM_EPOCH_MS = 1_700_000_000_000


def attach(cluster: SimCluster, node: SimNode) -> None:
    """Start the kv server of a freshly started node (when its app is one)."""
    machine = node.app
    if not isinstance(machine, KVServerMachine):
        return
    ctx = SimContext(cluster, node, machine)
    machine.ctx = ctx
    machine.server.start(ctx)  # type: ignore[arg-type]
    machine.server.monotonic = ctx.clock
    # Log time too comes from the virtual clock, so a seed replays to the same stamps.
    machine.server.clock = LogClock(
        machine.server.sm, wall=lambda: SIM_EPOCH_MS + int(ctx.clock() * 1000)
    )


def serve_rpc(cluster: SimCluster, delivery: Delivery) -> None:
    """Run one client's RPC request on its node; reply over the virtual network."""
    node = cluster.nodes[delivery.dst]
    machine = node.app
    if not node.active or not isinstance(machine, KVServerMachine) or machine.ctx is None:
        return  # a paused or down node answers nothing: the client times out
    call = decode(delivery.payload, RpcCall)
    assert isinstance(call, RpcCall)
    handler = machine.ctx.rpc.handler(call.method)
    assert handler is not None, f"unknown method {call.method}"
    result = handler(call.args)
    incarnation = node.incarnation

    def reply(value: Any) -> None:
        if node.incarnation == incarnation and node.up:
            cluster.net.send(
                cluster.now_us, node.id, delivery.src, encode(RpcReply(value)), True,
                delivery.request_id,
            )  # fmt: skip

    if isinstance(result, Deferred):
        result.on_resolve(reply)
    else:
        reply(result)
    cluster.process(node)
