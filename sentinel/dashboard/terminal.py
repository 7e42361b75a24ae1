"""Terminal plumbing for the live loop: key sources and a signal guard.

`StdinKeys` puts a terminal in cbreak mode (keys arrive one by one, unechoed, and Ctrl-C still
sends SIGINT) and restores the saved attributes when the `with` block exits, however it exits.
`SignalGuard` turns SIGINT/SIGTERM/SIGHUP into a flag the loop polls, so the loop unwinds through
every `finally` (terminal restored, alternate screen left) before the signal is re-delivered to
whatever handler was there before; a second identical signal interrupts at once.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import sys
import termios
import threading
import tty
from collections import deque
from types import FrameType, TracebackType
from typing import Protocol

log = logging.getLogger(__name__)

READ_BYTES_MAX = 64  # one read; a human types far fewer keys between two frames
PENDING_KEYS_MAX = 256  # keys decoded but not yet consumed; beyond this, input is dropped
GUARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
ESCAPE = "\x1b"


class KeySource(Protocol):
    """Where the live loop gets key presses from (injectable for tests)."""

    def read_key(self, timeout_s: float) -> str | None:
        """The next key, waiting at most `timeout_s`; None if none came."""
        ...


class NoKeys:
    """A key source that never yields a key (stdin is not a terminal)."""

    def __init__(self) -> None:
        self._never = threading.Event()

    def read_key(self, timeout_s: float) -> str | None:
        """Wait `timeout_s`, then report no key."""
        self._never.wait(max(0.0, timeout_s))
        return None


def split_keys(text: str) -> list[str]:
    """Split typed text into keys; an escape sequence (arrow, F-key) becomes one ESCAPE key."""
    keys: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        i += 1
        if char == ESCAPE and i < len(text) and text[i] in "[O":
            # CSI / SS3: parameters and intermediates, then one final byte in @..~
            i += 1
            while i < len(text) and not ("@" <= text[i] <= "~" and text[i] != "["):
                i += 1
            i += 1
        keys.append(char)
    return keys


class StdinKeys:
    """Keys from a terminal file descriptor in cbreak mode; use as a context manager."""

    def __init__(self, fd: int | None = None) -> None:
        self.fd = sys.stdin.fileno() if fd is None else fd
        self._saved: list | None = None
        self._pending: deque[str] = deque()
        self._eof = False
        self._idle = threading.Event()  # never set: a wait with a timeout once stdin is closed

    def __enter__(self) -> StdinKeys:
        self._saved = termios.tcgetattr(self.fd)
        try:
            tty.setcbreak(self.fd, termios.TCSANOW)
        except BaseException:
            self.restore()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.restore()

    def restore(self) -> None:
        """Put back the terminal attributes saved on entry (idempotent)."""
        saved, self._saved = self._saved, None
        if saved is None:
            return
        try:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, saved)
        except termios.error:  # the terminal is gone (hung up): nothing left to restore
            log.debug("terminal fd %d gone before its attributes were restored", self.fd)

    def read_key(self, timeout_s: float) -> str | None:
        """The next key, waiting at most `timeout_s`."""
        if self._pending:
            return self._pending.popleft()
        if self._eof:
            self._idle.wait(max(0.0, timeout_s))
            return None
        ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout_s))
        if not ready:
            return None
        try:
            data = os.read(self.fd, READ_BYTES_MAX)
        except OSError:  # EIO: the terminal went away (a pty whose master closed)
            data = b""
        if not data:
            self._eof = True
            return None
        for key in split_keys(data.decode("utf-8", errors="replace")):
            if len(self._pending) < PENDING_KEYS_MAX:
                self._pending.append(key)
        return self._pending.popleft() if self._pending else None


class SignalInterrupt(BaseException):
    """Raised by SignalGuard on a repeated signal, when the loop did not stop in time."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


class SignalGuard:
    """Record SIGINT/SIGTERM/SIGHUP while the dashboard owns the terminal; re-deliver after.

    Installs handlers only in the main thread and only for signals that are not ignored.
    `redeliver()` (after the handlers are restored) raises the recorded signal again so the
    program's own handling (or the default action) happens with the terminal already sane.
    """

    def __init__(self, signals: tuple[int, ...] = GUARDED_SIGNALS) -> None:
        self._signals = signals
        self._previous: dict[int, object] = {}
        self.signum: int | None = None

    def __enter__(self) -> SignalGuard:
        if threading.current_thread() is not threading.main_thread():
            return self
        for signum in self._signals:
            previous = signal.getsignal(signum)
            if previous is signal.SIG_IGN or previous is None:
                continue
            self._previous[signum] = previous
            signal.signal(signum, self._handle)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        previous, self._previous = self._previous, {}
        for signum, handler in previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum == signum:
            raise SignalInterrupt(signum)
        self.signum = signum

    def redeliver(self) -> None:
        """Raise the recorded signal again, now that the previous handlers are back."""
        if self.signum is not None:
            signum, self.signum = self.signum, None
            signal.raise_signal(signum)
