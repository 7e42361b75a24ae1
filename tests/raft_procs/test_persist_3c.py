"""6.824 part 3C (persistence) against real node processes: crashes are SIGKILL, restarts
are fresh processes recovering from their directories.

Changed limits (and why):
- sleeps in units of 6.824's 1 s RaftElectionTimeout use ELECTION_TIMEOUT_S (0.6 s);
- Figure 8 runs FIGURE8_ITERS iterations, not 1000: each crash/restart here costs a real
  process (a SIGKILL, a spawn of a Python interpreter, a recovery from disk), about 0.3-0.5 s
  of CPU on this 2-core machine, against microseconds in 6.824's in-process tester;
- Figure 8 (unreliable) runs FIGURE8_UNRELIABLE_ITERS iterations with long reordering on
  from iteration FIGURE8_UNRELIABLE_ITERS // 5 (6.824: 1000 and 200), and its per-server
  Start calls share one short deadline (a Start whose reply the network holds counts as "not
  accepted"; it may still have been proposed, which the test allows);
- churn tests run 20 iterations of 0.7 * ELECTION_TIMEOUT_S (6.824: 20 of 0.7 s).
"""

from __future__ import annotations

import threading
import time

import pytest
from raft_procs_harness import ELECTION_TIMEOUT_S

pytestmark = pytest.mark.processes

FIGURE8_ITERS = 300
FIGURE8_UNRELIABLE_ITERS = 150


def test_persist1_3c(make_cluster):
    servers = 3
    cfg = make_cluster(servers)
    cfg.one(11, servers, True)
    for i in range(servers):  # crash and re-start all
        cfg.start1(i)
    for i in range(servers):
        cfg.disconnect(i)
        cfg.connect(i)
    cfg.one(12, servers, True)
    leader1 = cfg.check_one_leader()
    cfg.disconnect(leader1)
    cfg.start1(leader1)
    cfg.connect(leader1)
    cfg.one(13, servers, True)
    leader2 = cfg.check_one_leader()
    cfg.disconnect(leader2)
    cfg.one(14, servers - 1, True)
    cfg.start1(leader2)
    cfg.connect(leader2)
    cfg.wait(4, servers, -1)  # wait for leader2 to join before killing i3
    i3 = (cfg.check_one_leader() + 1) % servers
    cfg.disconnect(i3)
    cfg.one(15, servers - 1, True)
    cfg.start1(i3)
    cfg.connect(i3)
    cfg.one(16, servers, True)


def test_persist2_3c(make_cluster):
    servers = 5
    cfg = make_cluster(servers)
    index = 1
    for _ in range(5):
        cfg.one(10 + index, servers, True)
        index += 1
        leader1 = cfg.check_one_leader()
        cfg.disconnect((leader1 + 1) % servers)
        cfg.disconnect((leader1 + 2) % servers)
        cfg.one(10 + index, servers - 2, True)
        index += 1
        for k in (0, 3, 4):
            cfg.disconnect((leader1 + k) % servers)
        for k in (1, 2):
            cfg.start1((leader1 + k) % servers)
            cfg.connect((leader1 + k) % servers)
        time.sleep(ELECTION_TIMEOUT_S)
        cfg.start1((leader1 + 3) % servers)
        cfg.connect((leader1 + 3) % servers)
        cfg.one(10 + index, servers - 2, True)
        index += 1
        cfg.connect((leader1 + 4) % servers)
        cfg.connect((leader1 + 0) % servers)
    cfg.one(1000, servers, True)


def test_persist3_3c(make_cluster):
    servers = 3
    cfg = make_cluster(servers)
    cfg.one(101, 3, True)
    leader = cfg.check_one_leader()
    cfg.disconnect((leader + 2) % servers)
    cfg.one(102, 2, True)
    cfg.crash1((leader + 0) % servers)
    cfg.crash1((leader + 1) % servers)
    cfg.connect((leader + 2) % servers)
    cfg.start1((leader + 0) % servers)
    cfg.connect((leader + 0) % servers)
    cfg.one(103, 2, True)
    cfg.start1((leader + 1) % servers)
    cfg.connect((leader + 1) % servers)
    cfg.one(104, servers, True)


