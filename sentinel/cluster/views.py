"""Turn the router's report, the nodes' status blobs and psutil samples into a ClusterView.

`ViewBuilder` keeps what one snapshot alone cannot tell: the previous counters (for rates per
second), the highest term seen (for the election count) and the event log. A node's status
blob is trusted only when it carries the pid of the process the supervisor runs now: the
router keeps the last blob of a killed node, and a restarted node's old blob must not be taken
for the new process's state.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping

from sentinel.cluster.settings import preset_name
from sentinel.dashboard import (
    ClusterView,
    EventLog,
    NodeView,
    ProcessSampler,
    ProcessState,
    RedisTotals,
    RouterTotals,
    derive_events,
)
from sentinel.dashboard.shards import shards_to_json
from sentinel.host.nodestatus import NodeStatus, decode_status
from sentinel.netsim.faults import Topology
from sentinel.netsim.protocol import RouterReport
from sentinel.redis.service import read_status

GROUP_LABELS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclasses.dataclass(frozen=True, slots=True)
class ProcessInfo:
    """What the supervisor knows of one node's process."""

    state: ProcessState
    pid: int | None
    #: Why a node the supervisor did not stop ended (exit status, last log line); else None.
    exit_reason: str | None = None


def role_value(name: str) -> str:
    """A raft Role name (PRE_CANDIDATE) as the dashboard's role value (pre-candidate)."""
    return name.lower().replace("_", "-")


def group_labels(topology: Topology, node_ids: tuple[int, ...]) -> dict[int, str | None]:
    """A label per node: its partition group's letter; None everywhere when whole.

    A disconnected node is its own group ('-')."""
    if not topology.groups and not topology.disconnected:
        return dict.fromkeys(node_ids)
    labels: dict[int, str | None] = {}
    for node_id in node_ids:
        label = None
        for index, group in enumerate(topology.groups):
            if node_id in group:
                label = GROUP_LABELS[index % len(GROUP_LABELS)]
        if node_id in topology.disconnected:
            label = f"-{node_id}"
        labels[node_id] = label
    return labels


