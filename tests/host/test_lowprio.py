"""run_niced: the work runs in a thread at a higher niceness, the caller's stays as it was,
and results and exceptions come back to the caller."""

from __future__ import annotations

import os
import threading

import pytest

from sentinel.host.lowprio import run_niced


def _my_nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_the_work_runs_niced_and_the_caller_keeps_its_priority() -> None:
    before = _my_nice()
    seen = run_niced(_my_nice, niceness=3)
    assert seen == min(19, before + 3)
    assert _my_nice() == before


def test_an_exception_reaches_the_caller() -> None:
    def broken() -> None:
        raise ValueError("corrupt")

    with pytest.raises(ValueError, match="corrupt"):
        run_niced(broken)
