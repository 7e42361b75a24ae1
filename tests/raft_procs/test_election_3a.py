"""6.824 part 3A (leader election) against real node processes through the router.

Timing: our election timeout is 150-300 ms against 6.824's ~1 s, so sleeps measured in
6.824's RaftElectionTimeout use ELECTION_TIMEOUT_S (0.6 s); the 5 s leader deadline is kept.
"""

from __future__ import annotations

import time

import pytest
from raft_procs_harness import ELECTION_TIMEOUT_S

pytestmark = pytest.mark.processes


def test_initial_election_3a(make_cluster):
    cfg = make_cluster(3)
    cfg.check_one_leader()
    time.sleep(0.05)
    term1 = cfg.check_terms()
    assert term1 >= 1, f"term is {term1}, but should be at least 1"
    time.sleep(2 * ELECTION_TIMEOUT_S)
    term2 = cfg.check_terms()
    if term1 != term2:
        print("warning: term changed even though there were no failures")
    cfg.check_one_leader()


def test_re_election_3a(make_cluster):
    cfg = make_cluster(3)
    leader1 = cfg.check_one_leader()
    cfg.disconnect(leader1)  # a new leader must appear
    cfg.check_one_leader()
    cfg.connect(leader1)  # the old leader rejoins: it must not disturb the new one
    leader2 = cfg.check_one_leader()
    cfg.disconnect(leader2)  # no quorum: no leader
    cfg.disconnect((leader2 + 1) % 3)
    time.sleep(2 * ELECTION_TIMEOUT_S)
    cfg.check_no_leader()
    cfg.connect((leader2 + 1) % 3)  # a quorum again
    cfg.check_one_leader()
    cfg.connect(leader2)
    cfg.check_one_leader()


def test_many_elections_3a(make_cluster):
    servers = 7
    cfg = make_cluster(servers)
    cfg.check_one_leader()
    for _ in range(9):
        i1, i2, i3 = (cfg.rng.randrange(servers) for _ in range(3))
        for i in (i1, i2, i3):
            cfg.disconnect(i)
        # either the current leader is still alive, or the remaining four elect a new one
        cfg.check_one_leader()
        for i in (i1, i2, i3):
            cfg.connect(i)
    cfg.check_one_leader()
