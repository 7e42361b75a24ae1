"""Bad commands, wrong node numbers and a cluster that is not running: a clear error, a
non-zero exit, and nothing in the cluster changes."""

from __future__ import annotations

import json
import signal
import socket
import stat

import pytest


@pytest.mark.parametrize(
    "args",
    [
        ("status",),
        ("status", "--json"),
        ("kill", "1"),
        ("heal",),
        ("down",),
        ("net", "reliable"),
        ("put", "k", "v"),
        ("get", "k"),
        ("append", "k", "v"),
        ("delete", "k"),
        ("cas", "k", "v", "--absent"),
    ],
)
def test_no_cluster_running(cli, cluster_dir, args):
    result = cli.run(*args)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert "no cluster" in result.stderr
    cluster_dir.mkdir()
    result = cli.run(*args)
    assert result.returncode == 1 and "no cluster is running" in result.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("kill", "abc"), "not a node number"),
        (("pause", "0"), "start at 1"),
        (("partition", "1,x"), "a group is node numbers"),
        (("net", "flaky"), "invalid choice"),
        (("explode",), "invalid choice"),
        (("kill",), "required"),
    ],
)
def test_malformed_commands(cli, args, words):
    result = cli.run(*args)
    assert result.returncode == 2
    assert words in result.stderr


def test_logs_without_cluster(cli):
    result = cli.run("logs", "1")
    assert result.returncode == 1 and "no cluster in" in result.stderr


def _snapshot(status):
    return [(x["id"], x["pid"], x["state"], x["group"]) for x in status["nodes"]]


def test_refused_requests_change_nothing(start_plain, cli, cluster_dir, procs, helpers):
    up = start_plain("-n", "2", "--seed", "3")
    before = cli.stable_leader(2)
    procs.track(up.pid)
    refused = [
        (("kill", "3"), "no node 3: nodes are 1-2"),
        (("restart", "9"), "no node 9"),
        (("resume", "1"), "not paused"),
        (("partition", "1,2", "2"), "two groups"),
        (("partition", "1,3"), "no node 3"),
        (("partition", "1,2"), "at least two groups"),
        (("logs", "7"), "no node 7"),
        (("put", "", "v"), "key must not be empty"),
        (("get", "missing"), "no key 'missing'"),
    ]
    for args, words in refused:
        result = cli.run(*args)
        assert result.returncode == 1, args
        assert words in result.stderr, (args, result.stderr)
    assert _snapshot(cli.status()) == _snapshot(before)

    # The control socket: owner-only, and garbage gets an error reply while it keeps serving.
    sock_path = cluster_dir / "control.sock"
    assert stat.S_IMODE(sock_path.stat().st_mode) == 0o600
    for line, words in [
        (b"garbage\n", "malformed request"),
        (b"[1, 2]\n", "not an object"),
        (b'{"cmd": "kill", "node": "1"}\n', "node number"),
        (b'{"cmd": "kill", "node": true}\n', "node number"),
        (b'{"cmd": "partition", "groups": [[1], "2"]}\n', "lists of node numbers"),
        (b'{"cmd": "net", "preset": "x"}\n', "unknown network preset"),
        (b'{"cmd": "explode"}\n', "unknown command"),
    ]:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(30)
            s.connect(str(sock_path))
            s.sendall(line)
            reply = json.loads(s.makefile("rb").readline())
        assert reply["ok"] is False and words in reply["error"], (line, reply)
    assert _snapshot(cli.status()) == _snapshot(before)

    logs = cli.ok("logs", "1", "--lines", "5")
    assert 0 < len(logs.splitlines()) <= 5 and "node-1" in logs
    assert "unreliable" in cli.ok("net", "unreliable")
    helpers.wait_for(lambda: cli.status()["preset"] == "unreliable", "the preset switch")
    up.send_signal(signal.SIGINT)  # Ctrl-C
    assert up.wait(60) == 130
    helpers.no_process_left(procs)
    assert "cluster stopped" in up.out.read_text()
