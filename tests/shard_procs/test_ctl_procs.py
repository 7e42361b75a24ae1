"""The 6.824 shard controller tests on real processes: a three-node controller group behind
the router, clerks in threads of the test process (tests/shard/ctl_scenarios.py says what
each step checks). Each ends with the lab's "same config on servers": every node in turn is
killed and the latest configuration read from the others is still the same, so no node held
a configuration the rest lacked."""

from __future__ import annotations

import ctl_scenarios
from harness_shard import GroupProcs, start_controller


def same_config_on_servers(procs: GroupProcs, ids: list[int]) -> None:
    before = procs.ctl_clerk(ids).query(-1)
    for node_id in ids:
        procs.kill(node_id)
        assert procs.ctl_clerk(ids).query(-1) == before, f"node {node_id} held a newer config"
        procs.restart(node_id)


def test_basic(procs: GroupProcs) -> None:
    ids = start_controller(procs)
    ctl_scenarios.basic(lambda: procs.ctl_clerk(ids))
    same_config_on_servers(procs, ids)


def test_multi(procs: GroupProcs) -> None:
    ids = start_controller(procs, maxraftstate=2000)  # snapshots and restores on the way
    ctl_scenarios.multi(lambda: procs.ctl_clerk(ids))
    same_config_on_servers(procs, ids)
