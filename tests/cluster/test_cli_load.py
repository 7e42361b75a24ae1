"""`python -m sentinel.cluster load` against a real cluster: the load rides out a leader
kill, Ctrl-C ends it early, and every round's history is linearizable and left on disk."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading

from sentinel.lin import CheckResult, check_operations, kv_model, read_history

CLI = [sys.executable, "-m", "sentinel.cluster"]
PROGRESS = re.compile(r"^\s*[\d.]+ s\s+(\d+) calls/s")


class Lines:
    """The lines of a running command's output, read on a thread."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.drain, args=(proc,), daemon=True)
        self.thread.start()

    def drain(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            with self.lock:
                self.lines.append(line.rstrip("\n"))

    def progress(self) -> list[int]:
        with self.lock:
            return [int(m.group(1)) for m in map(PROGRESS.match, self.lines) if m]


def test_load_rides_out_a_leader_kill_and_stops_on_ctrl_c(
    start_plain, cli, cluster_dir, procs, helpers
):
    up = start_plain("-n", "3", "--seed", "5")
    leader = cli.stable_leader(3)["leader"]
    procs.track(up.pid)
    load = subprocess.Popen(
        [*CLI, "load", "--dir", str(cluster_dir), "--seconds", "0", "--clients", "3",
         "--round-calls", "1000", "--seed", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )  # fmt: skip
    procs.track(load.pid)
    out = Lines(load)
    try:
        helpers.wait_for(lambda: len(out.progress()) >= 2, "two progress lines")
        cli.ok("kill", str(leader))
        seen = len(out.progress())
        cli.stable_leader(2, exclude=leader)
        helpers.wait_for(
            lambda: sum(out.progress()[seen:]) > 100, "calls completing under the new leader"
        )
        load.send_signal(signal.SIGINT)
        assert load.wait(120) == 0, out.lines
    finally:
        if load.poll() is None:
            load.kill()
            load.wait(30)
    out.thread.join(10)
    text = "\n".join(out.lines)
    assert "stopping: the calls under way finish first" in text
    rounds = [line for line in out.lines if line.startswith("round ")]
    assert rounds and all(": linearizable" in line for line in rounds), text
    assert out.lines[-1] == f"rounds: {len(rounds)} checked, {len(rounds)} linearizable", text
    history = read_history(str(cluster_dir / "load-history.edn"))
    assert check_operations(kv_model, history, timeout_s=60) is CheckResult.OK
    key = re.search(r"\((load-\w+-1-k0)\.\.\.\)", out.lines[0]).group(1)
    result = cli.run("get", key)
    assert result.returncode == 1 and "no key" in result.stderr, "the run deletes its keys"
    assert "stopped" in cli.ok("down")
    assert up.wait(60) == 0
    helpers.no_process_left(procs)


def test_load_needs_a_running_cluster_and_sane_options(cli):
    result = cli.run("load", "--seconds", "1")
    assert result.returncode == 1 and "no cluster is running" in result.stderr
    result = cli.run("load", "--clients", "0")
    assert result.returncode == 1 and "--clients must be 1..64" in result.stderr
