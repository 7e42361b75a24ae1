"""6.824 kvraft part 4B (2024 numbering; 3B in 2022): snapshots, maxraftstate = 1000.

Each test is 6.824's TestXxx4B with the same clients, servers, faults and checks (LogSize <=
8 * maxraftstate after every GenericTest iteration; snapshot <= 500 B in SnapshotSize); see
scenarios.py for the shortened client phase. Every history is checked with sentinel.lin.
"""

from __future__ import annotations

import time

import pytest
from harness_kv import ELECTION_TIMEOUT_S
from scenarios_kv import Ops, check, generic_test, generic_test_speed

pytestmark = pytest.mark.processes

MAXRAFTSTATE = 1000
MAXSNAPSHOTSTATE = 500


def test_snapshot_rpc_4b(make_cluster):
    """The majority trims its log while a follower is cut off; that follower then catches
    up (through InstallSnapshot) when the majority needs it."""
    cfg = make_cluster(3, maxraftstate=MAXRAFTSTATE)
    ops = Ops()
    ck = cfg.make_client(cfg.all())
    ops.put(ck, "a", "A", 100)
    check(ops, ck, "a", "A", 100)

    # a bunch of puts into the majority partition.
    cfg.partition([0, 1], [2])
    ck1 = cfg.make_client([0, 1])
    for i in range(50):
        ops.put(ck1, str(i), str(i), 101)
    time.sleep(ELECTION_TIMEOUT_S)
    ops.put(ck1, "b", "B", 101)

    # check that the majority partition has thrown away most of its log entries.
    size = cfg.log_size()
    assert size <= 8 * MAXRAFTSTATE, f"logs were not trimmed ({size} > 8*{MAXRAFTSTATE})"

    # now make group that requires participation of lagging server, so that it has to
    # catch up.
    cfg.partition([0, 2], [1])
    ck1 = cfg.make_client([0, 2])
    ops.put(ck1, "c", "C", 102)
    ops.put(ck1, "d", "D", 102)
    check(ops, ck1, "a", "A", 102)
    check(ops, ck1, "b", "B", 102)
    check(ops, ck1, "1", "1", 102)
    check(ops, ck1, "49", "49", 102)

    # now everybody
    cfg.partition([0, 1, 2], [])
    ops.put(ck, "e", "E", 100)
    check(ops, ck, "c", "C", 100)
    check(ops, ck, "e", "E", 100)
    check(ops, ck, "1", "1", 100)
    ops.check_linearizable()


def test_snapshot_size_4b(make_cluster):
    """Are the snapshots not too huge? 500 bytes is a generous bound for this workload."""
    cfg = make_cluster(3, maxraftstate=MAXRAFTSTATE)
    ops = Ops()
    ck = cfg.make_client(cfg.all())
    for _ in range(200):
        ops.put(ck, "x", "0", 0)
        check(ops, ck, "x", "0", 0)
        ops.put(ck, "x", "1", 0)
        check(ops, ck, "x", "1", 0)
    # check that servers have thrown away most of their log entries
    size = cfg.log_size()
    assert size <= 8 * MAXRAFTSTATE, f"logs were not trimmed ({size} > 8*{MAXRAFTSTATE})"
    # check that the snapshots are not unreasonably large
    snap = cfg.snapshot_size()
    assert 0 < snap <= MAXSNAPSHOTSTATE, f"snapshot too large ({snap} > {MAXSNAPSHOTSTATE})"
    ops.check_linearizable()


def test_speed_4b(make_cluster):
    generic_test_speed(make_cluster(3, maxraftstate=MAXRAFTSTATE))


def test_snapshot_recover_4b(make_cluster):
    cfg = make_cluster(5, maxraftstate=MAXRAFTSTATE)
    generic_test(cfg, nclients=1, crash=True, partitions=False, randomkeys=False)


def test_snapshot_recover_many_clients_4b(make_cluster):
    cfg = make_cluster(5, maxraftstate=MAXRAFTSTATE)
    generic_test(cfg, nclients=20, crash=True, partitions=False, randomkeys=False)


def test_snapshot_unreliable_4b(make_cluster):
    cfg = make_cluster(5, unreliable=True, maxraftstate=MAXRAFTSTATE)
    generic_test(cfg, nclients=5, crash=False, partitions=False, randomkeys=False)


def test_snapshot_unreliable_recover_4b(make_cluster):
    cfg = make_cluster(5, unreliable=True, maxraftstate=MAXRAFTSTATE)
    generic_test(cfg, nclients=5, crash=True, partitions=False, randomkeys=False)


def test_snapshot_unreliable_recover_concurrent_partition_4b(make_cluster):
    cfg = make_cluster(5, unreliable=True, maxraftstate=MAXRAFTSTATE)
    generic_test(cfg, nclients=5, crash=True, partitions=True, randomkeys=False)


def test_snapshot_unreliable_recover_concurrent_partition_linearizable_4b(make_cluster):
    cfg = make_cluster(7, unreliable=True, maxraftstate=MAXRAFTSTATE)
    generic_test(cfg, nclients=15, crash=True, partitions=True, randomkeys=True)
