"""Hostile command-line arguments against a running cluster: every one is refused with a
message that says why (exit status 2 for bad usage, 1 for a refused command), none changes
anything, and the cluster keeps serving with nothing lost."""

from __future__ import annotations

import pytest

from sentinel.cluster.cli import main

USAGE, REFUSED = 2, 1
CASES = [
    (("kill", "0"), USAGE, "node numbers start at 1"),
    (("kill", "two"), USAGE, "not a node number"),
    (("pause", "1.5"), USAGE, "not a node number"),
    (("restart", "-1"), USAGE, "error:"),
    (("kill", "99"), REFUSED, "no node 99: nodes are 1-3"),
    (("resume", "1" * 40), REFUSED, "no node 1111"),
    (("resume", "1"), REFUSED, "not paused"),
    (("partition", "1,1", "2"), REFUSED, "a node appears in two groups"),
    (("partition", "1,,2"), USAGE, "node numbers separated by commas"),
    (("partition", "1,2,3"), REFUSED, "at least two groups"),
    (("partition", "1", "4"), REFUSED, "no node 4"),
    (("net", "bogus"), USAGE, "invalid choice"),
    (("logs", "2", "--lines", "-5"), REFUSED, "--lines must be positive"),
    (("logs", "7"), REFUSED, "no node 7"),
    (("frobnicate",), USAGE, "invalid choice"),
]


def test_bad_arguments_are_refused_and_change_nothing(
    start_plain, cli, cluster_dir, procs, helpers, capsys
):
    up = start_plain("-n", "3", "--seed", "13")
    procs.track(up.pid)
    before = cli.stable_leader(3)
    assert cli.ok("put", "kept", "yes").strip() == "OK"
    capsys.readouterr()
    for args, status, words in CASES:
        argv = [*args, "--dir", str(cluster_dir)]
        if status == USAGE:
            with pytest.raises(SystemExit) as info:
                main(argv)
            code = info.value.code
        else:
            code = main(argv)
        err = capsys.readouterr().err
        assert code == status, (args, code, err)
        assert words in err, (args, err)
    after = cli.stable_leader(3)
    assert after["leader"] == before["leader"] and after["term"] == before["term"]
    assert all(n["group"] is None for n in after["nodes"])  # no partition was made
    assert cli.ok("get", "kept").strip() == "yes"
    assert "stopped" in cli.ok("down")
    assert up.wait(60) == 0
    helpers.no_process_left(procs)
