"""Process control: signals reach only our children, and no child outlives its parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from multiprocessing import forkserver
from multiprocessing.connection import Connection

import psutil
import pytest

from sentinel.netsim.procs import ProcessGroup
from sentinel.netsim.testing import wait_for

pytestmark = pytest.mark.processes


def sleeper(seconds: float) -> None:
    time.sleep(seconds)


def nested_parent(conn: Connection) -> None:
    """A child that starts its own child, reports that pid, then waits to be killed."""
    group = ProcessGroup()
    conn.send(group.start("grandchild", sleeper, (120.0,)))
    time.sleep(120.0)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_kill_pause_resume_restart_and_stop_all(no_leaks) -> None:
    with ProcessGroup() as group:
        first = group.start("a", sleeper, (60.0,))
        group.start("b", sleeper, (60.0,))
        group.pause("b")
        assert wait_for(lambda: psutil.Process(group.pid("b")).status() == psutil.STATUS_STOPPED)
        group.resume("b")
        assert wait_for(lambda: psutil.Process(group.pid("b")).status() != psutil.STATUS_STOPPED)
        group.kill("a")
        assert group.exitcode("a") == -signal.SIGKILL and _gone(first)
        group.kill("a")  # a reaped child is never signalled again
        second = group.restart("a")
        assert second != first and group.is_alive("a")
        group.pause("a")  # stop_all must also end a stopped child
    assert not group.is_alive("a") and not group.is_alive("b")
    assert len(group.started_pids) == 3


def test_grandchild_dies_with_its_parent(no_leaks) -> None:
    with ProcessGroup() as group:
        ours, theirs = group.context.Pipe()
        group.start("parent", nested_parent, (theirs,))
        assert ours.poll(30)
        grandchild = ours.recv()
        assert psutil.Process(grandchild).is_running()
        group.kill("parent")  # no cleanup code runs in the parent: the kernel/watch must act
        wait_for(lambda: _gone(grandchild), timeout_s=20)


def test_sigterm_stops_every_child(tmp_path, no_leaks) -> None:
    script = textwrap.dedent(
        """
        import faulthandler, signal, sys, time
        from sentinel.netsim.procs import ProcessGroup, install_sigterm_handler
        from tests_netsim_helper import sleeper
        if __name__ == "__main__":
            faulthandler.register(signal.SIGUSR1, all_threads=True)  # stacks, if it hangs
            install_sigterm_handler()
            group = ProcessGroup()
            pid = group.start("s", sleeper, (120.0,))
            group.pause("s")
            print(pid, flush=True)
            time.sleep(120)
        """
    )
    (tmp_path / "tests_netsim_helper.py").write_text(
        "import time\ndef sleeper(s):\n    time.sleep(s)\n"
    )
    (tmp_path / "main.py").write_text(script)
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    err_path = tmp_path / "stderr.txt"
    with err_path.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(tmp_path / "main.py")],
            stdout=subprocess.PIPE, stderr=err, env=env, text=True,
        )  # fmt: skip
    try:
        child = int(proc.stdout.readline())
        assert psutil.Process(child).is_running()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:  # seen once in CI: keep what shows where it hung
            threads = psutil.Process(proc.pid).num_threads()
            proc.send_signal(signal.SIGUSR1)
            wait_for(lambda: "File" in err_path.read_text(), timeout_s=10)
            pytest.fail(
                f"still running 30 s after SIGTERM ({threads} threads); its stacks:\n"
                + err_path.read_text()
            )
        wait_for(lambda: _gone(child), timeout_s=20)
    finally:
        proc.kill()
        proc.wait(30)
        proc.stdout.close()


def test_forkserver_children_are_controlled_too() -> None:
    forkserver.ensure_running()  # the fork server itself lives as long as this process
    with ProcessGroup("forkserver") as group:
        pid = group.start("s", sleeper, (60.0,))
        time.sleep(0.5)  # long enough for a wrongly-armed parent watch to fire
        assert group.is_alive("s")
        group.pause("s")
        wait_for(lambda: psutil.Process(pid).status() == psutil.STATUS_STOPPED)
    wait_for(lambda: _gone(pid))
