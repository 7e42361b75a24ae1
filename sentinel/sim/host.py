"""The simulator as the node driver's host: a simulated node's disk, network and application.

The simulator runs each node through the same `NodeDriver` as the node process. What the
driver hands out lands here: `SimHost` saves to the node's simulated disk and sends on the
virtual network, `SimApp` runs the node's state machine as its `Application`. Both tell the
invariant checker and the trace what happened, and `SimApp` asks for a compaction every
`compact_every` applied entries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sentinel.raft import Application, Entry, Message, Ready, Role, Snapshot

if TYPE_CHECKING:
    from sentinel.sim.cluster import SimCluster
    from sentinel.sim.node import SimNode


class SimHost:
    """A simulated node's disk (with full-disk stalls) and its side of the network."""

    def __init__(self, cluster: SimCluster, node: SimNode) -> None:
        self.cluster = cluster
        self.node = node
        #: The snapshot of the Ready being finished, if it installs one (for the checker).
        self.installing: Snapshot | None = None

    def save(self, rd: Ready) -> bool:
        """Save `rd` through the node's stalling saver; trace stalls; tell the checker."""
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
            checker.observe_snapshot(node.id, rd.snapshot)
        if rd.entries:  # chained to what the disk holds before them: after a stall
            # the core's log may already differ there (it stepped a new leader's APPENDs)
            prev = storage.stored_term(rd.entries[0].index - 1)
            checker.observe_persist(node.id, prev if prev is not None else -1, rd.entries)
        self.installing = rd.apply_snapshot
        return True

    def send(self, messages: tuple[Message, ...]) -> None:
        """Put messages on the virtual network."""
        for m in messages:
            self.cluster.send(m)

    def flush(self) -> None:
        """Nothing is buffered: the virtual network took every message already."""


class SimApp(Application):
    """A node's state machine (`sim.app.StateMachine`) as the driver's application."""

    def __init__(self, cluster: SimCluster, node: SimNode, host: SimHost) -> None:
        self.cluster = cluster
        self.node = node
        self.host = host
        assert node.app is not None and node.core is not None
        self.machine = node.app
        self.applied = node.core.log.applied

    def restore(self, index: int, data: bytes) -> None:
        """Install the leader's snapshot (the checker sees it)."""
        snap = self.host.installing
        assert snap is not None and snap.meta.index == index, "restore follows its save"
        cluster = self.cluster
        self.machine.restore(data)
        self.applied = index
        cluster.checker.observe_restore(self.node.id, snap)
        cluster.counts["snapshots_installed"] += 1
        cluster.trace.add((cluster.now_us, "restore", self.node.id, index))

    def apply(self, entry: Entry) -> None:
        """Apply one entry; the checker, the trace and the listeners hear of it."""
        cluster = self.cluster
        result = self.machine.apply(entry)
        self.applied = entry.index
        cluster.checker.observe_apply(self.node.id, entry)
        cluster.trace.add((cluster.now_us, "apply", self.node.id, entry.index, entry.term))
        for listener in cluster.listeners:
            listener.on_apply(self.node, entry, result)

    def read_ready(self, context: bytes) -> None:
        """A confirmed read point: the state machine serves it, if it serves reads."""
        if hasattr(self.machine, "read_ready"):
            self.machine.read_ready(context)

    def read_failed(self, context: bytes) -> None:
        """A read point lost with the leadership."""
        if hasattr(self.machine, "read_failed"):
            self.machine.read_failed(context)

    def role_changed(self, role: Role, term: int, leader: int) -> None:
        """This node's role, term or leader changed."""
        if hasattr(self.machine, "role_changed"):
            self.machine.role_changed(role, term, leader)

    def on_tick(self) -> None:
        """One tick (a server times out its deferred replies here)."""
        if hasattr(self.machine, "on_tick"):
            self.machine.on_tick()

    def after_apply(self) -> None:
        """Ask for a compaction once `compact_every` entries were applied since the last."""
        cluster, core, driver = self.cluster, self.node.core, self.node.driver
        assert core is not None and driver is not None
        if self.applied - core.log.snapshot_index < cluster.compact_every:
            return
        # Check first: the commits up to here must be seen while their entries are in the log.
        cluster.checker.check_node(self.node.id, core)
        driver.compact(self.applied, self.machine.snapshot())
        cluster.counts["compactions"] += 1
        cluster.trace.add((cluster.now_us, "compact", self.node.id, self.applied))
