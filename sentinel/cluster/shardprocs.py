"""Raft groups of real node processes behind one router, each group running the application
its spec names: the shard controller and shard groups on real processes, for the sharding
tests and benchmarks (`up --groups` runs them under the supervisor instead).

Node ids say the group: the controller's nodes are 1..n, group g's are 100 * g + 1...; every
group's nodes are peers of each other only. Nodes are killed with SIGKILL and restarted on
their directory.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os
import random
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sentinel.host.node import NodeSpec, node_name, spawn_node
from sentinel.host.nodestatus import NodeStatus, decode_status
from sentinel.netsim.client import Network, connect
from sentinel.netsim.control import RouterHandle
from sentinel.netsim.faults import FaultConfig
from sentinel.netsim.procs import ProcessGroup
from sentinel.shard.client import ShardClerk
from sentinel.shard.config import group_names, node_id_of
from sentinel.shard.ctlclient import CtlClerk
from sentinel.shard.ctlserver import CTL_APP
from sentinel.shard.groupserver import GROUP_APP

PRELOAD = [
    "sentinel.host.node",
    "sentinel.shard.ctlserver",
    "sentinel.shard.groupserver",
    "sentinel.netsim.router",
]


def start_forkserver() -> None:
    """The fork server with the node modules loaded (it lives as long as the interpreter)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    multiprocessing.forkserver.ensure_running()


class GroupProcs:
    """A router and raft groups of node processes (see the module docstring)."""

    def __init__(self, directory: Path, seed: int | None = None) -> None:
        self.seed = seed if seed is not None else int.from_bytes(os.urandom(4), "little")
        print(f"GroupProcs seed={self.seed}")
        self.rng = random.Random(self.seed)
        self.directory = directory
        self.started = time.monotonic()
        self.group = ProcessGroup(start_method="forkserver")
        self.specs: dict[int, NodeSpec] = {}
        self.net: Network | None = None
        try:
            self.router = RouterHandle.start(directory, self.group, seed=self.seed)
            self.net = connect(directory)
        except BaseException:
            self.cleanup()
            raise

    def start_group(
        self, ids: Sequence[int], app: str, options: Mapping[str, Any] | None = None
    ) -> None:
        """Start one raft group of nodes `ids` running `app`."""
        for node_id in ids:
            spec = NodeSpec(
                cluster_dir=str(self.directory),
                node_id=node_id,
                peer_ids=tuple(ids),
                cluster_id=f"shard-procs-{self.seed}",
                app=app,
                app_options=dict(options or {}),
                seed=self.rng.randrange(1 << 62),
            )
            self.specs[node_id] = spec
            spawn_node(spec, self.router, self.group)

    def kill(self, node_id: int) -> None:
        """SIGKILL one node (its directory survives)."""
        self.group.kill(node_name(node_id))

    def restart(self, node_id: int) -> None:
        """A fresh process on the node's directory."""
        spawn_node(self.specs[node_id], self.router, self.group)

    def kill_group(self, gid: int) -> None:
        """SIGKILL every node of shard group `gid` (6.824's ShutdownGroup)."""
        for node_id in sorted(self.specs):
            if node_id // 100 == gid:
                self.kill(node_id)

    def restart_group(self, gid: int) -> None:
        """Fresh processes on every node of shard group `gid` (6.824's StartGroup)."""
        for node_id in sorted(self.specs):
            if node_id // 100 == gid:
                self.restart(node_id)

    def statuses(self, deadline_s: float = 10.0, fresh: bool = False) -> dict[int, NodeStatus]:
        """The latest status report of every node started (waits until each has one). With
        `fresh`, only reports posted after this call began: a node posts every
        `status_interval_ms`, so a report read at once may predate what the caller just did."""
        deadline = time.monotonic() + deadline_s
        before = self._reported(deadline) if fresh else {}
        while True:
            found = self._reported(deadline)
            if all(_newer(found[i], st) for i, st in before.items()):
                return found
            assert time.monotonic() < deadline, "no fresh status from every node"
            time.sleep(0.05)

    def _reported(self, deadline: float) -> dict[int, NodeStatus]:
        assert self.net is not None
        while True:
            report = self.net.report()
            found = {}
            for node_id, blob in (report.statuses if report is not None else {}).items():
                st = decode_status(blob)
                if st is not None and node_id in self.specs:
                    found[node_id] = st
            if len(found) == len(self.specs):
                return found
            assert time.monotonic() < deadline, f"status of {sorted(found)} of {sorted(self.specs)}"
            time.sleep(0.05)

    def set_unreliable(self, unreliable: bool) -> None:
        self.router.set_faults(FaultConfig(reliable=not unreliable))

    def ctl_clerk(self, ids: Sequence[int]) -> CtlClerk:
        assert self.net is not None
        return CtlClerk(self.net, ids)

    def shard_clerk(self, ctl_ids: Sequence[int]) -> ShardClerk:
        assert self.net is not None
        return ShardClerk(self.net, ctl_ids)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def cleanup(self) -> None:
        """Stop everything (every exit path of a test goes through here)."""
        try:
            if self.net is not None:
                self.net.close()
            if hasattr(self, "router"):
                self.router.shutdown()
        finally:
            self.group.stop_all()


def start_controller(procs: GroupProcs, n: int = 3, maxraftstate: int = -1) -> list[int]:
    """The controller group on nodes 1..n; its ids."""
    ids = list(range(1, n + 1))
    procs.start_group(ids, CTL_APP, {"maxraftstate": maxraftstate})
    return ids


def start_shard_group(
    procs: GroupProcs, gid: int, ctl_ids: Sequence[int], n: int = 3, maxraftstate: int = -1
) -> tuple[str, ...]:
    """Shard group `gid` on nodes g<gid>.1 .. g<gid>.<n>; their names (for a Join)."""
    names = group_names(gid, n)
    options = {"gid": gid, "ctl": tuple(ctl_ids), "maxraftstate": maxraftstate}
    procs.start_group([node_id_of(name) for name in names], GROUP_APP, options)
    return names


def _newer(st: NodeStatus, than: NodeStatus) -> bool:
    """Whether report `st` was posted after report `than` of the same node (a restarted node
    counts its uptime from zero again)."""
    return st.pid != than.pid or st.uptime_ms > than.uptime_ms
