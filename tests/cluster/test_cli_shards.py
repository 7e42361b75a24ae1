"""A sharded cluster from the command line: `up --groups 2 -n 3` starts the controller and
two shard groups; `shards` and `status --json` show each group's leader and the shard map;
kv commands route by key, and so does its Redis front door (DBSIZE and KEYS over every
shard); `kill g2.1` takes a node name; `leave`, `join` and `move` change
the configuration (bad ones are refused and change nothing); `down` stops everything."""

from __future__ import annotations

import json
import socket

import redis


def _shards(cli):  # type: ignore[no-untyped-def]
    result = cli.run("shards", "--json")
    return json.loads(result.stdout) if result.returncode == 0 else None


def test_sharded_cluster_from_the_command_line(start_plain, cli, procs, helpers):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    up = start_plain("--groups", "2", "-n", "3", "--seed", "5", "--redis-port", str(port))
    procs.track(up.pid)

    def served(num: int | None = None):  # type: ignore[no-untyped-def]
        s = _shards(cli)
        if s is None or s["in_flight"] or 0 in s["owners"] or not s["owners"]:
            return None
        if num is not None and s["config_num"] != num:
            return None
        if any(g["leader"] is None or g["config_num"] != s["config_num"] for g in s["groups"][1:]):
            return None
        return s

    first = helpers.wait_for(served, "both groups to serve every shard")
    assert sorted(set(first["owners"])) == [1, 2]
    assert [g["gid"] for g in first["groups"]] == [0, 1, 2]
    for i in range(10):
        assert cli.ok("put", f"k{i}", f"v{i}").strip() == "OK"
    with redis.Redis(port=port, socket_timeout=30) as r:
        assert r.dbsize() == 10 and r.keys("k*") == [f"k{i}".encode() for i in range(10)]
        assert r.get("k4") == b"v4"
    assert "node 201 killed" in cli.ok("kill", "g2.1")
    assert cli.ok("logs", "g1.2", "--lines", "3").strip()  # node names work for logs too
    assert cli.ok("get", "k3").strip() == "v3"

    out = cli.ok("leave", "1")
    assert out.startswith("configuration ") and "g1" not in out
    left = helpers.wait_for(lambda: served(first["config_num"] + 1), "group 2 to own all")
    assert set(left["owners"]) == {2}
    assert [cli.ok("get", f"k{i}").strip() for i in range(10)] == [f"v{i}" for i in range(10)]
    cli.ok("join", "g1")
    cli.ok("move", "0", "2")
    helpers.wait_for(lambda: served(first["config_num"] + 3), "the move")
    for args, words in (
        (("join", "7"), "no group 7"),
        (("leave", "1", "2", "3"), "no group 3"),
        (("move", "10", "1"), "shard 10"),
        (("kill", "g5.1"), "no node"),
    ):
        result = cli.run(*args)
        assert result.returncode == 1 and words in result.stderr, (args, result.stderr)
    status = cli.status()
    assert status is not None and status["shards"]["config_num"] == first["config_num"] + 3
    assert "stopped" in cli.ok("down")
    assert up.wait(60) == 0
    assert "map=" in up.out.read_text()  # the plain status lines carry the shard map
    helpers.no_process_left(procs)
