"""run_live and run_plain driven by scripted key sources and fake view sources."""

from __future__ import annotations

import dataclasses
import io
import signal
import threading
import time
from collections.abc import Callable, Iterable

import pytest
from rich.console import Console

from sentinel.dashboard import Action, ActionName, ClusterView, EventLog, run_live, run_plain
from sentinel.dashboard.demo import sample_view

DEADLINE_S = 20.0  # generous: a 2-core machine shared with node processes and other tests


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = DEADLINE_S) -> None:
    """Wait until `condition()` holds, or fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        pause.wait(0.005)


class ScriptedKeys:
    """A KeySource that hands out a script (None = no key this time), then `q` or nothing."""

    def __init__(self, script: Iterable[str | None], *, then_quit: bool = True) -> None:
        self.script = list(script)
        self.then_quit = then_quit
        self.reads = 0
        self._idle = threading.Event()

    def read_key(self, timeout_s: float) -> str | None:
        self.reads += 1
        if self.script:
            key = self.script.pop(0)
            if key is None:  # like a terminal where nobody types: the whole timeout passes
                self._idle.wait(timeout_s)
            return key
        if self.then_quit:
            return "q"
        self._idle.wait(timeout_s)
        return None


class Recorder:
    """An on_action that records actions and fails the random partition on purpose."""

    def __init__(self) -> None:
        self.actions: list[Action] = []

    def __call__(self, action: Action) -> str | None:
        self.actions.append(action)
        if action.name == ActionName.PARTITION_RANDOM:
            raise RuntimeError("no quorum to split")
        if action.name == ActionName.HEAL:
            return None
        return f"done: {action.describe()}"


def terminal_console(width: int = 100, height: int = 40) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=width, height=height, color_system=None)
    return console, out


def test_live_keys_become_actions_and_messages() -> None:
    console, out = terminal_console()
    recorder = Recorder()
    keys = ScriptedKeys(
        [None, "k", None, "3", None, "z", None, "i", None, "x", None, "h", None, "k", "9", None]
    )
    previous = signal.getsignal(signal.SIGTERM)
    reason = run_live(
        sample_view,
        recorder,
        stop=threading.Event(),
        console=console,
        keys=keys,
        refresh_per_s=30,
        screen=False,
    )
    assert reason == "quit"
    assert recorder.actions == [
        Action(ActionName.KILL, 3),
        Action(ActionName.ISOLATE_LEADER),
        Action(ActionName.PARTITION_RANDOM),
        Action(ActionName.HEAL),
    ]
    text = out.getvalue()
    assert "> kill node _ (nodes 1-5)" in text
    assert "done: kill node 3" in text
    assert "unknown key z" in text
    assert "done: isolate-leader" in text
    assert "partition-random failed: no quorum to split" in text
    assert "heal: requested" in text
    assert "no node 9 (nodes 1-5)" in text
    assert "node 2 is leader in term 7" in text and "LEADER" in text
    assert signal.getsignal(signal.SIGTERM) is previous  # handlers put back


def test_live_returns_when_stop_is_set() -> None:
    console, _ = terminal_console()
    stop = threading.Event()
    calls = 0

    def get_view() -> ClusterView:
        nonlocal calls
        calls += 1
        if calls == 3:
            stop.set()
        return sample_view()

    keys = ScriptedKeys([], then_quit=False)
    reason = run_live(
        get_view, Recorder(), stop=stop, console=console, keys=keys, refresh_per_s=30, screen=False
    )
    assert reason == "stop" and calls == 3


def test_live_stops_from_another_thread() -> None:
    console, _ = terminal_console()
    stop = threading.Event()
    calls = threading.Semaphore(0)

    def get_view() -> ClusterView:
        calls.release()
        return sample_view()

    result: list[str] = []
    thread = threading.Thread(
        target=lambda: result.append(
            run_live(
                get_view,
                Recorder(),
                stop=stop,
                console=console,
                keys=ScriptedKeys([], then_quit=False),
                screen=False,
            )
        )
    )
    thread.start()
    assert calls.acquire(timeout=DEADLINE_S)
    stop.set()
    thread.join(DEADLINE_S)
    assert not thread.is_alive() and result == ["stop"]


def test_live_survives_a_failing_view_source() -> None:
    console, out = terminal_console()
    calls = 0

    def get_view() -> ClusterView:
        nonlocal calls
        calls += 1
        if calls in (1, 3):
            raise ConnectionError("router gone")
        return sample_view()

    keys = ScriptedKeys([None, None, None, None])
    reason = run_live(get_view, Recorder(), stop=threading.Event(), console=console, keys=keys,
                      refresh_per_s=30, screen=False)  # fmt: skip
    assert reason == "quit" and calls >= 4
    text = out.getvalue()
    assert "status unavailable: router gone" in text
    assert "node 2 is leader in term 7" in text  # frames after the failure show the view


def test_live_rejects_silly_refresh_rate() -> None:
    with pytest.raises(AssertionError):
        run_live(sample_view, Recorder(), stop=threading.Event(), refresh_per_s=0)


class GrowingSource:
    """A view source the test thread can add events to while run_plain reads it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.log = EventLog(capacity=4)
        self.calls = 0

    def add(self, text: str) -> None:
        with self.lock:
            self.log.record(float(self.log.seq_last), "info", text)

    def __call__(self) -> ClusterView:
        with self.lock:
            self.calls += 1
            return dataclasses.replace(sample_view(), events=self.log.recent())


