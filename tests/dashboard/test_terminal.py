"""Terminal handling on real pseudo-terminals: cbreak in, attributes back on every exit path."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import termios
import textwrap
import threading
import time
from collections.abc import Iterator

import pytest

from sentinel.dashboard import StdinKeys, run_live
from sentinel.dashboard.terminal import ESCAPE, NoKeys, SignalGuard, split_keys

DEADLINE_S = 30.0  # a child python importing rich on a busy 2-core machine


@pytest.fixture
def terminal() -> Iterator[tuple[int, int]]:
    """A fresh pseudo-terminal: (master fd, slave fd)."""
    master, slave = pty.openpty()
    try:
        yield master, slave
    finally:
        os.close(master)
        os.close(slave)


def canonical(fd: int) -> bool:
    """True if the terminal is in its normal (line-buffered, echoing) mode."""
    lflag = termios.tcgetattr(fd)[3]
    return bool(lflag & termios.ICANON) and bool(lflag & termios.ECHO)


def test_split_keys() -> None:
    assert split_keys("k3") == ["k", "3"]
    assert split_keys("\x1b[A\x1b[15~x") == [ESCAPE, ESCAPE, "x"]  # arrow, F5, then x
    assert split_keys("\x1bOPq") == [ESCAPE, "q"]  # SS3 F1
    assert split_keys("\x1b") == [ESCAPE]
    assert split_keys("\x1bk") == [ESCAPE, "k"]  # alt-k: escape, then k
    assert split_keys("é€") == ["é", "€"]


def test_stdin_keys_cbreak_and_restore(terminal) -> None:
    master, slave = terminal
    before = termios.tcgetattr(slave)
    assert canonical(slave)
    with StdinKeys(fd=slave) as keys:
        assert not canonical(slave)
        assert termios.tcgetattr(slave)[3] & termios.ISIG  # Ctrl-C still signals
        assert keys.read_key(0.0) is None
        os.write(master, b"k3\x1b[Aq")
        got = [keys.read_key(DEADLINE_S) for _ in range(4)]
        assert got == ["k", "3", ESCAPE, "q"]
    assert termios.tcgetattr(slave) == before


def test_stdin_keys_restore_on_exception(terminal) -> None:
    _, slave = terminal
    before = termios.tcgetattr(slave)
    with pytest.raises(RuntimeError, match="boom"), StdinKeys(fd=slave):
        assert not canonical(slave)
        raise RuntimeError("boom")
    assert termios.tcgetattr(slave) == before


def test_stdin_keys_closed_terminal_reads_nothing(terminal) -> None:
    master, slave = terminal
    with StdinKeys(fd=slave) as keys:
        os.write(master, b"x")
        assert keys.read_key(DEADLINE_S) == "x"
    other_master, other_slave = pty.openpty()
    with StdinKeys(fd=other_slave) as keys:
        os.close(other_master)  # the terminal goes away: reads end, no busy loop, no error
        assert keys.read_key(0.01) is None
        assert keys.read_key(0.01) is None
    os.close(other_slave)


def test_run_live_restores_terminal_when_view_source_raises(terminal, monkeypatch) -> None:
    _, slave = terminal
    before = termios.tcgetattr(slave)
    tty_in = os.fdopen(os.dup(slave), "r")
    monkeypatch.setattr(sys, "stdin", tty_in)
    seen_cbreak: list[bool] = []

    def get_view():
        seen_cbreak.append(not canonical(slave))
        raise KeyboardInterrupt  # not an Exception: goes straight through the loop

    out = open(os.devnull, "w")  # noqa: SIM115 - closed below
    try:
        from rich.console import Console

        console = Console(file=out, force_terminal=True, width=80, height=30)
        with pytest.raises(KeyboardInterrupt):
            run_live(get_view, lambda a: None, stop=threading.Event(), console=console)
    finally:
        out.close()
        tty_in.close()
    assert seen_cbreak == [True]
    assert termios.tcgetattr(slave) == before


def test_signal_guard_records_then_redelivers() -> None:
    got: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: got.append(signum))
    try:
        with SignalGuard(signals=(signal.SIGUSR1,)) as guard:
            signal.raise_signal(signal.SIGUSR1)
            assert guard.signum == signal.SIGUSR1 and got == []
        guard.redeliver()
        assert got == [signal.SIGUSR1] and guard.signum is None
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_no_keys_waits_and_returns_nothing() -> None:
    assert NoKeys().read_key(0.0) is None


CHILD = textwrap.dedent(
    """
    import os, sys, threading
    from rich.console import Console
    from sentinel.dashboard import run_live
    from sentinel.dashboard.demo import sample_view

    ready = threading.Event()

    def get_view():
        if not ready.is_set():
            ready.set()
            sys.stderr.write("READY\\n")
            sys.stderr.flush()
        return sample_view()

    console = Console(file=open(os.devnull, "w"), force_terminal=True, width=100, height=40)
    reason = run_live(get_view, lambda action: None, stop=threading.Event(), console=console)
    sys.stderr.write(f"RESULT {reason}\\n")
    """
)


def read_line(fd: int, deadline: float) -> str:
    data = b""
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"child said nothing in time (so far {data!r})"
        chunk = os.read(fd, 1)
        assert chunk, f"child closed stderr (so far {data!r})"
        data += chunk
    return data.decode()


@pytest.mark.parametrize(
    ("how", "returncode"),
    [
        ("q", 0),
        (signal.SIGTERM, -signal.SIGTERM),
        (signal.SIGHUP, -signal.SIGHUP),
        (signal.SIGINT, -signal.SIGINT),
    ],
)
def test_child_restores_terminal_on_quit_and_signals(terminal, how, returncode) -> None:
    master, slave = terminal
    assert canonical(slave)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        stdin=slave,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert child.stderr is not None
        deadline = time.monotonic() + DEADLINE_S
        assert read_line(child.stderr.fileno(), deadline) == "READY\n"
        assert not canonical(slave)  # the child put the shared terminal in cbreak mode
        if how == "q":
            os.write(master, b"q")
            assert read_line(child.stderr.fileno(), deadline) == "RESULT quit\n"
        else:
            child.send_signal(how)
        assert child.wait(timeout=DEADLINE_S) == returncode
        assert canonical(slave)  # and put it back before the signal took effect
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=DEADLINE_S)
        if child.stderr is not None:
            child.stderr.close()
