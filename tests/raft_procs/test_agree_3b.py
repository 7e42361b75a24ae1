"""6.824 part 3B (log agreement) against real node processes through the router.

Sleeps measured in 6.824's RaftElectionTimeout (1 s) use ELECTION_TIMEOUT_S (0.6 s, twice
the top of our 150-300 ms election timeout); 6.824's "sleep 2 s" waits for a cut-off leader to
fail become 2 * ELECTION_TIMEOUT_S for the same reason.
"""

from __future__ import annotations

import random
import string
import threading
import time

import pytest
from raft_procs_harness import ELECTION_TIMEOUT_S

pytestmark = pytest.mark.processes


def randstring(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def test_basic_agree_3b(make_cluster):
    cfg = make_cluster(3)
    for index in range(1, 4):
        nd, _ = cfg.n_committed(index)
        assert nd == 0, "some have committed before Start()"
        xindex = cfg.one(index * 100, 3, False)
        assert xindex == index, f"got index {xindex} but expected {index}"


def test_rpc_bytes_3b(make_cluster):
    cfg = make_cluster(3)
    cfg.one(99, 3, False)
    bytes0 = cfg.bytes_total()
    sent = 0
    for index in range(2, 12):
        cmd = randstring(cfg.rng, 5000)
        xindex = cfg.one(cmd, 3, False)
        assert xindex == index, f"got index {xindex} but expected {index}"
        sent += len(cmd)
    got = cfg.bytes_total() - bytes0
    expected = 3 * sent  # each command to each peer about once
    print(f"RPC bytes: {got} for {sent} command bytes (limit {expected + 50000})")
    assert got <= expected + 50000, f"too many RPC bytes; got {got}, expected {expected}"


def test_follower_failure_3b(make_cluster):
    cfg = make_cluster(3)
    cfg.one(101, 3, False)
    leader1 = cfg.check_one_leader()
    cfg.disconnect((leader1 + 1) % 3)
    cfg.one(102, 2, False)  # the leader and the remaining follower agree
    time.sleep(ELECTION_TIMEOUT_S)
    cfg.one(103, 2, False)
    leader2 = cfg.check_one_leader()
    cfg.disconnect((leader2 + 1) % 3)
    cfg.disconnect((leader2 + 2) % 3)
    index, _, ok = cfg.start(leader2, 104)
    assert ok, "leader rejected Start()"
    assert index == 4, f"expected index 4, got {index}"
    time.sleep(2 * ELECTION_TIMEOUT_S)
    nd, _ = cfg.n_committed(index)
    assert nd == 0, f"{nd} committed but no majority"


def test_leader_failure_3b(make_cluster):
    cfg = make_cluster(3)
    cfg.one(101, 3, False)
    leader1 = cfg.check_one_leader()
    cfg.disconnect(leader1)
    cfg.one(102, 2, False)  # the remaining followers elect a new leader
    time.sleep(ELECTION_TIMEOUT_S)
    cfg.one(103, 2, False)
    leader2 = cfg.check_one_leader()
    cfg.disconnect(leader2)
    for i in range(3):  # no server has a majority now
        cfg.start(i, 104)
    time.sleep(2 * ELECTION_TIMEOUT_S)
    nd, _ = cfg.n_committed(4)
    assert nd == 0, f"{nd} committed but no majority"


def test_fail_agree_3b(make_cluster):
    cfg = make_cluster(3)
    cfg.one(101, 3, False)
    leader = cfg.check_one_leader()
    cfg.disconnect((leader + 1) % 3)
    cfg.one(102, 2, False)
    cfg.one(103, 2, False)
    time.sleep(ELECTION_TIMEOUT_S)
    cfg.one(104, 2, False)
    cfg.one(105, 2, False)
    cfg.connect((leader + 1) % 3)  # the follower rejoins and catches up
    cfg.one(106, 3, True)
    time.sleep(ELECTION_TIMEOUT_S)
    cfg.one(107, 3, True)


def test_fail_no_agree_3b(make_cluster):
    servers = 5
    cfg = make_cluster(servers)
    cfg.one(10, servers, False)
    leader = cfg.check_one_leader()
    for k in (1, 2, 3):  # 3 of 5 followers disconnect
        cfg.disconnect((leader + k) % servers)
    index, _, ok = cfg.start(leader, 20)
    assert ok, "leader rejected Start()"
    assert index == 2, f"expected index 2, got {index}"
    time.sleep(2 * ELECTION_TIMEOUT_S)
    nd, _ = cfg.n_committed(index)
    assert nd == 0, f"{nd} committed but no majority"
    for k in (1, 2, 3):
        cfg.connect((leader + k) % servers)
    # the disconnected majority may have chosen a leader from among their own ranks,
    # forgetting index 2
    leader2 = cfg.check_one_leader()
    index2, _, ok2 = cfg.start(leader2, 30)
    assert ok2, "leader2 rejected Start()"
    assert 2 <= index2 <= 3, f"unexpected index {index2}"
    cfg.one(1000, servers, True)


def test_concurrent_starts_3b(make_cluster):
    cfg = make_cluster(3)
    for attempt in range(5):
        if attempt > 0:
            time.sleep(3 * ELECTION_TIMEOUT_S)  # give the solution some time to settle
        leader = cfg.check_one_leader()
        _, term, ok = cfg.start(leader, 1)
        if not ok:
            continue  # leader moved on really quickly
        iters = 5
        indices: list[int | None] = [None] * iters
        failed = threading.Event()

        def starter(k: int, leader=leader, term=term, failed=failed, indices=indices) -> None:
            index, term1, ok1 = cfg.start(leader, 100 + k)
            if term1 != term or not ok1:
                failed.set()
                return
            indices[k] = index

        threads = [threading.Thread(target=starter, args=(k,)) for k in range(iters)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if failed.is_set() or any(
            st is not None and st[0] != term for st in map(cfg.get_state, range(3))
        ):
            continue  # term changed: we can't expect things to be committed
        cmds = []
        retry = False
        for index in indices:
            cmd = cfg.wait(index, 3, term)
            if cmd == -1:
                retry = True  # peers have moved on to later terms
                break
            cmds.append(cmd)
        if retry:
            continue
        for k in range(iters):
            assert 100 + k in cmds, f"cmd {100 + k} missing in {cmds}"
        return
    pytest.fail("term changed too often")


def test_rejoin_3b(make_cluster):
    cfg = make_cluster(3)
    cfg.one(101, 3, True)
    leader1 = cfg.check_one_leader()
    cfg.disconnect(leader1)  # the leader is cut off
    for cmd in (102, 103, 104):  # make the old leader try to agree on some entries
        cfg.start(leader1, cmd)
    cfg.one(103, 2, True)  # the new leader commits, also for index=2
    leader2 = cfg.check_one_leader()
    cfg.disconnect(leader2)  # the new leader is cut off
    cfg.connect(leader1)  # the old leader comes back
    cfg.one(104, 2, True)
    cfg.connect(leader2)  # all together now
    cfg.one(105, 3, True)


def test_backup_3b(make_cluster):
    servers = 5
    cfg = make_cluster(servers)
    rng = cfg.rng
    cfg.one(rng.randrange(1 << 30), servers, True)
    # put the leader and one follower in a partition
    leader1 = cfg.check_one_leader()
    for k in (2, 3, 4):
        cfg.disconnect((leader1 + k) % servers)
    for _ in range(50):  # lots of commands that won't commit
        cfg.start(leader1, rng.randrange(1 << 30))
    time.sleep(ELECTION_TIMEOUT_S / 2)
    cfg.disconnect(leader1)
    cfg.disconnect((leader1 + 1) % servers)
    for k in (2, 3, 4):  # allow the other partition to recover
        cfg.connect((leader1 + k) % servers)
    for _ in range(50):  # lots of successful commands to the new group
        cfg.one(rng.randrange(1 << 30), 3, True)
    # now another partitioned leader and one follower
    leader2 = cfg.check_one_leader()
    other = (leader1 + 2) % servers
    if leader2 == other:
        other = (leader2 + 1) % servers
    cfg.disconnect(other)
    for _ in range(50):  # lots more commands that won't commit
        cfg.start(leader2, rng.randrange(1 << 30))
    time.sleep(ELECTION_TIMEOUT_S / 2)
    for i in range(servers):  # bring the original leader back to life
        cfg.disconnect(i)
    cfg.connect(leader1)
    cfg.connect((leader1 + 1) % servers)
    cfg.connect(other)
    for _ in range(50):  # lots of successful commands to the new group
        cfg.one(rng.randrange(1 << 30), 3, True)
    for i in range(servers):  # now everyone
        cfg.connect(i)
    cfg.one(rng.randrange(1 << 30), servers, True)


def test_count_3b(make_cluster):
    servers = 3
    cfg = make_cluster(servers)
    leader = cfg.check_one_leader()
    total1 = cfg.rpc_total()
    assert 1 <= total1 <= 30, f"too many or few RPCs ({total1}) to elect initial leader"
    print(f"RPCs to elect the first leader: {total1}")

    for attempt in range(5):
        if attempt > 0:
            time.sleep(3 * ELECTION_TIMEOUT_S)  # give the solution some time to settle
        leader = cfg.check_one_leader()
        total1 = cfg.rpc_total()
        iters = 10
        starti, term, ok = cfg.start(leader, 1)
        if not ok:
            continue  # leader moved on really quickly
        cmds = [cfg.rng.randrange(1 << 31) for _ in range(iters + 1)]
        moved = False
        # 6.824 calls Start in a tight loop of direct calls; one RPC each would spread the
        # commands over as many batches (and APPENDs), so they travel in one call.
        for i, (index1, term1, ok) in enumerate(cfg.start_many(leader, cmds), start=1):
            if term1 != term or not ok:
                moved = True  # term changed while starting
                break
            assert starti + i == index1, "Start() failed"
        if moved:
            continue
        for i in range(1, iters + 1):
            cmd = cfg.wait(starti + i, servers, term)
            if cmd == -1:
                moved = True  # term changed: try again
                break
            assert cmd == cmds[i - 1], f"wrong value {cmd} committed for index {starti + i}"
        if moved:
            continue
        if any(st is not None and st[0] != term for st in map(cfg.get_state, range(servers))):
            continue  # term changed: can't expect low RPC counts
        total2 = cfg.rpc_total()
        print(f"RPCs for {iters + 2} agreements: {total2 - total1}")
        assert total2 - total1 <= (iters + 1 + 3) * 3, (
            f"too many RPCs ({total2 - total1}) for {iters} entries"
        )
        break
    else:
        pytest.fail("term changed too often")

    total2 = cfg.rpc_total()
    time.sleep(1.0)  # 6.824: one RaftElectionTimeout (1 s) of idleness
    total3 = cfg.rpc_total()
    print(f"RPCs in 1 s of idleness: {total3 - total2}")
    assert total3 - total2 <= 3 * 20, f"too many RPCs ({total3 - total2}) for 1 second of idleness"