class ViewBuilder:
    """Builds successive ClusterViews (call `build` from one thread)."""

    def __init__(self, cluster_dir: str, node_ids: tuple[int, ...], events: EventLog) -> None:
        self.cluster_dir = cluster_dir
        self.node_ids = node_ids
        self.events = events
        self.started = time.monotonic()
        self.sampler = ProcessSampler()
        self.previous: ClusterView | None = None
        self._counters: dict[int, tuple[int, int]] = {}  # endpoint -> (received, sent)
        self._totals: tuple[int, int] | None = None  # (msgs, bytes) routed
        self._at = 0.0
        self.term_max: dict[int, int] = {}  # raft group -> the highest term seen in it
        self.elections = 0  # term rises, summed over the raft groups
        self.statuses: dict[int, NodeStatus] = {}
        self.reported: set[int] = set()  # nodes that posted a status in this run
        #: The processes as they were started: what the first view is compared with, so
        #: that a node which ended before the first sample still has its event.
        self.as_started: Mapping[int, ProcessInfo] | None = None
        self._redis_point: tuple[int, int, float] | None = None  # (pid, commands, at_s)
        self._redis_rate: float | None = None

    def build(self, report: RouterReport, procs: Mapping[int, ProcessInfo]) -> ClusterView:
        """The next view; its new events are added to the log."""
        now = time.monotonic()
        interval_s = now - self._at if self._at else 0.0
        self._at = now
        self.statuses = self._fresh_statuses(report, procs)
        rates = self._node_rates(report, interval_s)
        samples = self.sampler.sample(info.pid for info in procs.values() if info.pid is not None)
        labels = group_labels(report.topology, self.node_ids)
        leads = self._group_leaders()
        nodes = []
        for node_id in self.node_ids:
            info = procs[node_id]
            st = self.statuses.get(node_id)
            sample = samples.get(info.pid) if info.pid is not None else None
            restarted = node_id in self.reported
            node = self._node_view(node_id, info, st, sample, labels[node_id], rates, restarted)
            nodes.append(membership_view(node, leads.get(self.group_of(node_id))))
        self.reported.update(self.statuses)
        leader, term = self._leader()
        view = ClusterView(
            nodes=tuple(nodes),
            totals=self._router_totals(report, interval_s),
            leader=leader,
            term=term,
            elections=self.elections,
            uptime_s=now - self.started,
            preset=preset_name(report.config),
            cluster_dir=self.cluster_dir,
            redis=self._redis(),
        )
        view = self.decorate(view)
        previous = self.previous if self.previous is not None else self._view_as_started(view)
        self.events.extend(derive_events(previous, view))
        self.previous = view
        return dataclasses.replace(view, events=self.events.recent())

    def _redis(self) -> RedisTotals | None:
        """The Redis front door's figures from its status file (None: no fresh one). The
        rate is over the last two distinct writes of the same process."""
        status = read_status(self.cluster_dir)
        if status is None:
            self._redis_point, self._redis_rate = None, None
            return None
        before = self._redis_point
        if before is None or before[0] != status.pid:
            self._redis_rate = None
        elif status.at_s > before[2]:
            done = status.commands_total - before[1]
            self._redis_rate = max(0.0, done / (status.at_s - before[2]))
        self._redis_point = (status.pid, status.commands_total, status.at_s)
        return RedisTotals(status.address, status.connections, self._redis_rate)

    def _view_as_started(self, view: ClusterView) -> ClusterView | None:
        """`view` with each node's process as it was started (None: not known)."""
        if self.as_started is None:
            return None
        nodes = []
        for node in view.nodes:
            info = self.as_started.get(node.node_id)
            if info is not None:
                node = dataclasses.replace(
                    node, state=info.state, pid=info.pid, exit_reason=info.exit_reason
                )
            nodes.append(node)
        return dataclasses.replace(view, nodes=tuple(nodes))

    def _fresh_statuses(
        self, report: RouterReport, procs: Mapping[int, ProcessInfo]
    ) -> dict[int, NodeStatus]:
        fresh = {}
        for node_id, info in procs.items():
            blob = report.statuses.get(node_id)
            st = decode_status(blob) if blob is not None else None
            if st is not None and info.pid is not None and st.pid == info.pid:
                fresh[node_id] = st
                group = self.group_of(node_id)
                if st.term > self.term_max.get(group, 0):
                    # pre-vote: a term only rises for a real election (or a rejoining node's
                    # catch-up to a term already counted, which this max ignores)
                    self.elections += 1
                    self.term_max[group] = st.term
        return fresh

    def group_of(self, node_id: int) -> int:
        """The raft group node `node_id` belongs to: terms, elections and membership are
        per group (a plain cluster is one group, 0)."""
        return 0

    def decorate(self, view: ClusterView) -> ClusterView:
        """The view as the dashboard shows it (a subclass adds its figures here, before
        the events are derived from it)."""
        return view

    def _group_leaders(self) -> dict[int, NodeStatus]:
        """Per raft group, the status of the leader of the highest term reported in the
        group (none while that term has no leader that reports)."""
        terms: dict[int, int] = {}
        for st in self.statuses.values():
            group = self.group_of(st.node_id)
            terms[group] = max(terms.get(group, 0), st.term)
        return {self.group_of(st.node_id): st for st in self.statuses.values()
                if st.role == "LEADER" and st.term == terms[self.group_of(st.node_id)]}  # fmt: skip

    def _leader(self) -> tuple[int | None, int | None]:
        """The leader of the highest term among running nodes, and that term."""
        # term 0 is "no election yet": shown as unknown
        term = max((st.term for st in self.statuses.values()), default=0) or None
        leaders = [
            st.node_id for st in self.statuses.values() if st.role == "LEADER" and st.term == term
        ]
        return (leaders[0] if leaders else None), term

    def _node_rates(
        self, report: RouterReport, interval_s: float
    ) -> dict[int, tuple[float | None, float | None]]:
        rates: dict[int, tuple[float | None, float | None]] = {}
        nodes = set(self.node_ids)  # not the clients: one per CLI call, they come and go
        for item in report.stats:
            if item.endpoint_id not in nodes:
                continue
            now = (item.received_msgs, item.sent_msgs)
            before = self._counters.get(item.endpoint_id)
            self._counters[item.endpoint_id] = now
            if before is None or interval_s <= 0 or now[0] < before[0] or now[1] < before[1]:
                rates[item.endpoint_id] = (None, None)
            else:
                rates[item.endpoint_id] = (
                    (now[0] - before[0]) / interval_s,
                    (now[1] - before[1]) / interval_s,
                )
        return rates

    def _router_totals(self, report: RouterReport, interval_s: float) -> RouterTotals:
        t = report.totals
        now = (t.sent_msgs, t.sent_bytes)
        before, self._totals = self._totals, now
        msgs_rate = bytes_rate = None
        if before is not None and interval_s > 0:
            msgs_rate = max(0.0, (now[0] - before[0]) / interval_s)
            bytes_rate = max(0.0, (now[1] - before[1]) / interval_s)
        return RouterTotals(
            msgs_per_s=msgs_rate,
            bytes_per_s=bytes_rate,
            dropped=t.dropped_msgs,
            delayed=t.delayed_msgs,
            in_flight=report.in_flight_msgs,
        )

    @staticmethod
    def _node_view(
        node_id: int,
        info: ProcessInfo,
        st: NodeStatus | None,
        sample: object,
        group: str | None,
        rates: Mapping[int, tuple[float | None, float | None]],
        restarted: bool,
    ) -> NodeView:
        state = info.state
        if state == ProcessState.RUNNING and st is None and restarted:
            state = ProcessState.RESTARTING  # a fresh process, not yet reporting
        msgs_in, msgs_out = rates.get(node_id, (None, None))
        alive = info.state not in (ProcessState.KILLED, ProcessState.EXITED)
        view = NodeView(
            node_id=node_id,
            state=state,
            pid=info.pid,
            group=group,
            cpu_percent=getattr(sample, "cpu_percent", None),
            rss_bytes=getattr(sample, "rss_bytes", None),
            msgs_in_per_s=msgs_in if alive else None,
            msgs_out_per_s=msgs_out if alive else None,
            exit_reason=info.exit_reason,
        )
        if st is None:
            return view
        return dataclasses.replace(
            view,
            role=role_value(st.role),
            term=st.term,
            leader_id=st.leader or None,
            log_length=st.log_length,
            commit_index=st.commit,
            applied_index=st.applied,
            snapshot_index=st.snapshot_index,
            disk_bytes=st.disk_bytes,
            disk_error=st.disk_error or None,
            conf_index=st.conf_index,
        )


