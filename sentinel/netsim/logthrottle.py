"""Rate-limited logging of one kind of repeated event (a bad frame, a refused message).

A peer that floods a process with garbage must not flood its log too, nor spend its loop
formatting lines: `LogThrottle.event` logs the first event of a burst in full, then only
counts, and writes one summary line at most every `interval_s` ("N more <what> in the last
1.0 s; the latest: ..."). `flush` writes the count still pending once the interval is over
(call it now and then, e.g. on every tick, so the last count of a burst is not held until
the next event). After a quiet interval the next event is logged in full again.

An event costs a clock read and a few attribute updates; its message is formatted only when
a line is written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

__all__ = ["LogThrottle"]


class LogThrottle:
    """Logs the first of a burst of events in full, then a count at most every `interval_s`."""

    __slots__ = (
        "clock", "interval_s", "latest", "level", "logger", "next_line_at", "since",
        "suppressed", "what",
    )  # fmt: skip

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        interval_s: float = 1.0,
        level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.what = what  # plural, as in "12 more bad frames"
        self.interval_s = interval_s
        self.level = level
        self.clock = clock
        self.next_line_at = -float("inf")  # no line before this instant
        self.since = 0.0  # when the last line was written
        self.suppressed = 0  # events counted, not logged, since the last line
        self.latest: tuple[str, tuple[Any, ...]] = ("", ())

    def event(self, msg: str, *args: Any, count: int = 1) -> None:
        """One event (or `count` alike), described as `logger.log(level, msg, *args)` would."""
        now = self.clock()
        if not self.suppressed and now >= self.next_line_at:  # a new burst: say it in full
            self.logger.log(self.level, msg, *args)
            self.since, self.next_line_at = now, now + self.interval_s
            count -= 1
            if not count:
                return
        self.suppressed += count
        self.latest = (msg, args)
        if now >= self.next_line_at:
            self._summarise(now)

    def flush(self) -> None:
        """Write the pending count if the interval since the last line is over."""
        if self.suppressed:
            now = self.clock()
            if now >= self.next_line_at:
                self._summarise(now)

    def _summarise(self, now: float) -> None:
        msg, args = self.latest
        self.logger.log(
            self.level,
            "%d more %s in the last %.1f s; the latest: " + msg,
            self.suppressed, self.what, now - self.since, *args,
        )  # fmt: skip
        self.suppressed = 0
        self.since, self.next_line_at = now, now + self.interval_s
