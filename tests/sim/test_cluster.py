"""The harness itself: crashes lose unsynced writes, pauses queue, partitions and bridges,
messages cross the wire codec, and the application is pluggable."""

from __future__ import annotations

import pytest

import sentinel.sim.cluster as cluster_module
from sentinel.host.recorder import Recorder
from sentinel.kvraft import Get, Put, Register, ResultCode, encode_command
from sentinel.kvraft.server import KVServerApp
from sentinel.raft import Role
from sentinel.sim import SimCluster, heal_all
from sentinel.sim.schedule import Action, perform
from sentinel.wire import encode

MS = 1000


def settled(seed: int, nodes: int = 5, **kw: object) -> SimCluster:
    print(f"seed {seed}")
    cluster = SimCluster(seed=seed, nodes=nodes, **kw)  # type: ignore[arg-type]
    cluster.run_until(1500 * MS)
    assert cluster.leader() is not None
    return cluster


def propose(cluster: SimCluster, data: bytes) -> tuple[int, int]:
    """Propose `data` (a command the cluster's application takes) through the leader."""
    leader = cluster.leader()
    assert leader is not None and leader.core is not None
    index, term = leader.core.propose(data)
    cluster.process(leader)
    return index, term


def test_a_power_cut_while_persisting_loses_the_unsynced_batch() -> None:
    cluster = settled(3)
    leader = cluster.leader()
    assert leader is not None and leader.core is not None
    before = leader.core.log.last_index
    leader.disk.arm(2)  # the WAL append happens, its fsync does not
    index, _ = leader.core.propose(encode("doomed"))
    cluster.process(leader)
    assert leader.core is None, "the node should have crashed during persist"
    assert cluster.counts["disk_crashes"] == 1
    assert leader.durable is not None
    # The batch was appended but never synced: after the crash the disk does not hold it.
    assert leader.durable.entries[-1].index == before < index
    cluster.run_until(2000 * MS)
    cluster.restart(leader.id)
    cluster.run_until(4000 * MS)
    cluster.check_cluster()
    # The leader sent its APPEND before the fsync that lost power (the driver's send-early
    # rule): the followers stored the entry, so it committed without the leader's copy.
    doomed = [i for i, e in cluster.checker.applied.items() if e.data == encode("doomed")]
    assert doomed == [index]


def test_crash_and_restart_recover_from_the_disk() -> None:
    cluster = settled(4)
    for k in range(30):
        propose(cluster, encode(f"v{k}"))
        cluster.run_until(cluster.now_us + 20 * MS)
    follower = next(n for n in cluster.nodes.values() if n.core.role is Role.FOLLOWER)  # type: ignore[union-attr]
    last = follower.core.log.last_index  # type: ignore[union-attr]
    cluster.crash(follower.id)
    assert follower.core is None and not cluster.net.is_up(follower.id)
    cluster.restart(follower.id)
    assert follower.core is not None and follower.incarnation == 2
    assert follower.core.log.last_index == last  # every acknowledged entry was synced
    cluster.run_until(cluster.now_us + 1000 * MS)
    cluster.check_cluster()


def test_a_paused_node_queues_and_then_catches_up() -> None:
    cluster = settled(5)  # the recorder takes no snapshots
    follower = next(n for n in cluster.nodes.values() if n.core.role is Role.FOLLOWER)  # type: ignore[union-attr]
    cluster.pause(follower.id)
    commit = follower.core.log.committed  # type: ignore[union-attr]
    for k in range(10):
        propose(cluster, encode(f"p{k}"))
        cluster.run_until(cluster.now_us + 30 * MS)
    assert follower.inbox, "messages for a paused node wait in its queue"
    assert follower.core.log.committed == commit  # type: ignore[union-attr]
    cluster.resume(follower.id)
    assert not follower.inbox
    cluster.run_until(cluster.now_us + 500 * MS)
    leader = cluster.leader()
    assert leader is not None
    assert follower.core.log.committed == leader.core.log.committed  # type: ignore[union-attr]


def test_partitions_and_a_bridge() -> None:
    cluster = settled(6)
    perform(cluster, Action("partition", groups=((1, 2), (4, 5))), {})
    topo = cluster.net.policy.topology
    assert topo.can_talk(3, 1) and topo.can_talk(3, 5)  # the bridge sees both sides
    assert not topo.can_talk(1, 4) and not topo.can_talk(5, 2)
    cluster.run_until(cluster.now_us + 2000 * MS)
    cluster.check_cluster()
    heal_all(cluster)
    cluster.run_until(cluster.now_us + 2000 * MS)
    assert cluster.leader() is not None
    cluster.check_cluster()


def test_every_message_crosses_the_wire_codec(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"encode": 0, "decode": 0}
    real_encode, real_decode = cluster_module.encode, cluster_module.decode

    def encode(m: object) -> bytes:
        calls["encode"] += 1
        return real_encode(m)

    def decode(frame: bytes, expect: object = None) -> object:
        calls["decode"] += 1
        return real_decode(frame, expect)

    monkeypatch.setattr(cluster_module, "encode", encode)
    monkeypatch.setattr(cluster_module, "decode", decode)
    cluster = settled(7)
    totals = cluster.net.totals()
    assert calls["encode"] == totals.sent_msgs > 0
    assert calls["decode"] == totals.received_msgs > 0


def test_recorder_snapshots_restore_the_same_state() -> None:
    cluster = settled(8, app_options={"snapshots": True})  # one every 10 commands
    for k in range(40):
        propose(cluster, encode(f"r{k}"))
        cluster.run_until(cluster.now_us + 15 * MS)
    cluster.run_until(cluster.now_us + 500 * MS)
    apps = [n.app for n in cluster.nodes.values()]
    assert all(isinstance(a, Recorder) and not a.errors for a in apps)
    assert all(a.commands == [None, *(f"r{k}" for k in range(40))] for a in apps)  # type: ignore[union-attr]
    assert cluster.counts["compactions"] >= 4 * 5
    assert any(n.core.log.snapshot_index >= 30 for n in cluster.nodes.values())  # type: ignore[union-attr]


def test_the_kv_server_plugs_in() -> None:
    cluster = settled(9, nodes=3, app_factory=KVServerApp, app_options={"maxraftstate": 200})
    propose(cluster, encode_command(Register()))
    cluster.run_until(cluster.now_us + 200 * MS)
    session = next(i for i, e in cluster.checker.applied.items() if e.data)
    for seq in range(1, 11):
        propose(cluster, encode_command(Put("k", f"v{seq}", session, seq)))
        cluster.run_until(cluster.now_us + 30 * MS)
    cluster.run_until(cluster.now_us + 500 * MS)
    for node in cluster.nodes.values():
        result = node.app.sm.read("k")  # type: ignore[union-attr]
        assert result.code is ResultCode.OK and result.value == "v10"
    assert cluster.counts["compactions"] >= 3
    assert encode_command(Get("k"))  # reads may also go through the log


def test_an_unexpected_error_is_reported_with_its_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    from sentinel.sim import SimOptions, run_seed

    real_tick = SimCluster._tick

    def broken_tick(self: SimCluster, i: int) -> None:
        if self.now_us > 500 * MS:
            raise KeyError("boom")
        real_tick(self, i)

    monkeypatch.setattr(SimCluster, "_tick", broken_tick)
    result = run_seed(21, SimOptions(sim_seconds=1.0))
    assert result.failure is not None and result.failure.seed == 21
    assert "unexpected KeyError" in result.failure.what
    assert "--seed 21" in str(result.failure)