def membership_view(node: NodeView, lead: NodeStatus | None) -> NodeView:
    """`node` with what the leader says of its membership (voter / learner, catching up)."""
    if lead is None or not lead.voters:
        return node
    member = "voter" if node.node_id in lead.voters else None
    percent = snapshot_percent = None
    if node.node_id in lead.learners:
        member = "learner"
        match = lead.learner_match.get(node.node_id, 0)
        percent = min(100, match * 100 // lead.last_index) if lead.last_index else 100
        if node.node_id in lead.learner_snapshot:
            held, total = lead.learner_snapshot[node.node_id]
            snapshot_percent = min(100, held * 100 // total) if total else 0
    return dataclasses.replace(
        node, member=member, catch_up_percent=percent, snapshot_percent=snapshot_percent
    )


def view_to_json(view: ClusterView, extra: Mapping[str, object] | None = None) -> dict:
    """The `status --json` object: leader, term and one object per node."""
    nodes = [
        {
            "id": n.node_id,
            "pid": n.pid,
            "state": str(n.state),
            "group": n.group,
            "role": n.role,
            "term": n.term,
            "leader": n.leader_id,
            "log_len": n.log_length,
            "commit": n.commit_index,
            "applied": n.applied_index,
            "snapshot_index": n.snapshot_index,
            "disk_bytes": n.disk_bytes,
            "disk_error": n.disk_error,
            "exit_reason": n.exit_reason,
            "cpu_percent": n.cpu_percent,
            "rss_bytes": n.rss_bytes,
            "msgs_in_per_s": n.msgs_in_per_s,
            "msgs_out_per_s": n.msgs_out_per_s,
            "member": n.member,
            "conf_index": n.conf_index,
            "catch_up_percent": n.catch_up_percent,
            "snapshot_percent": n.snapshot_percent,
        }
        for n in view.nodes
    ]
    t = view.totals
    out = {
        "leader": view.leader,
        "term": view.term,
        "elections": view.elections,
        "uptime_s": round(view.uptime_s, 3),
        "preset": view.preset,
        "cluster_dir": view.cluster_dir,
        "router": {
            "msgs_per_s": t.msgs_per_s,
            "bytes_per_s": t.bytes_per_s,
            "dropped": t.dropped,
            "delayed": t.delayed,
            "in_flight": t.in_flight,
        },
        "nodes": nodes,
        "members": {
            "voters": [n["id"] for n in nodes if n["member"] == "voter"],
            "learners": [n["id"] for n in nodes if n["member"] == "learner"],
            "conf_index": max((n.conf_index or 0 for n in view.nodes), default=0),
        },
        "redis": None
        if view.redis is None
        else {
            "address": view.redis.address,
            "connections": view.redis.connections,
            "commands_per_s": view.redis.commands_per_s,
        },
    }
    if view.shards is not None:
        out["shards"] = shards_to_json(view.shards)
    out.update(extra or {})
    return out
