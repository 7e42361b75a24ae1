"""Every disk full: a client's write fails at its deadline with an error that says why (no
silent loss, nothing half-applied); once there is room the cluster goes on, data intact."""

from __future__ import annotations

from pathlib import Path

import pytest

import sentinel
from sentinel.kvraft.errors import OutcomeUnknown, Unavailable

pytestmark = pytest.mark.processes

QUOTA_BYTES = 1024 * 1024
VALUE = "v" * 8000  # a few of these overrun the log space a node allocated ahead


def _fill(node_dir: Path) -> Path:
    used = sum(p.stat().st_size for p in node_dir.iterdir() if p.is_file())
    ballast = node_dir / "ballast"
    ballast.write_bytes(bytes(QUOTA_BYTES - used))
    return ballast


def test_writes_to_a_cluster_out_of_disk_fail_saying_so_and_resume_with_room(make_cluster):
    cfg = make_cluster(3, node_options={"disk_quota_bytes": QUOTA_BYTES})
    with sentinel.connect(cfg.directory) as kv:
        kv.put("before", "kept", timeout_s=30)
        ballasts = [_fill(cfg.directory / f"node-{i}") for i in (1, 2, 3)]
        # More than any log has allocated ahead, at once: the leader cannot save them.
        calls = [kv.put_async(f"k{k}", VALUE, timeout_s=3.0) for k in range(24)]
        acked = []
        for k, call in enumerate(calls):
            try:
                call.result()
                acked.append(k)
            except (OutcomeUnknown, Unavailable):
                pass
        with pytest.raises((OutcomeUnknown, Unavailable)) as refused:
            kv.put("while-full", "x", timeout_s=3.0)
        assert "cannot persist (disk full" in str(refused.value), str(refused.value)
        for ballast in ballasts:
            ballast.unlink()
        kv.put("after", "room again", timeout_s=30)
        assert kv.get("before", timeout_s=30) == "kept"
        assert kv.get("after", timeout_s=30) == "room again"
        for k in acked:  # every acknowledged write is there
            assert kv.get(f"k{k}", timeout_s=30) == VALUE


def test_writes_fail_saying_why_when_only_the_followers_disks_are_full(make_cluster):
    """The leader's disk has room but no quorum can persist: a write is refused (a definite
    "not applied") with the followers' own reason, not left to time out saying nothing."""
    cfg = make_cluster(3, node_options={"disk_quota_bytes": QUOTA_BYTES})
    with sentinel.connect(cfg.directory) as kv:
        kv.put("before", "kept", timeout_s=30)
        leader = cfg.wait_leader() + 1
        followers = [i for i in (1, 2, 3) if i != leader]
        ballasts = [_fill(cfg.directory / f"node-{i}") for i in followers]
        calls = [kv.put_async(f"k{k}", VALUE, timeout_s=3.0) for k in range(24)]
        acked = []
        for k, call in enumerate(calls):
            try:
                call.result()
                acked.append(k)
            except (OutcomeUnknown, Unavailable):
                pass
        # The leader heard from no quorum and stood down (check-quorum); the followers,
        # leaderless, refuse with their own reason. Unavailable: nothing was applied (the
        # call may have needed to open a session first, which was refused just the same).
        with pytest.raises(Unavailable) as refused:
            kv.put("while-full", "x", timeout_s=3.0)
        assert "cannot persist (disk full" in str(refused.value), str(refused.value)
        for ballast in ballasts:
            ballast.unlink()
        kv.put("after", "room again", timeout_s=30)
        assert kv.get("before", timeout_s=30) == "kept"
        assert kv.get("while-full", timeout_s=30) is None  # refused: not applied
        for k in acked:
            assert kv.get(f"k{k}", timeout_s=30) == VALUE
