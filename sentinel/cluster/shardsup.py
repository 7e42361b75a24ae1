"""A sharded cluster under the supervisor: `up --groups G -n N` starts the shard controller
(nodes ctl.1-ctl.3, ids 1-3) and G shard groups of N nodes (g<gid>.<i>, id 100 * gid + i),
each a raft group of its own, all behind one router.

The layout lives in `<dir>/shards.json` (shardlayout.py); `up` on a directory that holds
one recovers that cluster. On the first start every group joins the
controller, so keys spread at once. `ShardSupervisor` is the plain `Supervisor` with a node
spec per group (its peers and application) and a view that adds the groups' leaders and
terms, the shard map of the latest configuration and the shards in flight (`ShardsView`),
read from the nodes' status reports.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Mapping
from pathlib import Path

from sentinel.cluster.settings import TICK_MS, RunOptions
from sentinel.cluster.shardlayout import ShardLayout
from sentinel.cluster.supervisor import ActionError, Supervisor
from sentinel.cluster.views import ViewBuilder
from sentinel.dashboard import ClusterView, EventLog
from sentinel.dashboard.records import GroupView, ShardsView
from sentinel.host.node import NodeSpec
from sentinel.host.nodestatus import NodeStatus
from sentinel.shard.config import NSHARDS, group_names
from sentinel.shard.ctlserver import CTL_APP
from sentinel.shard.groupserver import GROUP_APP

log = logging.getLogger(__name__)

JOIN_DEADLINE_S = 60.0


class ShardSupervisor(Supervisor):
    """The supervisor of a sharded cluster (see the module docstring)."""

    def __init__(self, directory: Path, layout: ShardLayout, options: RunOptions, fresh: bool):
        super().__init__(directory, layout, options)  # type: ignore[arg-type]
        self.layout = layout
        self.fresh = fresh
        self.builder = ShardViewBuilder(str(directory), layout, self.events)

    def spec(self, node_id: int) -> NodeSpec:
        maxraftstate = self.options.maxraftstate
        options: dict[str, object] = {"maxraftstate": maxraftstate}
        if node_id >= 100:
            options.update(gid=node_id // 100, ctl=self.layout.ctl_ids)
        return NodeSpec(
            cluster_dir=str(self.directory),
            node_id=node_id,
            peer_ids=self.layout.peers(node_id),
            cluster_id=self.layout.cluster_id,
            app=GROUP_APP if node_id >= 100 else CTL_APP,
            app_options=options,
            tick_ms=TICK_MS,
            heartbeat_ticks=self.options.heartbeat_ticks,
            election_ticks=self.options.election_ticks,
            disk_quota_bytes=self.options.disk_quota_mb * 1024 * 1024,
        )

    def check_node(self, node_id: object) -> int:
        if node_id not in self.node_ids:
            names = f"ctl.1-ctl.3 and g1.1-g{self.layout.groups}.{self.layout.nodes}"
            raise ActionError(f"no node {node_id!r}: nodes are {names}")
        return super().check_node(node_id)

    def start(self) -> None:
        super().start()
        if self.fresh:
            threading.Thread(target=self._join_all, name="join", daemon=True).start()

    def _join_all(self) -> None:
        """Join every group on the first start (the controller's first configurations)."""
        from sentinel.netsim.client import connect
        from sentinel.shard.ctlclient import CtlClerk, CtlError

        try:
            with connect(self.directory) as net:
                clerk = CtlClerk(net, self.layout.ctl_ids, deadline_s=JOIN_DEADLINE_S)
                groups = {
                    g: group_names(g, self.layout.nodes) for g in range(1, self.layout.groups + 1)
                }
                config = clerk.join(groups)
                log.info("groups %s joined: configuration %d", sorted(groups), config.num)
        except (CtlError, OSError) as e:
            log.error("the groups did not join: %s", e)


class ShardViewBuilder(ViewBuilder):
    """The ViewBuilder whose views carry the shard figures (`shards_view`)."""

    def __init__(self, cluster_dir: str, layout: ShardLayout, events: EventLog) -> None:
        super().__init__(cluster_dir, layout.node_ids, events)
        self.groups = layout.groups

    def group_of(self, node_id: int) -> int:
        """0 for the controller's nodes, g for shard group g's (ids 100 * g + i)."""
        return 0 if node_id < 100 else node_id // 100

    def decorate(self, view: ClusterView) -> ClusterView:
        """The shard figures added; no cluster-wide leader (each group has its own: the
        dashboard shows them per group), the term the highest of any group's."""
        return dataclasses.replace(
            view, leader=None, shards=shards_view(self.statuses, self.groups)
        )


def shards_view(statuses: Mapping[int, NodeStatus], groups: int) -> ShardsView:
    """The dashboard's shard figures from the nodes' fresh status reports: per group, the
    leader of the highest term it reports; the latest configuration from the controller's
    leader; in flight, each shard a group's leader still pulls (from its previous owner)."""
    by_group: dict[int, list[NodeStatus]] = {}
    for node_id, st in statuses.items():
        by_group.setdefault(0 if node_id < 100 else node_id // 100, []).append(st)
    views, leaders = [], {}
    for gid in range(groups + 1):
        found = by_group.get(gid, [])
        term = max((st.term for st in found), default=0) or None
        lead = [st for st in found if st.role == "LEADER" and st.term == term]
        leaders[gid] = lead[0] if lead else None
        num = lead[0].app.get("config_num") if lead else None
        views.append(GroupView(gid, lead[0].node_id if lead else None, term, num))
    ctl = leaders[0]
    owners: tuple[int, ...] = ()
    if ctl is not None:
        owners = tuple(ctl.app.get(f"shard{i}", 0) for i in range(NSHARDS))
    in_flight = []
    for gid in range(1, groups + 1):
        st = leaders[gid]
        pulling = st.app.get("pulling", 0) if st is not None else 0
        for shard in range(NSHARDS):
            if pulling >> shard & 1:
                in_flight.append((shard, _giver(leaders, shard, gid), gid))
    config_num = ctl.app.get("config_num") if ctl is not None else None
    return ShardsView(config_num, owners, tuple(views), tuple(in_flight))


def _giver(leaders: Mapping[int, NodeStatus | None], shard: int, taker: int) -> int:
    """The group whose leader holds `shard` frozen for a receiver (0: not known)."""
    for gid, st in sorted(leaders.items()):
        if gid and gid != taker and st is not None and st.app.get("bepulled", 0) >> shard & 1:
            return gid
    return 0
