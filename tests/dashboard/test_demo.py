"""The toy DemoCluster: actions change the view and become events, as with the supervisor."""

from __future__ import annotations

import subprocess
import sys

from sentinel.dashboard import Action, ActionName, ProcessState, partition_groups
from sentinel.dashboard.demo import DemoCluster


def texts(cluster: DemoCluster) -> list[str]:
    return [e.text for e in cluster.view().events]


def test_actions_change_the_view_and_log_events() -> None:
    cluster = DemoCluster(5, seed=7)
    seq_before = cluster.view().events[-1].seq
    assert cluster.act(Action(ActionName.KILL, 3)) == "kill node 3: ok"
    assert cluster.view().node(3).state == ProcessState.KILLED  # type: ignore[union-attr]
    cluster.act(Action(ActionName.PAUSE, 1))
    cluster.act(Action(ActionName.RESUME, 1))
    cluster.act(Action(ActionName.RESTART, 3))
    assert cluster.act(Action(ActionName.ISOLATE_LEADER)) == "node 2 isolated"
    assert partition_groups(cluster.view()) == ((1, 3, 4, 5), (2,))
    cluster.act(Action(ActionName.HEAL))
    assert partition_groups(cluster.view()) == ()
    cluster.act(Action(ActionName.TOGGLE_UNRELIABLE))
    assert cluster.view().preset == "reliable"
    cluster.act(Action(ActionName.KILL, 2))
    assert cluster.view().leader is None
    assert cluster.act(Action(ActionName.ISOLATE_LEADER)) == "no leader to isolate"
    new = [e for e in cluster.view().events if e.seq > seq_before]
    assert [e.text for e in new] == [
        "node 3 killed (pid 41203)",
        "node 1 paused",
        "node 1 resumed",
        "node 3 running again (pid 50001)",
        "split {1,3,4,5} | {2}",
        "network healed (was {1,3,4,5} | {2})",
        "network reliable (was unreliable)",
        "no leader (node 2 lost leadership)",
        "node 2 killed (pid 41202)",
    ]
    assert [e.seq for e in new] == list(range(seq_before + 1, seq_before + 10))


def test_sample_command_prints_a_frame() -> None:
    cmd = [sys.executable, "-m", "sentinel.dashboard", "--sample", "--width", "100", "--no-color"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
    assert "Sentinel · 5 nodes" in out and "★2" in out and "KILLED" in out
    plain = subprocess.run([*cmd, "--plain"], capture_output=True, text=True, timeout=60).stdout
    assert plain.splitlines()[-1].startswith("up=3m25s leader=2 term=7")