def test_plain_prints_status_lines_and_each_event_once() -> None:
    source = GrowingSource()
    out = io.StringIO()
    stop = threading.Event()
    result: list[str] = []
    thread = threading.Thread(
        target=lambda: result.append(
            run_plain(source, stop=stop, out=out, status_interval_s=0.05, poll_interval_s=0.01)
        )
    )
    thread.start()
    try:
        for i in range(10):  # more than the log keeps: older ones fall off, never re-print
            source.add(f"event-{i}")
            wait_for(lambda i=i: f"info: event-{i}\n" in out.getvalue(), f"event-{i}")
        wait_for(lambda: out.getvalue().count("up=3m25s") >= 2, "two status lines")
    finally:
        stop.set()
        thread.join(DEADLINE_S)
    assert not thread.is_alive() and result == ["stop"]
    lines = out.getvalue().splitlines()
    events = [line for line in lines if " info: " in line]
    assert events == [f"[00:00:{i:02d}] info: event-{i}" for i in range(10)]
    status = [line for line in lines if line.startswith("up=")]
    assert status and all(" leader=2 term=7 " in line for line in status)
    assert set(lines) == set(events) | set(status)


def test_plain_keys_and_quit() -> None:
    out = io.StringIO()
    recorder = Recorder()
    keys = ScriptedKeys(["k", "2", "x", "w"])
    reason = run_plain(sample_view, stop=threading.Event(), out=out, keys=keys, on_action=recorder)
    assert reason == "quit"
    assert recorder.actions == [Action(ActionName.KILL, 2), Action(ActionName.PARTITION_RANDOM)]
    text = out.getvalue()
    assert "done: kill node 2\n" in text
    assert "partition-random failed: no quorum to split\n" in text
    assert "unknown key w" in text


def test_plain_without_action_handler_says_so() -> None:
    out = io.StringIO()
    reason = run_plain(sample_view, stop=threading.Event(), out=out, keys=ScriptedKeys(["h"]))
    assert reason == "quit" and "heal: no actions in this mode" in out.getvalue()


def test_plain_reports_a_failing_source_once_per_outage() -> None:
    out = io.StringIO()
    stop = threading.Event()
    calls = 0

    def get_view() -> ClusterView:
        nonlocal calls
        calls += 1
        if calls >= 8:
            stop.set()
        if calls in (2, 3, 4, 6):
            raise ConnectionError("router gone")
        return sample_view()

    run_plain(get_view, stop=stop, out=out, status_interval_s=0.01, poll_interval_s=0.01)
    assert out.getvalue().count("status unavailable: router gone") == 2  # outages 2-4 and 6


def test_plain_returns_on_broken_pipe() -> None:
    class Closed(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    assert run_plain(sample_view, stop=threading.Event(), out=Closed()) == "closed"
