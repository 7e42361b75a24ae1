"""Clients follow the membership: a client made with the original servers named, and the
Redis front door (redis-py through it), keep working, without a restart, while every node
the cluster started with is replaced, one by one, and after those nodes' processes are
gone (kvraft/follow.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import psutil
import pytest
import redis

import sentinel

sys.path.insert(0, str(Path(__file__).parent))  # (--import-mode=importlib)
from test_cli_redis import free_port, redis_status

pytestmark = pytest.mark.processes
TIMEOUT_S = 30.0


def test_a_client_and_the_front_door_keep_working_after_every_node_is_replaced(
    start_plain, cli, cluster_dir, procs, helpers
):
    port = free_port()
    up = start_plain("-n", "3", "--seed", "12", "--redis-port", str(port))
    procs.track(up.pid)
    cli.stable_leader(3)
    helpers.wait_for(lambda: redis_status(cli), "redis in status --json")
    pids = {m["id"]: m["pid"] for m in json.loads(cli.ok("members", "--json"))["members"]}
    r = redis.Redis(port=port, socket_timeout=TIMEOUT_S)
    kv = sentinel.connect(cluster_dir, servers=[1, 2, 3])
    try:
        kv.put("before", "0", timeout_s=TIMEOUT_S)
        assert r.set("r-before", "0") is True
        for step, old in enumerate((1, 2, 3), start=1):
            out = cli.ok("replace", str(old))
            assert f"node {old + 3} added" in out and f"node {old} removed" in out, out
            kv.put(f"k{step}", f"v{step}", timeout_s=TIMEOUT_S)  # without a restart
            assert r.set(f"r{step}", f"x{step}") is True
            assert r.get(f"r{step}") == f"x{step}".encode()
        helpers.wait_for(lambda: kv.servers == (4, 5, 6), "the client on the new members")
        for old in (1, 2, 3):  # a removed node stops by itself (or is stopped)
            helpers.wait_for(lambda p=pids[old]: not psutil.pid_exists(p), f"node {old} gone")
        for k in range(1, 4):
            assert kv.get(f"k{k}", timeout_s=TIMEOUT_S) == f"v{k}"
            assert r.get(f"r{k}") == f"x{k}".encode()
        kv.put("after", "1", timeout_s=TIMEOUT_S)
        assert r.set("r-after", "1") is True
        assert kv.get("r-after", timeout_s=TIMEOUT_S) == "1" and r.get("after") == b"1"
        assert kv.get("before", timeout_s=TIMEOUT_S) == "0" and r.get("r-before") == b"0"
    finally:
        kv.close()
        r.close()
    assert "stopped" in cli.ok("down")
    assert up.wait(60) == 0
