"""`up` in a pseudo-terminal: the live dashboard, actions from another command and from keys,
and `q`, after which no process of the cluster is left."""

from __future__ import annotations

import re


def _node(status, node_id):
    return next(x for x in status["nodes"] if x["id"] == node_id)


def _groups(status):
    """Node ids grouped by partition label; () when the network is whole."""
    labels = {x["id"]: x["group"] for x in status["nodes"]}
    if all(label is None for label in labels.values()):
        return ()
    out: dict[str, list[int]] = {}
    for node_id, label in labels.items():
        out.setdefault(str(label), []).append(node_id)
    return tuple(sorted(tuple(sorted(g)) for g in out.values()))


def test_dashboard_kill_restart_partition_keys_quit(start_pty, cli, procs, helpers):
    wait_for = helpers.wait_for
    up = start_pty("-n", "5", "--seed", "11")
    first = cli.stable_leader(5)
    up.track()
    leader, term = first["leader"], first["term"]
    wait_for(lambda: up.last_leader() == (leader, term), "the dashboard to show the leader")
    frame = up.text()
    assert "k<n> kill" in frame and "q quit" in frame  # the footer lists the keys
    for node_id in range(1, 6):
        assert re.search(rf"\n\s*★?{node_id}\s+\d+\s+running\s", frame), (
            f"no row for node {node_id}"
        )

    # put/get round trip through the router (the nodes run the key/value server).
    for i in range(5):
        assert cli.ok("put", f"key{i}", f"value {i}").strip() == "OK"
    assert cli.ok("get", "key3").strip() == "value 3"

    # Kill the leader from another command: a new leader, shown in the table and the dashboard.
    assert "killed" in cli.ok("kill", str(leader))
    second = cli.stable_leader(4, exclude=leader)
    assert second["term"] > term
    assert _node(second, leader)["state"] == "killed" and _node(second, leader)["pid"] is None
    wait_for(
        lambda: (up.last_leader() or (None,))[0] == second["leader"],
        "the dashboard to show the new leader",
    )

    # Restart: the node comes back from its disk to the same applied index as the others.
    def settled():
        st = cli.status()
        running = [x for x in st["nodes"] if x["state"] == "running"]
        applied = {x["applied"] for x in running}
        return st if len(running) == 4 and len(applied) == 1 else None

    settled_status = wait_for(settled, "the survivors to agree on their applied index")
    applied = _node(settled_status, second["leader"])["applied"]
    assert applied >= _node(first, leader)["applied"]
    assert "restarted" in cli.ok("restart", str(leader))

    def back():
        st = cli.status()
        node = _node(st, leader)
        return (
            node["state"] == "running"
            and node["applied"] is not None
            and (node["applied"] >= applied)
        )

    wait_for(back, f"node {leader} to reach applied index {applied} again")
    assert applied >= 6  # the leader's empty entry and the five puts
    assert cli.ok("get", "key4").strip() == "value 4"
    up.track()

    # partition / heal from the command line show in `status --json` and on the dashboard.
    cli.ok("partition", "1,2", "3,4,5")
    wait_for(lambda: _groups(cli.status()) == ((1, 2), (3, 4, 5)), "the partition in status")
    wait_for(lambda: "{1,2} | {3,4,5}" in up.text()[-20000:], "the partition on the dashboard")
    cli.ok("heal")
    wait_for(lambda: _groups(cli.status()) == (), "the heal in status")

    # Keys: random partition, heal, isolate the leader, unreliable on/off, pause and resume.
    up.send("x")
    wait_for(lambda: len(_groups(cli.status())) == 2, "a random partition from the x key")
    up.send("h")
    wait_for(lambda: _groups(cli.status()) == (), "the heal from the h key")
    current = cli.stable_leader(5)["leader"]
    up.send("i")
    wait_for(lambda: (current,) in _groups(cli.status()), "the i key to isolate the leader")
    up.send("h")
    wait_for(lambda: _groups(cli.status()) == (), "the heal from the h key")
    up.send("u")
    wait_for(lambda: cli.status()["preset"] == "unreliable", "the u key: unreliable")
    up.send("u")
    wait_for(lambda: cli.status()["preset"] == "reliable", "the u key again: reliable")
    up.send("p2")
    wait_for(lambda: _node(cli.status(), 2)["state"] == "paused", "node 2 paused by keys")
    up.send("r2")
    wait_for(lambda: _node(cli.status(), 2)["state"] == "running", "node 2 resumed by keys")

    up.track()
    up.send("q")
    assert up.wait_exit() == 0
    helpers.no_process_left(procs)
    assert "cluster stopped" in up.text()
    assert cli.run("status").returncode == 1
