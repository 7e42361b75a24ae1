"""The dashboard loops: a live rich frame on a terminal, plain lines otherwise.

Both take the view from a callable (the supervisor's latest snapshot) and return a reason when
`stop` is set, `q` is pressed, the output is closed or a signal arrives. Neither ever lets a
failing callback kill the loop: the error is logged and shown, and the loop keeps serving.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from rich.console import Console, RenderableType
from rich.live import Live
from rich.text import Text

from sentinel.dashboard.keys import Action, ActionName, KeyParser
from sentinel.dashboard.records import ClusterView
from sentinel.dashboard.render import plain_event_line, plain_status_line, render
from sentinel.dashboard.terminal import (
    KeySource,
    NoKeys,
    SignalGuard,
    SignalInterrupt,
    StdinKeys,
)

log = logging.getLogger(__name__)

GetView = Callable[[], ClusterView]
OnAction = Callable[[Action], "str | None"]

REFRESH_PER_S_MIN = 1
REFRESH_PER_S_MAX = 30
KEYS_PER_FRAME_MAX = 64  # keys handled between two redraws; a paste cannot starve the frame

STOP, QUIT, SIGNAL, CLOSED = "stop", "quit", "signal", "closed"


def run_live(
    get_view: GetView,
    on_action: OnAction,
    *,
    stop: threading.Event,
    refresh_per_s: float = 4,
    console: Console | None = None,
    keys: KeySource | None = None,
    screen: bool = True,
    guard_signals: bool = True,
) -> str:
    """Show the live dashboard until `stop` is set or `q` is pressed; returns why it ended.

    `keys=None` reads stdin in cbreak mode (restored on every exit path); pass any KeySource to
    drive the loop without a terminal. With `guard_signals`, SIGINT/SIGTERM/SIGHUP end the loop
    cleanly and are then re-delivered to the handlers that were installed before.
    """
    assert REFRESH_PER_S_MIN <= refresh_per_s <= REFRESH_PER_S_MAX, refresh_per_s
    console = console if console is not None else Console()
    guard = SignalGuard() if guard_signals else SignalGuard(signals=())
    try:
        with guard, contextlib.ExitStack() as stack:
            if keys is None:
                keys = stack.enter_context(StdinKeys()) if sys.stdin.isatty() else NoKeys()
            live = Live(
                console=console,
                auto_refresh=False,  # we redraw ourselves: no refresh thread racing the loop
                screen=screen,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            stack.enter_context(live)
            loop = _LiveLoop(get_view, on_action, keys, live, console, 1.0 / refresh_per_s)
            reason = loop.run(stop, guard)
    except SignalInterrupt as e:  # a repeated signal: the loop was stuck, we unwound anyway
        guard.signum, reason = e.signum, SIGNAL
    if reason == SIGNAL:
        guard.redeliver()
    return reason


class _LiveLoop:
    """The state of one live session: last good view, key parser, footer notice."""

    def __init__(
        self,
        get_view: GetView,
        on_action: OnAction,
        keys: KeySource,
        live: Live,
        console: Console,
        frame_s: float,
    ) -> None:
        self.get_view, self.on_action, self.keys = get_view, on_action, keys
        self.live, self.console, self.frame_s = live, console, frame_s
        self.parser = KeyParser(())
        self.view: ClusterView | None = None
        self.notice: str | None = None  # the last action's outcome or key error
        self.view_error: str | None = None  # shown instead while the view source fails

    def run(self, stop: threading.Event, guard: SignalGuard) -> str:
        next_frame_at = time.monotonic()
        while True:
            if stop.is_set():
                return STOP
            if guard.signum is not None:
                return SIGNAL
            if time.monotonic() >= next_frame_at:
                self.redraw()
                next_frame_at = time.monotonic() + self.frame_s
            timeout_s = min(self.frame_s, max(0.0, next_frame_at - time.monotonic()))
            key = self.keys.read_key(timeout_s)
            for _ in range(KEYS_PER_FRAME_MAX):
                if key is None:
                    break
                if self.handle_key(key) == QUIT:
                    return QUIT
                next_frame_at = time.monotonic()  # echo the key in the next frame, now
                key = self.keys.read_key(0.0)

    def redraw(self) -> None:
        try:
            self.view = self.get_view()
            self.parser.node_ids = self.view.node_ids
            self.view_error = None
        except Exception as e:  # keep showing the last good view
            if self.view_error is None:  # log once per outage, not once per frame
                log.exception("dashboard: reading the cluster view failed")
            self.view_error = f"status unavailable: {e}"
        self.live.update(self.frame(), refresh=True)

    def frame(self) -> RenderableType:
        notice = self.view_error or self.notice
        if self.view is None:
            return Text(notice or "waiting for cluster status...", style="dim")
        width, height = self.console.size
        return render(
            self.view, width=width, height=height, notice=notice, prompt=self.parser.prompt
        )

    def handle_key(self, key: str) -> str | None:
        result = self.parser.feed(key)
        if result.message is not None:
            self.notice = result.message
        if result.action is None:
            return None
        if result.action.name == ActionName.QUIT:
            return QUIT
        self.notice = perform(self.on_action, result.action)
        return None


def perform(on_action: OnAction, action: Action) -> str:
    """Call the supervisor for `action`; its message, or why it failed, for the footer."""
    try:
        message = on_action(action)
    except Exception as e:
        log.exception("dashboard: action %s failed", action.describe())
        return f"{action.describe()} failed: {e}"
    return message if message is not None else f"{action.describe()}: requested"


def run_plain(
    get_view: GetView,
    *,
    stop: threading.Event,
    out: TextIO | None = None,
    status_interval_s: float = 1.0,
    poll_interval_s: float = 0.25,
    keys: KeySource | None = None,
    on_action: OnAction | None = None,
    guard: SignalGuard | None = None,
) -> str:
    """Print one status line per `status_interval_s` and each new event as its own line.

    Events are told apart by `seq` (as numbered by an EventLog), so each prints once. With a
    key source and `on_action`, keys work as in the live dashboard and results print as lines.
    Returns when `stop` is set, `q` is pressed, the output is closed (a broken pipe) or `guard`
    has recorded a signal.
    """
    assert 0 < poll_interval_s <= status_interval_s, (poll_interval_s, status_interval_s)
    out = out if out is not None else sys.stdout
    printer = _PlainPrinter(out)
    parser = KeyParser(())
    next_status_at = time.monotonic()
    try:
        while not stop.is_set():
            if guard is not None and guard.signum is not None:
                return SIGNAL
            view = printer.poll(get_view)
            if view is not None:
                parser.node_ids = view.node_ids
                if time.monotonic() >= next_status_at:
                    printer.line(plain_status_line(view))
                    next_status_at = max(next_status_at + status_interval_s, time.monotonic())
            out.flush()
            timeout_s = min(poll_interval_s, max(0.0, next_status_at - time.monotonic()))
            if keys is None:
                stop.wait(timeout_s)
                continue
            key = keys.read_key(timeout_s)
            if key is not None and _plain_key(parser, key, on_action, printer) == QUIT:
                return QUIT
    except BrokenPipeError:
        return CLOSED
    return STOP


class _PlainPrinter:
    """Lines to a stream; remembers the newest event printed."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.seq_printed = 0
        self.failing = False

    def line(self, text: str) -> None:
        self.out.write(text + "\n")

    def poll(self, get_view: GetView) -> ClusterView | None:
        try:
            view = get_view()
        except Exception as e:
            if not self.failing:  # one line per outage, not one per poll
                log.exception("dashboard: reading the cluster view failed")
                self.line(f"status unavailable: {e}")
            self.failing = True
            return None
        self.failing = False
        for event in view.events:
            if event.seq > self.seq_printed:
                self.line(plain_event_line(event))
                self.seq_printed = event.seq
        return view


def _plain_key(
    parser: KeyParser, key: str, on_action: OnAction | None, printer: _PlainPrinter
) -> str | None:
    result = parser.feed(key)
    if result.message is not None:
        printer.line(result.message)
    if result.action is None:
        return None
    if result.action.name == ActionName.QUIT:
        return QUIT
    if on_action is None:
        printer.line(f"{result.action.describe()}: no actions in this mode")
    else:
        printer.line(perform(on_action, result.action))
    return None


def run_dashboard(
    get_view: GetView,
    on_action: OnAction,
    *,
    stop: threading.Event,
    plain: bool | None = None,
    refresh_per_s: float = 4,
) -> str:
    """The supervisor's entry point: live on a terminal, plain lines when piped or `plain`."""
    if plain is None:
        plain = not sys.stdout.isatty()
    if not plain:
        return run_live(get_view, on_action, stop=stop, refresh_per_s=refresh_per_s)
    if not sys.stdin.isatty():
        return run_plain(get_view, stop=stop)
    with SignalGuard() as guard, StdinKeys() as keys:
        reason = run_plain(get_view, stop=stop, keys=keys, on_action=on_action, guard=guard)
    guard.redeliver()
    return reason
