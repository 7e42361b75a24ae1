"""`up --redis-port N`: the Redis front door runs as the cluster's child process, shows in
`status --json`, answers redis-py and redis-cli, and ends with the cluster on `down` and when
the supervisor is SIGKILLed. A port in use makes `up` fail with the reason."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess

import pytest
import redis

pytestmark = pytest.mark.processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_status(cli):
    status = cli.status()
    return status["redis"] if status and status.get("redis") else None


def front_door_pid(cli) -> int | None:
    """The pid in the front door's status file (None while there is none)."""
    try:
        return int(json.loads((cli.dir / "redis.json").read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None


def test_up_serves_redis_and_stops_it_on_every_exit(start_plain, cli, procs, helpers):
    port = free_port()
    up = start_plain("-n", "3", "--seed", "3", "--redis-port", str(port))
    cli.stable_leader(3)
    procs.track(up.pid)
    first = helpers.wait_for(lambda: redis_status(cli), "redis in status --json")
    assert first["address"] == f"127.0.0.1:{port}"
    r = redis.Redis(port=port, socket_timeout=30)
    assert r.ping() is True
    helpers.wait_for(
        lambda: (redis_status(cli) or {}).get("connections") == 1, "the connection counted"
    )
    info = r.info("raft")
    assert info["role"] == "leader" and info["term"] >= 1
    r.close()
    assert "stopped" in cli.ok("down")
    assert up.wait(60) == 0
    helpers.no_process_left(procs)
    assert not (cli.dir / "redis.json").exists()

    again = start_plain("--redis-port", str(port))
    cli.stable_leader(3)
    procs.track(again.pid)
    helpers.wait_for(lambda: redis_status(cli), "redis in status --json again")
    assert redis.Redis(port=port, socket_timeout=30).ping() is True
    procs.track(again.pid)
    os.kill(again.pid, signal.SIGKILL)
    again.wait(30)
    helpers.no_process_left(procs)


def test_a_front_door_that_dies_is_restarted_with_an_event(start_plain, cli, procs, helpers):
    port = free_port()
    up = start_plain("-n", "3", "--redis-port", str(port))
    cli.stable_leader(3)
    procs.track(up.pid)
    first = helpers.wait_for(lambda: redis_status(cli), "redis in status --json")
    pid = front_door_pid(cli)
    os.kill(pid, signal.SIGKILL)
    helpers.wait_for(lambda: front_door_pid(cli) not in (None, pid), "a new front door")
    assert (
        helpers.wait_for(lambda: redis_status(cli), "redis in status")["address"]
        == (first["address"])
    )
    assert redis.Redis(port=port, socket_timeout=30).ping() is True
    log = (cli.dir / "supervisor.log").read_text()
    assert f"redis front door ended (exit status -{signal.SIGKILL}" in log and "restarted" in log
    events = [line.split("event: ", 1)[1] for line in log.splitlines() if "event: " in line]
    assert [e for e in events if "front door" in e] == [
        next(e for e in events if e.startswith("redis front door ended"))
    ], events  # one event for the one death, and no empty ones (an "error: None" a sample)
    assert "None" not in events, events


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli is not installed")
def test_redis_cli_set_then_get_on_up(start_plain, cli, procs, helpers):
    port = free_port()
    up = start_plain("-n", "3", "--redis-port", str(port))
    cli.stable_leader(3)
    procs.track(up.pid)
    helpers.wait_for(lambda: redis_status(cli), "redis in status --json")
    for args, want in ((["SET", "k", "v"], "OK"), (["GET", "k"], "v")):
        out = subprocess.run(["redis-cli", "-p", str(port), *args],
                             capture_output=True, text=True, timeout=30)  # fmt: skip
        assert out.stdout.strip() == want, out
    assert cli.ok("get", "k").strip() == "v"  # the same store as the Python client's


def test_a_port_in_use_fails_up_with_the_reason(start_plain, cluster_dir, procs, helpers):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        up = start_plain("-n", "1", "--redis-port", str(taken.getsockname()[1]))
        procs.track(up.pid)
        assert up.wait(60) == 1
    out = up.out.read_text()
    assert "Redis front door" in out and "--redis-port" in out, out
    helpers.no_process_left(procs)


def test_a_public_bind_needs_a_password(cli):
    done = cli.run("up", "-n", "1", "--redis-port", "7999", "--redis-bind", "0.0.0.0")
    assert done.returncode == 1 and "--redis-password" in done.stderr
