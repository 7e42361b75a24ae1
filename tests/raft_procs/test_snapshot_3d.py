"""6.824 part 3D (log compaction) against real node processes. The Recorder compacts every
10 applied commands like 6.824's applierSnap; MAXLOGSIZE is 6.824's 2000 bytes of raft state
on disk (our write-ahead log and hard state files).

Changed limits: sleeps in units of 6.824's 1 s RaftElectionTimeout use ELECTION_TIMEOUT_S.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.processes

MAXLOGSIZE = 2000
SNAPSHOT_INTERVAL = 10


def _snapcommon(cfg, disconnect: bool, reliable: bool, crash: bool) -> None:
    iters = 30
    servers = 3
    rng = cfg.rng
    cfg.one(rng.randrange(1 << 30), servers, True)
    leader1 = cfg.check_one_leader()
    for i in range(iters):
        victim = (leader1 + 1) % servers
        sender = leader1
        if i % 3 == 1:
            sender = (leader1 + 1) % servers
            victim = leader1
        if disconnect:
            cfg.disconnect(victim)
            cfg.one(rng.randrange(1 << 30), servers - 1, True)
        if crash:
            cfg.crash1(victim)
            cfg.one(rng.randrange(1 << 30), servers - 1, True)
        # perhaps send enough to get a snapshot
        nn = (SNAPSHOT_INTERVAL // 2) + rng.randrange(SNAPSHOT_INTERVAL)
        for _ in range(nn):
            cfg.start(sender, rng.randrange(1 << 30))
        # let applier threads catch up with the Start()'s
        if not disconnect and not crash:
            # make sure all followers have caught up, so that an InstallSnapshot RPC isn't
            # required for TestSnapshotBasic3D()
            cfg.one(rng.randrange(1 << 30), servers, True)
        else:
            cfg.one(rng.randrange(1 << 30), servers - 1, True)
        size = cfg.log_size()
        assert size < MAXLOGSIZE, f"log size too large: {size} bytes"
        cfg.largest_log_size = max(getattr(cfg, "largest_log_size", 0), size)
        if disconnect:
            # reconnect a follower, who maybe behind and needs to receive a snapshot
            cfg.connect(victim)
            cfg.one(rng.randrange(1 << 30), servers, True)
            leader1 = cfg.check_one_leader()
        if crash:
            cfg.start1(victim)
            cfg.connect(victim)
            cfg.one(rng.randrange(1 << 30), servers, True)
            leader1 = cfg.check_one_leader()
    print(f"largest raft state on disk: {cfg.largest_log_size} bytes (limit {MAXLOGSIZE})")


def test_snapshot_basic_3d(make_cluster):
    _snapcommon(make_cluster(3, snapshot=True), False, True, False)


def test_snapshot_install_3d(make_cluster):
    _snapcommon(make_cluster(3, snapshot=True), True, True, False)


def test_snapshot_install_unreliable_3d(make_cluster):
    _snapcommon(make_cluster(3, unreliable=True, snapshot=True), True, False, False)


def test_snapshot_install_crash_3d(make_cluster):
    _snapcommon(make_cluster(3, snapshot=True), False, True, True)


def test_snapshot_install_un_crash_3d(make_cluster):
    _snapcommon(make_cluster(3, unreliable=True, snapshot=True), False, False, True)


def test_snapshot_all_crash_3d(make_cluster):
    """Crash and restart all servers: each must start from its snapshot and keep going."""
    servers = 3
    cfg = make_cluster(servers, snapshot=True)
    rng = cfg.rng
    cfg.one(rng.randrange(1 << 30), servers, True)
    for _ in range(5):
        nn = (SNAPSHOT_INTERVAL // 2) + rng.randrange(SNAPSHOT_INTERVAL)
        for _ in range(nn):  # perhaps enough to get a snapshot
            cfg.one(rng.randrange(1 << 30), servers, True)
        index1 = cfg.one(rng.randrange(1 << 30), servers, True)
        for i in range(servers):  # crash all
            cfg.crash1(i)
        for i in range(servers):  # revive all
            cfg.start1(i)
            cfg.connect(i)
        index2 = cfg.one(rng.randrange(1 << 30), servers, True)
        assert index2 >= index1 + 1, f"index decreased from {index1} to {index2}"


def test_snapshot_init_3d(make_cluster):
    """Raft must seed its snapshot from disk, so that later saves do not wipe it."""
    servers = 3
    cfg = make_cluster(servers, snapshot=True)
    rng = cfg.rng
    cfg.one(rng.randrange(1 << 30), servers, True)
    for _ in range(SNAPSHOT_INTERVAL + 1):  # enough ops to make a snapshot
        cfg.one(rng.randrange(1 << 30), servers, True)
    for i in range(servers):  # crash and restart all
        cfg.crash1(i)
    for i in range(servers):
        cfg.start1(i)
        cfg.connect(i)
    cfg.one(rng.randrange(1 << 30), servers, True)  # a single op, to get something persisted
    for i in range(servers):
        cfg.crash1(i)
    for i in range(servers):
        cfg.start1(i)
        cfg.connect(i)
    cfg.one(rng.randrange(1 << 30), servers, True)  # do another op to trigger potential bug
