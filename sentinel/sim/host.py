"""The simulator as the node driver's host and as its application's node.

The simulator runs each node through the same `NodeDriver` as the node process, with the
node's `Application` (raft/app.py: the kv server, the 6.824 recorder, any other) driven by
it directly. What the driver hands out lands here: `SimHost` saves to the node's simulated
disk and sends on the virtual network; `SimContext` is the application's `NodeContext`
(proposals, reads and compactions go to the driver; time is virtual; sizes are those of the
simulated disk). Both tell the invariant checker and the trace what happened: a Ready that
`SimHost` saved is then applied by the driver, so its restore and entries are observed as
applied there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from sentinel.netsim.rpc import RpcServer
from sentinel.raft import Entry, Message, Ready, Status

if TYPE_CHECKING:
    from sentinel.sim.cluster import SimCluster
    from sentinel.sim.node import SimNode


class SimHost:
    """A simulated node's disk (with full-disk stalls) and its side of the network."""

    def __init__(self, cluster: SimCluster, node: SimNode) -> None:
        self.cluster = cluster
        self.node = node

    def save(self, rd: Ready) -> bool:
        """Save `rd` through the node's stalling saver; trace stalls; tell the checker what
        was persisted and what the driver applies next."""
        cluster, node = self.cluster, self.node
        saver, storage = node.saver, node.storage
        assert saver is not None and storage is not None
        was_stalled = saver.stalled is not None
        if not saver.save(rd):
            if not was_stalled:
                cluster.counts["disk_full_stalls"] += 1
                cluster.trace.add((cluster.now_us, "disk-stall", node.id))
            return False
        if was_stalled:
            cluster.trace.add((cluster.now_us, "disk-saved", node.id))
        checker = cluster.checker
        if rd.snapshot is not None:
            checker.observe_snapshot(node.id, rd.snapshot, node.core.config.max_snapshot_bytes)
        if rd.entries:  # chained to what the disk holds before them: after a stall
            # the core's log may already differ there (it stepped a new leader's APPENDs)
            prev = storage.stored_term(rd.entries[0].index - 1)
            checker.observe_persist(node.id, prev if prev is not None else -1, rd.entries)
        self.observe_applied(rd)
        return True

    def observe_applied(self, rd: Ready) -> None:
        """What the driver applies of a saved Ready: its snapshot, its entries, its reads."""
        cluster, node = self.cluster, self.node
        snap = rd.apply_snapshot
        if snap is not None:
            cluster.checker.observe_restore(node.id, snap)
            cluster.counts["snapshots_installed"] += 1
            cluster.trace.add((cluster.now_us, "restore", node.id, snap.meta.index))
        for entry in rd.committed_entries:
            cluster.checker.observe_apply(node.id, entry)
            cluster.trace.add((cluster.now_us, "apply", node.id, entry.index, entry.term))
            for listener in cluster.listeners:
                listener.on_apply(node, entry)
        ctx = node.ctx
        if ctx is not None:
            for rs in rd.read_states:
                ctx.read_confirmed(rs.context)

    def send(self, messages: tuple[Message, ...]) -> None:
        """Put messages on the virtual network."""
        for m in messages:
            self.cluster.send(m)

    def flush(self) -> None:
        """Nothing is buffered: the virtual network took every message already."""


class SimContext:
    """A `NodeContext` on a simulated node: the driver, virtual time, the simulated disk.
    It counts the reads it asked for by how they are confirmed (a lease, or a round)."""

    def __init__(self, cluster: SimCluster, node: SimNode, options: Mapping[str, object]):
        self.cluster = cluster
        self.node = node
        self.node_id = node.id
        self.peer_ids = node.peer_ids
        self.rpc = RpcServer(None)  # type: ignore[arg-type]  # calls come through kvserve.py
        self.directory = ""
        self.options = options
        #: read context -> "reads_lease" or "reads_index" (the counter it goes to).
        self.read_kinds: dict[bytes, str] = {}
        #: How many gets a read context serves (the application says, if it serves gets).
        self.gets_of: Callable[[bytes], int] = lambda context: 0

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
        self.read_kinds[bytes(context)] = "reads_lease" if leased else "reads_index"

    def read_confirmed(self, context: bytes) -> None:
        """A read point is confirmed: count the gets it serves."""
        kind = self.read_kinds.pop(context, None)
        if kind is not None:
            self.cluster.counts[kind] += self.gets_of(context)

    def compact(self, index: int, data: bytes) -> None:
        """Through the node's driver (the checker sees the commits before they go)."""
        node, cluster = self.node, self.cluster
        assert node.driver is not None and node.core is not None
        cluster.checker.check_node(node.id, node.core)
        node.driver.compact(index, data)
        cluster.counts["compactions"] += 1
        cluster.trace.add((cluster.now_us, "compact", node.id, index))

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
        """The raft state on the simulated disk (what `maxraftstate` is compared with)."""
        assert self.node.storage is not None
        return self.node.storage.raft_state_bytes()

    def snapshot_bytes(self) -> int:
        """The snapshot file on the simulated disk."""
        assert self.node.storage is not None
        return self.node.storage.snapshot_bytes()

    def counters(self) -> Mapping[str, int]:
        """None kept."""
        return {}
