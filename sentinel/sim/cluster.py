"""A whole cluster on a virtual clock: nodes, the seeded virtual network, the driver loop.

Each node is driven by the node process's own `NodeDriver` (raft/driver.py): feed it ticks,
messages and proposals, and it handles the Readys (persist, send, apply, advance, compact)
through the simulator's host (host.py: the simulated disk, the virtual network, the node's
state machine, all watched by the invariant checker). Every
message crosses the wire codec (`encode` at the sender, `decode` at the receiver), so no
Python object is shared between nodes and the codec's checks run on every message.

Time is an int count of microseconds. Each node ticks every 10 ms with its own phase, so
ticks of different nodes interleave. All randomness comes from generators derived from the
seed; nodes and timers are visited in a fixed order.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from sentinel.host.recorder import Recorder
from sentinel.netsim import FaultConfig, FaultPolicy, VirtualNetwork
from sentinel.netsim.vnet import Delivery
from sentinel.raft import Application, InvalidMessage, Message, MessageType, Raft, Role
from sentinel.raft.driver import NodeDriver
from sentinel.raft.membership import app_data
from sentinel.sim import kvserve, members
from sentinel.sim.disk import DiskCrash
from sentinel.sim.host import SimContext, SimHost
from sentinel.sim.invariants import DurableLog, InvariantChecker
from sentinel.sim.node import SimNode
from sentinel.sim.trace import Trace
from sentinel.wire import decode, encode

log = logging.getLogger(__name__)

TICK_US = 10_000
NEVER = 1 << 62
#: Events handled at one virtual instant before we call it a livelock.
EVENTS_PER_INSTANT_MAX = 200_000
#: Ready batches handled in one go for one node.
READY_ROUNDS_MAX = 1000
_LEADER_TYPES = (MessageType.APPEND, MessageType.HEARTBEAT, MessageType.SNAPSHOT)


class Timer(Protocol):
    """Something that acts at virtual times: a fault schedule, a workload, a probe."""

    def next_us(self) -> int:
        """When it next wants to act (NEVER for never)."""
        ...

    def fire(self, cluster: SimCluster) -> None:
        """Act at `cluster.now_us` (must move next_us forward)."""
        ...


class ApplyListener(Protocol):
    """Told about every entry applied on every node (clients learn their results here)."""

    def on_apply(self, node: SimNode, entry: Any) -> None:
        """`node` applied `entry`."""
        ...

    def on_crash(self, node: SimNode) -> None:
        """`node` crashed: calls waiting on it will never hear from that incarnation."""
        ...


class SimCluster:
    """N nodes of the same raft core on a `VirtualNetwork`, checked after every step."""

    def __init__(
        self,
        seed: int,
        nodes: int = 5,
        app_factory: Callable[[], Application] = Recorder,
        raft_config: dict[str, Any] | None = None,
        net_config: FaultConfig | None = None,
        trace: Trace | None = None,
        full_check_us: int = 10 * TICK_US,
        app_options: dict[str, object] | None = None,
    ) -> None:
        assert 1 <= nodes <= 99, "between 1 and 99 nodes"
        self.seed = seed
        self.ids = tuple(range(1, nodes + 1))
        #: Nodes 1..founders started the cluster; members.py adds the others (new ids).
        self.founders = nodes
        #: Nodes a committed configuration removed: stopped for good.
        self.retired: set[int] = set()
        self.now_us = 0
        self.full_check_us = full_check_us
        #: Options every node's application gets (its NodeContext's `options`): they say
        #: when it compacts (the recorder's "snapshots", the kv server's "maxraftstate").
        self.app_options = dict(app_options or {})
        self.rng = random.Random(f"{seed}/cluster")
        self.disk_rng = random.Random(f"{seed}/disk")
        policy = FaultPolicy(net_config) if net_config is not None else FaultPolicy()
        self.net = VirtualNetwork(policy, random.Random(f"{seed}/net"))
        self.trace = trace if trace is not None else Trace()
        self.checker = InvariantChecker(self.ids)
        self.listeners: list[ApplyListener] = []
        #: Where RPC replies (and failure notices) to client endpoints go (kv.py).
        self.rpc_client: Callable[[Delivery], None] | None = None
        self.counts: dict[str, int] = dict.fromkeys(
            (
                "delivered",
                "dropped",
                "invalid",
                "crashes",
                "restarts",
                "pauses",
                "compactions",
                "disk_crashes",
                "disk_full_stalls",
                "snapshots_installed",
                "elections",
                "reads_index",
                "reads_lease",
                "conf_changes",
                "conf_refused",
                "retired",
            ),
            0,
        )
        cluster_id = f"sim-{seed}"
        config_kw = dict(raft_config or {})
        self._node_args = (seed, cluster_id, app_factory, config_kw, self._clock_s)
        self.nodes = {i: SimNode(i, self.ids, *self._node_args) for i in self.ids}
        self._next_tick = {i: self.rng.randrange(1, TICK_US + 1) for i in self.ids}
        self._next_full_check = 0
        self._durability_key = (-1, -1)
        for i in self.ids:
            self.net.add_endpoint(i)
            self.start(i)

    def add_node(self, i: int) -> None:
        """Start a blank node `i` that joins the cluster (members.py adds it)."""
        assert i not in self.nodes, f"node ids are never reused ({i})"
        seed, cluster_id, app_factory, config_kw, clock = self._node_args
        founders = tuple(range(1, self.founders + 1))
        config = {**config_kw, "joining": True}
        self.nodes[i] = SimNode(i, founders, seed, cluster_id, app_factory, config, clock)
        self.ids = (*self.ids, i)
        self._next_tick[i] = self.now_us + self.rng.randrange(1, TICK_US + 1)
        self.net.add_endpoint(i)
        self.trace.add((self.now_us, "add-node", i))
        self.start(i)

    # ------------------------------------------------------------------ views

    def leader(self) -> SimNode | None:
        """The active node that leads the highest term, if any."""
        best: SimNode | None = None
        for node in self.nodes.values():
            core = node.core
            if not node.active or core is None or core.role is not Role.LEADER:
                continue
            if best is None or core.term > best.core.term:  # type: ignore[union-attr]
                best = node
        return best

    def cores(self) -> dict[int, Raft]:
        """Cores of running nodes (paused ones included), by id."""
        return {i: n.core for i, n in self.nodes.items() if n.core is not None}

    # ------------------------------------------------------------ the run loop

    def next_event_us(self, timers: Sequence[Timer] = ()) -> int:
        """When this cluster next has something to do (a tick, a delivery, a timer): for a
        caller that runs several clusters on one clock (shards.py)."""
        due = self.net.next_delivery_time()
        t = min(self._next_tick.values())
        t = min(t, due) if due is not None else t
        return min([t, *(timer.next_us() for timer in timers)])

    def run_until(self, end_us: int, timers: Sequence[Timer] = ()) -> None:
        """Advance virtual time to `end_us`, handling every event in time order."""
        same_instant = 0
        net, next_tick = self.net, self._next_tick
        tick_min = min(next_tick.values())
        while True:
            t = tick_min
            due = net.next_delivery_time()
            if due is not None and due < t:
                t = due
            timer_min = min([timer.next_us() for timer in timers], default=NEVER)
            if timer_min < t:
                t = timer_min
            if t > end_us:
                self.now_us = max(self.now_us, end_us)
                return
            same_instant = same_instant + 1 if t == self.now_us else 0
            assert same_instant < EVENTS_PER_INSTANT_MAX, f"livelock at {t} us"
            self.now_us = t
            if timer_min <= t:
                self._fire_timers(timers, t)
            if due is not None and due <= t:
                for delivery in net.pop_due(t):
                    if delivery.request_id:  # a client's RPC, or its reply (kvserve.py)
                        self._deliver_rpc(delivery)
                    else:
                        self._deliver(delivery.src, delivery.dst, delivery.payload)
            if tick_min <= t:
                for i in self.ids:
                    if next_tick[i] <= t:
                        next_tick[i] += TICK_US
                        self._tick(i)
                tick_min = min(next_tick.values())
            if t >= self._next_full_check:
                self._next_full_check = t + self.full_check_us
                self.check_cluster()
            elif (self.checker.commit_max, self.counts["crashes"]) != self._durability_key:
                # Who holds the top committed entry changes only with a commit or a crash.
                self._durability_key = (self.checker.commit_max, self.counts["crashes"])
                self.checker.check_durability(self.cores(), self._durable())

    def _fire_timers(self, timers: Sequence[Timer], t: int) -> None:
        for timer in timers:
            for _ in range(EVENTS_PER_INSTANT_MAX):
                if timer.next_us() > t:
                    break
                timer.fire(self)

    def _tick(self, i: int) -> None:
        node = self.nodes[i]
        if node.active:
            node.driver.tick()  # type: ignore[union-attr]
            self.process(node)

    def _deliver(self, src: int, dst: int, payload: bytes) -> None:
        node = self.nodes[dst]
        if node.core is None:
            return
        m = decode(payload, Message)
        assert isinstance(m, Message)
        if node.paused:
            node.queue(m)
            return
        self._step(node, m)

    def _deliver_rpc(self, delivery: Delivery) -> None:
        if delivery.dst in self.nodes:
            if not delivery.failed:
                kvserve.serve_rpc(self, delivery)
        elif self.rpc_client is not None:
            self.rpc_client(delivery)

    def _step(self, node: SimNode, m: Message) -> None:
        self.counts["delivered"] += 1
        self.trace.add(
            (
                self.now_us,
                "deliver",
                m.src,
                m.dst,
                m.type.value,
                m.term,
                m.index,
                len(m.entries),
                m.commit,
                m.reject,
            )
        )
        try:
            node.driver.step(m)  # type: ignore[union-attr]
        except InvalidMessage as exc:
            self.counts["invalid"] += 1
            log.warning("node %d: invalid message: %s", node.id, exc)
        self.process(node)

    # ----------------------------------------------------- the node's driver

    def process(self, node: SimNode) -> None:
        """Handle every Ready of one node (through its driver), then check it."""
        core, driver, saver = node.core, node.driver, node.saver
        assert core is not None and driver is not None and saver is not None
        try:
            done = driver.process(READY_ROUNDS_MAX)
        except DiskCrash:
            self.counts["disk_crashes"] += 1
            self.trace.add((self.now_us, "crash", node.id, "(power cut while persisting)"))
            self._crash(node)
            return
        if not done and saver.stalled is None:
            raise AssertionError(f"node {node.id} never ran out of Ready batches")
        self._trace_role(node)
        self.checker.check_node(node.id, core)
        if core.removed:
            members.retire_if_removed(self, node.id)

    def send(self, m: Message) -> None:
        """Put one node's message on the virtual network (the checker sees leaders')."""
        if m.type in _LEADER_TYPES:
            self.checker.observe_leader(m.src, m.term)
        verdict = self.net.send(self.now_us, m.src, m.dst, encode(m), m.is_response)
        if not verdict.delivered:
            self.counts["dropped"] += 1
            kind = "drop" if verdict.fate.value == "drop" else "cut"
            self.trace.add(
                (
                    self.now_us,
                    kind,
                    m.src,
                    m.dst,
                    m.type.value,
                    m.term,
                    m.index,
                    len(m.entries),
                    m.commit,
                    m.reject,
                )
            )

    def _trace_role(self, node: SimNode) -> None:
        core = node.core
        assert core is not None
        now = (core.role.value, core.term, core.lead)
        if now != node.last_role:
            if core.role is Role.LEADER and node.last_role[0] != Role.LEADER.value:
                self.counts["elections"] += 1
            node.last_role = now
            self.trace.add((self.now_us, "role", node.id, *now))

    # ------------------------------------------------------------ whole cluster

    def check_cluster(self) -> None:
        """The whole-cluster invariants (log matching over live logs, durability)."""
        self.checker.check_cluster(self.cores(), self._durable())

    def _durable(self) -> dict[int, DurableLog]:
        return {i: n.durable for i, n in self.nodes.items() if n.core is None and n.durable}

    # -------------------------------------------------------------- faults

    def start(self, i: int) -> None:
        """Start (or restart) node i from its disk."""
        node = self.nodes[i]
        state = node.start()
        core = node.core
        assert core is not None
        app = node.app
        assert app is not None
        host = SimHost(self, node)
        lease = kvserve.lease_s(core.config) if core.config.lease_reads else 0.0
        node.driver = NodeDriver(core, app, host, lease)
        node.ctx = SimContext(self, node, self.app_options)
        app.start(node.ctx)  # type: ignore[arg-type]  # a NodeContext
        kvserve.attach(node.ctx, app)
        if state.snapshot is not None:
            app.restore(state.snapshot.meta.index, app_data(state.snapshot.data))
        self.net.set_up(i, True)
        self.checker.node_started(i, state.snapshot, state.entries)
        self._trace_role(node)
        self.process(node)

    def crash(self, i: int) -> bool:
        """Crash node i (False when it is already down)."""
        node = self.nodes[i]
        if node.core is None:
            return False
        self.trace.add((self.now_us, "crash", i))
        self._crash(node)
        return True

    def _crash(self, node: SimNode) -> None:
        self.counts["crashes"] += 1
        for listener in self.listeners:
            listener.on_crash(node)
        node.crash(self.disk_rng)
        self.net.set_up(node.id, False)

    def restart(self, i: int) -> bool:
        """Restart a crashed node i (False when it is running)."""
        node = self.nodes[i]
        if node.core is not None or i in self.retired:
            return False
        self.counts["restarts"] += 1
        self.trace.add((self.now_us, "restart", i))
        self.start(i)
        return True

    def crash_while_persisting(self, i: int, ops: int) -> bool:
        """Arm node i's disk to lose power on its `ops`-th next write or sync."""
        node = self.nodes[i]
        if node.core is None or node.disk.armed:
            return False
        node.disk.arm(ops)
        self.trace.add((self.now_us, "arm-crash", i, ops))
        return True

    def _clock_s(self) -> float:
        return self.now_us / 1e6

    def fill_disk(self, i: int, full: bool) -> None:
        """Make node i's disk full (writes that take space fail with ENOSPC) or not."""
        node = self.nodes[i]
        if node.disk.full != full:
            node.disk.full = full
            self.trace.add((self.now_us, "disk-full" if full else "disk-room", i))

    def pause(self, i: int) -> bool:
        """Stop node i's ticks and deliveries (they queue) until `resume`."""
        node = self.nodes[i]
        if not node.active:
            return False
        node.paused = True
        self.counts["pauses"] += 1
        self.trace.add((self.now_us, "pause", i))
        return True

    def resume(self, i: int) -> bool:
        """Resume a paused node; it handles its queued messages first."""
        node = self.nodes[i]
        if node.core is None or not node.paused:
            return False
        node.paused = False
        self.trace.add((self.now_us, "resume", i, len(node.inbox)))
        while node.inbox and node.active:
            self._step(node, node.inbox.popleft())
        return True
