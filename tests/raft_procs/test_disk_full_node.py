"""A node whose disk fills up (a directory quota and a ballast file) keeps running, says so in
its status and its log, holds back its acks, and catches up once there is room again."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel.host.fs import ALLOCATE_AHEAD_BYTES_MIN
from sentinel.host.node import node_name
from sentinel.host.nodestatus import decode_status
from sentinel.netsim.testing import wait_for

pytestmark = pytest.mark.processes

QUOTA_BYTES = 1024 * 1024
#: Commands this big fill the space a log allocates ahead in a few entries.
BIG = "x" * 8000
#: Enough of them that a full node's log must grow (and fail to) however it was allocated.
BIG_COMMANDS = 2 * ALLOCATE_AHEAD_BYTES_MIN // len(BIG) + 2


def _status(cfg, node_id: int):
    blob = cfg.router.statuses().get(node_id)
    return decode_status(blob) if blob is not None else None


def _fill(node_dir: Path) -> Path:
    """Take every byte the quota leaves, with a ballast file; return it."""
    used = sum(p.stat().st_size for p in node_dir.iterdir() if p.is_file())
    ballast = node_dir / "ballast"
    ballast.write_bytes(bytes(QUOTA_BYTES - used))
    return ballast


def _out_of_disk(cfg, node_id: int):
    """Wait until `node_id` reports that it cannot persist; its status."""

    def reported():
        st = _status(cfg, node_id)
        return st is not None and st.disk_error and st

    st = wait_for(reported, 20.0)
    assert st.disk_error.startswith("disk full"), st.disk_error
    log_text = (cfg.directory / f"node-{node_id}" / "node.log").read_text()
    assert "disk full, cannot persist its log" in log_text
    return st


@pytest.mark.parametrize("who", ["follower", "leader"])
def test_a_node_out_of_disk_keeps_running_and_catches_up_when_there_is_room(make_cluster, who):
    cfg = make_cluster(3, node_options={"disk_quota_bytes": QUOTA_BYTES})
    leader = cfg.check_one_leader()
    cfg.one(101, 3, True)
    full = leader if who == "leader" else (leader + 1) % 3
    node_id = full + 1
    pid = cfg.group.pid(node_name(node_id))
    ballast = _fill(cfg.directory / f"node-{node_id}")

    # The other two go on committing; the full node cannot persist what it is sent.
    for k in range(BIG_COMMANDS):
        cfg.one(f"{BIG}-{k}", 2, True)
    st = _out_of_disk(cfg, node_id)
    assert cfg.group.pid(node_name(node_id)) == pid, "the full node's process died"
    if who == "leader":  # it could not keep its followers: the others elected a leader
        assert cfg.check_one_leader() != full
    applied_while_full = st.applied
    cfg.one(102, 2, True)
    assert _status(cfg, node_id).applied == applied_while_full  # it applied nothing unsaved

    ballast.unlink()
    index = cfg.one(103, 3, True)  # all three: the full node saved, acked and caught up
    # Its status says so too, once posted (every status_interval_ms: a status read at once
    # may be one posted after the disk had room but before the node applied `index`).
    wait_for(lambda: (s := _status(cfg, node_id)) and not s.disk_error and s.applied >= index, 20.0)
    assert cfg.group.pid(node_name(node_id)) == pid, "the full node's process was replaced"
    assert cfg.check_terms() > 0


def test_a_new_node_on_a_full_disk_stops_with_a_clear_error(make_cluster):
    cfg = make_cluster(3, node_options={"disk_quota_bytes": QUOTA_BYTES})
    cfg.check_one_leader()
    cfg.crash1(2)
    node_dir = cfg.directory / "node-3"
    for path in node_dir.iterdir():  # a blank directory, as for a new node ...
        path.unlink()
    _fill(node_dir)  # ... on a disk with no room for its first file
    cfg.start1(2, wait=False)
    assert cfg.group.wait(node_name(3), 20.0), "the node did not stop"
    assert cfg.group.exitcode(node_name(3)) == 2
    log_text = (node_dir / "node.log").read_text()
    assert "cannot open its directory" in log_text and "No space left" in log_text
    assert "Traceback" not in log_text
