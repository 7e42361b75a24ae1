"""`down`, SIGKILL and SIGTERM of the supervisor leave no process behind; `up` again recovers
the cluster from its disks; a second `up` on a live directory is refused."""

from __future__ import annotations

import json
import os
import signal


def test_down_recover_sigkill_sigterm(start_plain, cli, cluster_dir, procs, helpers):
    up = start_plain("-n", "3", "--seed", "5")
    first = cli.stable_leader(3)
    procs.track(up.pid)
    cluster_id = first["cluster_id"]

    busy = cli.run("up", "-n", "3", "--no-dashboard")
    assert busy.returncode == 1
    assert "already running" in busy.stderr and str(up.pid) in busy.stderr

    assert cli.ok("put", "color", "blue").strip() == "OK"
    assert "stopped" in cli.ok("down")
    assert up.wait(60) == 0
    helpers.no_process_left(procs)
    assert (cluster_dir / "cluster.json").exists()
    assert all((cluster_dir / f"node-{i}" / "node.log").exists() for i in (1, 2, 3))
    out = up.out.read_text()
    assert "leader" in out and "cluster stopped" in out  # plain status and event lines

    # Recovery: same cluster id, terms and commits continue from the disks.
    again = start_plain("--seed", "6")  # -n comes from the directory
    second = cli.stable_leader(3)
    procs.track(again.pid)
    assert second["cluster_id"] == cluster_id
    assert second["term"] > first["term"]
    old_commit = {x["id"]: x["commit"] for x in first["nodes"]}
    helpers.wait_for(
        lambda: all(x["commit"] >= old_commit[x["id"]] for x in cli.status()["nodes"]),
        "every node to reach its old commit index again",
    )
    assert cli.ok("get", "color").strip() == "blue"
    assert cli.ok("put", "shape", "round").strip() == "OK"

    # SIGKILL of the supervisor: the router and the nodes (a paused one too) exit by themselves.
    assert "paused" in cli.ok("pause", "2")
    assert "restarted" in cli.ok("restart", "3")  # spawned later, on a control request
    procs.track(again.pid)
    os.kill(again.pid, signal.SIGKILL)
    again.wait(30)
    helpers.no_process_left(procs)
    assert cli.run("status").returncode == 1  # the control socket is dead, not hanging

    # The kernel dropped the dead supervisor's lock: a third `up` runs; SIGTERM stops it.
    third = start_plain()
    cli.stable_leader(3)
    assert cli.ok("get", "shape").strip() == "round"
    procs.track(third.pid)
    paused = cli.ok("pause", "1")  # a paused node must be stopped too
    assert "paused" in paused
    third.send_signal(signal.SIGTERM)
    assert third.wait(60) == 128 + signal.SIGTERM  # through SystemExit: every finally ran
    helpers.no_process_left(procs)
    assert "cluster stopped" in third.out.read_text()

    mismatch = cli.run("up", "-n", "5", "--no-dashboard")
    assert mismatch.returncode == 1 and "-n 5 does not match" in mismatch.stderr
    assert json.loads((cluster_dir / "cluster.json").read_text())["nodes"] == 3
