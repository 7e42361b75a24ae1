"""Every key/value operation from the command line: `put`, `get`, `append`, `delete`, `cas`.
A missing key and a failed comparison exit 1 with a clear error and change nothing."""

from __future__ import annotations


def test_every_kv_command(start_plain, cli, procs, helpers):
    up = start_plain("-n", "3", "--seed", "11")
    cli.stable_leader(3)
    procs.track(up.pid)

    assert cli.ok("append", "log", "a").strip() == "OK"  # to nothing: the key is made
    assert cli.ok("append", "log", "b c").strip() == "OK"
    assert cli.ok("get", "log").strip() == "ab c"

    assert cli.ok("cas", "color", "blue", "--absent").strip() == "OK"
    assert cli.ok("cas", "color", "red", "--expect", "blue").strip() == "OK"
    assert cli.ok("get", "color").strip() == "red"

    refused = [
        (("cas", "color", "green", "--expect", "blue"), "'color' does not hold the value 'blue'"),
        (("cas", "color", "green", "--absent"), "'color' does not hold no value"),
        (("delete", "missing"), "no key 'missing'"),
        (("cas", "missing", "v", "--expect", "old"), "'missing' does not hold the value 'old'"),
        (("append", "", "v"), "key must not be empty"),
    ]
    for args, words in refused:
        result = cli.run(*args)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert result.stderr.startswith("error: ") and words in result.stderr, (args, result)
    assert cli.ok("get", "color").strip() == "red"
    assert cli.run("get", "missing").returncode == 1

    # Over the kernel's 128 KiB limit on one argument: the value comes on standard input.
    big = "v" * (600 * 1024) + "\n"
    assert cli.ok("put", "big", stdin=big).strip() == "OK"
    assert cli.ok("append", "big", stdin="+").strip() == "OK"
    assert cli.ok("get", "big") == big + "+\n"
    result = cli.run("cas", "big", "--expect", "old", stdin="new")
    assert result.returncode == 1 and "does not hold the value 'old'" in result.stderr
    assert cli.ok("cas", "color", "--expect", "red", stdin="teal").strip() == "OK"
    assert cli.ok("get", "color").strip() == "teal"

    assert cli.ok("delete", "color").strip() == "deleted"
    result = cli.run("get", "color")
    assert result.returncode == 1 and "no key 'color'" in result.stderr
    assert cli.ok("get", "log").strip() == "ab c"

    assert "stopped" in cli.ok("down")
    assert up.wait(60) == 0
    helpers.no_process_left(procs)


def test_cas_needs_one_expectation(cli):
    for args in (("cas", "k", "v"), ("cas", "k", "v", "--absent", "--expect", "x")):
        result = cli.run(*args)
        assert result.returncode == 2, args
        assert "--expect" in result.stderr and "--absent" in result.stderr
