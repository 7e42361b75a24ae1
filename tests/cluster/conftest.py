"""Helpers for the CLI tests: run `python -m sentinel.cluster` commands, run `up` in a
pseudo-terminal and read its frames, and make sure no process outlives a test.

Every wait is a condition polled until a generous deadline (the machine is shared); every
process a test starts, directly or through the supervisor, is recorded with psutil and killed
at teardown if it is still there, so a failing test leaves nothing behind either.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

CLI = [sys.executable, "-m", "sentinel.cluster"]
COMMAND_TIMEOUT_S = 90.0
DEADLINE_S = 60.0
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]")
OUTPUT_BYTES_MAX = 512 * 1024  # the newest few frames; older output is dropped


def env() -> dict[str, str]:
    # no Redis port unless a test asks for one: tests run side by side, 7379 is one port
    out = dict(os.environ, TERM="xterm-256color", PYTHONUNBUFFERED="1", SENTINEL_REDIS_PORT="0")
    out.pop("COLUMNS", None)
    out.pop("LINES", None)
    return out


def wait_for(
    check: Callable[[], Any], what: str, timeout_s: float = DEADLINE_S, every_s: float = 0.25
) -> Any:
    """Poll `check` until it returns something truthy; that value. Fails after the deadline."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every_s)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what} (last: {last!r})")


class Procs:
    """Every process a test started, found through psutil; killed at teardown if alive."""

    def __init__(self) -> None:
        self.known: dict[int, psutil.Process] = {}

    def track(self, pid: int) -> None:
        """Record `pid` and its descendants now (they are reparented if it dies)."""
        try:
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                self.known.setdefault(proc.pid, proc)
        except psutil.NoSuchProcess:
            pass

    def alive(self) -> list[psutil.Process]:
        out = []
        for proc in self.known.values():
            try:
                if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                    out.append(proc)
            except psutil.NoSuchProcess:
                pass
        return out

    def kill_all(self) -> None:
        for proc in self.alive():
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()


class Cli:
    """Runs commands against one cluster directory."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory

    def run(
        self, *args: str, timeout_s: float = COMMAND_TIMEOUT_S, stdin: str = ""
    ) -> subprocess.CompletedProcess:
        """One command, with `stdin` (empty unless given) on its standard input."""
        return subprocess.run(
            [*CLI, *args, "--dir", str(self.dir)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=env(),
            input=stdin,
        )

    def ok(self, *args: str, stdin: str = "") -> str:
        result = self.run(*args, stdin=stdin)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result.stdout

    def status(self) -> dict[str, Any] | None:
        """`status --json`, or None while the cluster does not answer."""
        result = self.run("status", "--json")
        if result.returncode != 0:
            return None
        return json.loads(result.stdout)

    def stable_leader(self, n: int, exclude: int | None = None) -> dict[str, Any]:
        """Wait for a status where all `n` nodes run and report, and exactly one (not `exclude`)
        leads."""

        def check() -> dict[str, Any] | None:
            st = self.status()
            if st is None or st["leader"] in (None, exclude):
                return None
            running = [x for x in st["nodes"] if x["state"] == "running"]
            leaders = [x for x in running if x["role"] == "leader" and x["term"] == st["term"]]
            if len(running) != n or len(leaders) != 1 or leaders[0]["id"] != st["leader"]:
                return None
            if any(x["commit"] is None for x in running):
                return None  # a node has not posted its first status yet (a fast election)
            return st

        return wait_for(check, f"one leader among {n} running nodes")


class PtyCluster:
    """`up` running in a pseudo-terminal; its output is drained on a thread."""

    def __init__(self, directory: Path, args: list[str], procs: Procs, rows=50, cols=160) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(
            [*CLI, "up", "--dir", str(directory), *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env(),
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self.master = master
        self.procs = procs
        self.raw = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError as e:  # EIO: the other side closed
                assert e.errno in (errno.EIO, errno.EBADF), e
                return
            if not chunk:
                return
            with self._lock:
                self.raw += chunk
                del self.raw[: max(0, len(self.raw) - OUTPUT_BYTES_MAX)]

    def text(self) -> str:
        with self._lock:
            return ANSI.sub("", self.raw.decode(errors="replace"))

    def last_leader(self) -> tuple[int, int] | None:
        """(node, term) from the newest dashboard header, if any."""
        found = re.findall(r"leader ★ node (\d+)\s+term (\d+)", self.text())
        return (int(found[-1][0]), int(found[-1][1])) if found else None

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def track(self) -> None:
        self.procs.track(self.proc.pid)

    def wait_exit(self, timeout_s: float = DEADLINE_S) -> int:
        return self.proc.wait(timeout_s)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        self._reader.join(5)
        os.close(self.master)


@pytest.fixture
def procs() -> Iterator[Procs]:
    tracker = Procs()
    yield tracker
    tracker.kill_all()


@pytest.fixture
def cluster_dir(tmp_path: Path) -> Path:
    return tmp_path / "c"


@pytest.fixture
def cli(cluster_dir: Path) -> Cli:
    return Cli(cluster_dir)


@pytest.fixture
def start_pty(cluster_dir: Path, procs: Procs) -> Iterator[Callable[..., PtyCluster]]:
    started: list[PtyCluster] = []

    def start(*args: str) -> PtyCluster:
        cluster = PtyCluster(cluster_dir, list(args), procs)
        started.append(cluster)
        return cluster

    yield start
    for cluster in started:
        cluster.close()


@pytest.fixture
def start_plain(cluster_dir: Path, procs: Procs) -> Iterator[Callable[..., subprocess.Popen]]:
    """`up --no-dashboard` with its output in a file (read it with `.out.read_text()`)."""
    started: list[subprocess.Popen] = []

    def start(*args: str) -> subprocess.Popen:
        cluster_dir.parent.mkdir(parents=True, exist_ok=True)
        out_path = cluster_dir.parent / f"up-{len(started)}.out"
        with out_path.open("wb") as out:
            proc = subprocess.Popen(
                [*CLI, "up", "--dir", str(cluster_dir), "--no-dashboard", *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env(),
                start_new_session=True,
            )
        proc.out = out_path  # type: ignore[attr-defined]
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)


def no_process_left(procs: Procs, timeout_s: float = 30.0) -> None:
    """Every recorded process ends (children notice a dead supervisor within ~1 s)."""
    wait_for(lambda: not procs.alive(), "every cluster process to exit", timeout_s)


@pytest.fixture
def helpers() -> Any:
    class H:
        wait_for = staticmethod(wait_for)
        no_process_left = staticmethod(no_process_left)

    return H
