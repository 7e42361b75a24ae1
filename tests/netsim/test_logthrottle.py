"""LogThrottle: the first of a burst in full, then one count per interval; a bad-frame flood
at an endpoint writes a line or two, not one per frame."""

from __future__ import annotations

import logging
import multiprocessing.connection

from sentinel.netsim import protocol as p
from sentinel.netsim.endpoint import Endpoint
from sentinel.netsim.logthrottle import LogThrottle


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _logger(name: str) -> tuple[logging.Logger, Lines]:
    logger = logging.getLogger(f"test_logthrottle.{name}")
    lines = Lines()
    logger.handlers[:] = [lines]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, lines


def test_first_in_full_then_a_count_at_most_once_per_interval():
    now = [100.0]
    logger, out = _logger("counts")
    throttle = LogThrottle(logger, "bad frames", interval_s=1.0, clock=lambda: now[0])
    throttle.event("bad frame from %d: %s", 1000, "first")
    assert out.lines == ["bad frame from 1000: first"]
    for k in range(999):
        now[0] += 0.001
        throttle.event("bad frame from %d: %s", 1000, f"junk {k}")
    assert len(out.lines) == 1  # 0.999 s later: still counting
    throttle.flush()
    assert len(out.lines) == 1  # flush respects the interval too
    now[0] = 101.0
    throttle.event("bad frame from %d: %s", 1001, "last")
    assert out.lines[1] == (
        "1000 more bad frames in the last 1.0 s; the latest: bad frame from 1001: last"
    )
    now[0] = 101.5
    throttle.event("bad frame from %d: %s", 1000, "tail")  # counted
    throttle.flush()
    assert len(out.lines) == 2
    now[0] = 102.25
    throttle.flush()  # the burst ended: its last count is written by a flush
    assert (
        out.lines[2] == "1 more bad frames in the last 1.2 s; the latest: bad frame from 1000: tail"
    )
    throttle.flush()
    assert len(out.lines) == 3  # nothing pending: nothing written
    now[0] = 110.0
    throttle.event("bad frame from %d: %s", 1002, "new burst")  # after a quiet spell: in full
    assert out.lines[3] == "bad frame from 1002: new burst"


def test_an_endpoint_flooded_with_bad_frames_logs_a_line_or_two():
    ours, theirs = multiprocessing.connection.Pipe()
    try:
        endpoint = Endpoint(ours, 3)
        logger, out = _logger("endpoint")
        endpoint.bad_frame_log.logger = logger
        header = p.ROUTE.pack(1000, 3, 0, p.F_REQUEST)
        for _ in range(20_000):
            assert endpoint.parse(header + b"SN\x01junk") is None
        assert endpoint.parse(b"short") is None
        assert endpoint.bad_frames == 20_001
        assert 1 <= len(out.lines) <= 3, out.lines  # the loop takes well under 2 s
        assert out.lines[0].startswith("endpoint 3: bad frame from 1000 refused: ")
    finally:
        ours.close()
        theirs.close()


def test_a_batch_of_events_counts_as_that_many():
    now = [0.0]
    logger, out = _logger("batch")
    throttle = LogThrottle(logger, "messages shed", clock=lambda: now[0])
    throttle.event("shed %d", 1, count=5)  # the first in full, four counted
    throttle.event("shed %d", 2, count=10)
    now[0] = 1.0
    throttle.flush()
    assert out.lines == ["shed 1", "14 more messages shed in the last 1.0 s; the latest: shed 2"]
