"""Snapshots written by forked children (NodeSpec.background_snapshot_bytes_min = 0: every
compaction forks) in a real cluster of kv node processes: the log stays bounded, every node
really compacts in the background, and a node SIGKILLed and restarted serves the same data
from what its children wrote."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinel.host.node import NodeSpec, node_name, spawn_node
from sentinel.host.nodespec import KV_SERVER_APP
from sentinel.kvraft.client import Client
from sentinel.kvraft.protocol import ServerState
from sentinel.netsim.client import Network, connect
from sentinel.netsim.control import RouterHandle
from sentinel.netsim.procs import ProcessGroup

pytestmark = pytest.mark.processes

APP = KV_SERVER_APP
N = 3
MAXRAFTSTATE = 2000
WAIT_S = 60.0
OP_DEADLINE_S = 45.0
BACKGROUND_LINE = "written in the background"  # "node 2: snapshot at 41 written in ..."


class Cluster:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.group = ProcessGroup()
        self.router = RouterHandle.start(directory, self.group, seed=7)
        self.net: Network = connect(directory)

    def start(self, node_id: int) -> None:
        spec = NodeSpec(
            cluster_dir=str(self.directory),
            node_id=node_id,
            peer_ids=tuple(range(1, N + 1)),
            cluster_id="bgsnap",
            app=APP,
            app_options={"maxraftstate": MAXRAFTSTATE},
            seed=node_id,
            background_snapshot_bytes_min=0,
        )
        spawn_node(spec, self.router, self.group)

    def state(self, node_id: int) -> ServerState | None:
        reply = self.net.end(node_id).call("KVServer.State", None, 1.0)
        return reply if isinstance(reply, ServerState) else None

    def wait_for(self, what: str, check) -> None:
        deadline = time.monotonic() + WAIT_S
        while not check():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)

    def background_snapshots(self, node_id: int) -> int:
        log_path = self.directory / f"node-{node_id}" / "node.log"
        return log_path.read_text().count(BACKGROUND_LINE) if log_path.exists() else 0

    def close(self) -> None:
        try:
            self.net.close()
            self.router.shutdown()
        finally:
            self.group.stop_all()


@pytest.fixture
def cluster(tmp_path: Path, no_leaks: None) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    try:
        for node_id in range(1, N + 1):
            c.start(node_id)
        yield c
    finally:
        c.close()


def _append_rounds(clerk: Client, expected: dict[str, str], first: int, count: int) -> None:
    for i in range(first, first + count):
        key = f"k{i % 5}"
        token = f"x{i}y"
        clerk.append(key, token, timeout_s=OP_DEADLINE_S)
        expected[key] = expected.get(key, "") + token


def test_background_snapshots_bound_the_log_and_survive_a_crash(cluster: Cluster) -> None:
    clerk = Client(cluster.net, list(range(1, N + 1)), clerks_max=1, owns_network=False)
    expected: dict[str, str] = {}
    _append_rounds(clerk, expected, 0, 150)

    def compacted_everywhere() -> bool:
        states = [cluster.state(i) for i in range(1, N + 1)]
        return all(
            st is not None and st.snapshot_bytes > 0 and st.raft_state_bytes <= 8 * MAXRAFTSTATE
            for st in states
        )

    cluster.wait_for("every node to compact", compacted_everywhere)
    cluster.wait_for(
        "every node's background snapshot",
        lambda: all(cluster.background_snapshots(i) > 0 for i in range(1, N + 1)),
    )

    cluster.group.kill(node_name(2))  # SIGKILL: only what its children fsynced survives
    _append_rounds(clerk, expected, 150, 60)
    cluster.start(2)
    _append_rounds(clerk, expected, 210, 30)
    leader_applied = max(st.applied for i in (1, 3) if (st := cluster.state(i)) is not None)
    cluster.wait_for(
        "the restarted node to catch up",
        lambda: (st := cluster.state(2)) is not None and st.applied >= leader_applied,
    )
    # The restarted node alone with one other: it must serve everything acknowledged.
    cluster.group.kill(node_name(1))
    for key, value in sorted(expected.items()):
        assert clerk.get(key, timeout_s=OP_DEADLINE_S) == value, key