def _figure8_sleep(cfg) -> None:
    if cfg.rng.randrange(1000) < 100:
        time.sleep(cfg.rng.randrange(int(ELECTION_TIMEOUT_S * 1000) // 2) / 1000)
    else:
        time.sleep(cfg.rng.randrange(13) / 1000)


def test_figure8_3c(make_cluster):
    servers = 5
    cfg = make_cluster(servers)
    rng = cfg.rng
    cfg.one(rng.randrange(1 << 30), 1, True)
    nup = servers
    for _ in range(FIGURE8_ITERS):
        leader = -1
        for i in range(servers):
            if cfg.alive[i]:
                _, _, ok = cfg.start(i, rng.randrange(1 << 30))
                if ok:
                    leader = i
        _figure8_sleep(cfg)
        if leader != -1:
            cfg.crash1(leader)
            nup -= 1
        if nup < 3:
            s = rng.randrange(servers)
            if not cfg.alive[s]:
                cfg.start1(s)
                cfg.connect(s)
                nup += 1
    for i in range(servers):
        if not cfg.alive[i]:
            cfg.start1(i)
            cfg.connect(i)
    cfg.one(rng.randrange(1 << 30), servers, True)


def test_unreliable_agree_3c(make_cluster):
    servers = 5
    cfg = make_cluster(servers, unreliable=True)
    threads = []
    failures: list[BaseException] = []

    def client(cmd: int) -> None:
        try:
            cfg.one(cmd, 1, True)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    for iters in range(1, 50):
        for j in range(4):
            t = threading.Thread(target=client, args=(100 * iters + j,))
            t.start()
            threads.append(t)
        cfg.one(iters, 1, True)
    cfg.set_unreliable(False)
    for t in threads:
        t.join()
    assert not failures, f"a client failed: {failures[0]!r}"
    cfg.one(100, servers, True)


def test_figure8_unreliable_3c(make_cluster):
    servers = 5
    cfg = make_cluster(servers, unreliable=True)
    rng = cfg.rng
    cfg.one(rng.randrange(10000), 1, True)
    nup = servers
    for iters in range(FIGURE8_UNRELIABLE_ITERS):
        if iters == FIGURE8_UNRELIABLE_ITERS // 5:
            cfg.set_long_reordering(True)
        leader = -1
        results = cfg.start_all(rng.randrange(10000), deadline_s=0.3)
        for i, ok in enumerate(results):
            if ok and cfg.connected[i]:
                leader = i
        _figure8_sleep(cfg)
        if leader != -1 and rng.randrange(1000) < 500:
            cfg.disconnect(leader)
            nup -= 1
        if nup < 3:
            s = rng.randrange(servers)
            if not cfg.connected[s]:
                cfg.connect(s)
                nup += 1
    for i in range(servers):
        if not cfg.connected[i]:
            cfg.connect(i)
    cfg.one(rng.randrange(10000), servers, True)


def _internal_churn(cfg, unreliable: bool) -> None:
    servers = cfg.n
    rng = cfg.rng
    stop = threading.Event()
    values: list[list[int]] = [[] for _ in range(3)]
    failures: list[BaseException] = []

    def client(me: int) -> None:
        try:
            while not stop.is_set():
                x = rng.randrange(1 << 30)
                index, ok = -1, False
                for i in range(servers):
                    if cfg.alive[i]:
                        index1, _, ok1 = cfg.start(i, x)
                        if ok1:
                            ok, index = True, index1
                if ok:  # maybe the leader will commit our value, maybe not
                    for pause_ms in (10, 20, 50, 100, 200):
                        nd, cmd = cfg.n_committed(index)
                        if nd > 0:
                            if cmd == x:
                                values[me].append(x)
                            break
                        time.sleep(pause_ms / 1000)
                else:
                    time.sleep((79 + me * 17) / 1000)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for _ in range(20):
        if rng.randrange(1000) < 200:
            cfg.disconnect(rng.randrange(servers))
        if rng.randrange(1000) < 500:
            i = rng.randrange(servers)
            if not cfg.alive[i]:
                cfg.start1(i)
            cfg.connect(i)
        if rng.randrange(1000) < 200:
            i = rng.randrange(servers)
            if cfg.alive[i]:
                cfg.crash1(i)
        # 6.824 sleeps 0.7 ElectionTimeout: so that a majority is up long enough to commit
        time.sleep(0.7 * ELECTION_TIMEOUT_S)
    time.sleep(ELECTION_TIMEOUT_S)
    cfg.set_unreliable(False)
    for i in range(servers):
        if not cfg.alive[i]:
            cfg.start1(i)
        cfg.connect(i)
    stop.set()
    for t in threads:
        t.join()
    assert not failures, f"client failed: {failures[0]!r}"
    time.sleep(ELECTION_TIMEOUT_S)
    last_index = cfg.one(rng.randrange(1 << 30), servers, True)
    really = []
    for index in range(1, last_index + 1):
        really.append(cfg.wait(index, servers, -1))
    for mine in values:
        for v in mine:
            assert v in really, f"didn't find a value {v} in the final log"


def test_reliable_churn_3c(make_cluster):
    _internal_churn(make_cluster(5), False)


def test_unreliable_churn_3c(make_cluster):
    _internal_churn(make_cluster(5, unreliable=True), True)
