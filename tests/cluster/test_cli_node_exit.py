"""A node that ends without being told to is shown for what happened, with the reason: one
that exits by itself (its log damaged in the middle) is `exited`, with its exit status and the
last line of its log; one killed by a signal from outside is `killed`, saying so. The other
nodes keep serving, and the supervisor refuses to kill a node that already exited. A node
whose directory was lost is not started at all."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path


def _damage_middle_of_log(wal: Path) -> None:
    """Flip one byte a third of the way into the log's data (valid records follow it): damage
    recovery must refuse, unlike a torn last record, which it cuts off."""
    data = wal.read_bytes()
    end = len(data.rstrip(b"\0"))  # the log is allocated ahead: zeros after its data
    assert end > 300, f"too little log to damage ({end} bytes)"
    at = end // 3
    with wal.open("r+b") as f:
        f.seek(at)
        f.write(bytes([data[at] ^ 0xFF]))


def test_a_node_that_exits_or_is_killed_from_outside_says_why(
    start_plain, cli, cluster_dir, procs, helpers
):
    up = start_plain("-n", "3", "--seed", "7")
    procs.track(up.pid)
    cli.stable_leader(3)
    for i in range(20):
        assert cli.ok("put", f"k{i}", f"v{i}").strip() == "OK"
    assert "stopped" in cli.ok("down")
    assert up.wait(60) == 0
    helpers.no_process_left(procs)
    _damage_middle_of_log(cluster_dir / "node-2" / "wal")

    again = start_plain("--seed", "8")
    procs.track(again.pid)

    def node(status, node_id):
        return next(x for x in status["nodes"] if x["id"] == node_id)

    def exited():
        st = cli.status()
        return st if st is not None and node(st, 2)["state"] == "exited" else None

    two = node(helpers.wait_for(exited, "node 2 to exit on its damaged log"), 2)
    assert two["pid"] is None and two["role"] is None
    assert two["exit_reason"].startswith("exit status 2; its log ends: ")
    assert "corrupt record" in two["exit_reason"], two
    assert cli.ok("get", "k7").strip() == "v7"  # nodes 1 and 3 are a majority
    refused = cli.run("kill", "2")
    assert refused.returncode == 1 and "already exited" in refused.stderr
    again_down = cli.run("restart", "2")  # a fresh process meets the same damage: says so
    assert again_down.returncode == 1, again_down
    assert "node 2 was restarted" in again_down.stderr and "exited" in again_down.stderr
    assert "corrupt record" in again_down.stderr, again_down.stderr

    victim = node(cli.status(), 3)["pid"]
    os.kill(victim, signal.SIGKILL)  # not through the supervisor

    def killed():
        st = cli.status()
        return st if st is not None and node(st, 3)["state"] == "killed" else None

    three = node(helpers.wait_for(killed, "node 3 to be seen killed"), 3)
    assert three["exit_reason"] == "by SIGKILL, from outside", three
    assert "restarted" in cli.ok("restart", "3")
    helpers.wait_for(lambda: cli.run("get", "k9").stdout.strip() == "v9", "a majority again")
    assert node(cli.status(), 3)["exit_reason"] is None  # a fresh process: nothing to explain

    assert "stopped" in cli.ok("down")
    assert again.wait(60) == 0
    helpers.no_process_left(procs)
    out = again.out.read_text()
    assert "error: node 2 exited by itself" in out and "corrupt record" in out, out[-3000:]
    assert f"kill: node 3 killed (pid {victim}): by SIGKILL, from outside" in out, out[-3000:]


def test_a_node_whose_directory_was_lost_is_not_started_empty(
    start_plain, cli, cluster_dir, procs, helpers
):
    """An empty node would have forgotten its votes and the entries it acknowledged: its
    vote could elect a leader without them. So it is not started, and says why."""
    up = start_plain("-n", "3", "--seed", "9")
    procs.track(up.pid)
    cli.stable_leader(3)
    assert cli.ok("put", "kept", "yes").strip() == "OK"
    assert "stopped" in cli.ok("down")
    assert up.wait(60) == 0
    helpers.no_process_left(procs)
    shutil.rmtree(cluster_dir / "node-3")

    again = start_plain("--seed", "10")
    procs.track(again.pid)
    st = helpers.wait_for(cli.status, "the recovered cluster to answer")
    three = next(x for x in st["nodes"] if x["id"] == 3)
    assert three["state"] == "exited" and three["pid"] is None, three
    assert three["exit_reason"].startswith("not started: node-3 holds no state"), three
    refused = cli.run("restart", "3")
    assert refused.returncode == 1 and "must not rejoin empty" in refused.stderr
    helpers.wait_for(lambda: cli.run("get", "kept").stdout.strip() == "yes", "nodes 1 and 2")
    assert not (cluster_dir / "node-3").exists()  # nothing was started there

    # A run that failed before it wrote any state (on a full disk, say) leaves only its log:
    # that node never voted nor stored, so it may start empty, and catches up.
    (cluster_dir / "node-3").mkdir()
    (cluster_dir / "node-3" / "node.log").write_text("stopped before writing its meta file\n")
    assert "restarted" in cli.ok("restart", "3")
    st = cli.stable_leader(3)
    helpers.wait_for(
        lambda: node_commit(cli.status(), 3) >= node_commit(st, st["leader"]), "node 3 caught up"
    )

    assert "stopped" in cli.ok("down")
    assert again.wait(60) == 0
    helpers.no_process_left(procs)
    assert "error: node 3 not started: node-3 holds no state" in again.out.read_text()


def node_commit(status, node_id) -> int:
    if status is None:
        return -1
    return next(x["commit"] for x in status["nodes"] if x["id"] == node_id) or -1


def test_a_node_whose_directory_is_deleted_while_it_runs_says_so(
    start_plain, cli, cluster_dir, procs, helpers
):
    """Its log goes with its directory, so the supervisor says what it sees: the directory
    is gone, and `replace N` is the way back. The others keep serving."""
    up = start_plain("-n", "3", "--seed", "11")
    procs.track(up.pid)
    st = cli.stable_leader(3)
    victim = next(i for i in (1, 2, 3) if i != st["leader"])
    assert cli.ok("put", "kept", "yes").strip() == "OK"
    lost = cluster_dir / f"node-{victim}"
    # (a file the node creates meanwhile would fail one pass of rmtree: take it again)
    helpers.wait_for(
        lambda: shutil.rmtree(lost, ignore_errors=True) or not lost.exists(), "the rmtree"
    )

    def exited():
        st = cli.status()
        found = st and next(x for x in st["nodes"] if x["id"] == victim)
        return found if found and found["state"] == "exited" else None

    gone = helpers.wait_for(exited, f"node {victim} to exit without its directory")
    assert f"its directory node-{victim} is gone" in gone["exit_reason"], gone
    assert f"`replace {victim}`" in gone["exit_reason"], gone
    assert cli.ok("get", "kept").strip() == "yes"

    assert "stopped" in cli.ok("down")
    assert up.wait(60) == 0
    helpers.no_process_left(procs)
