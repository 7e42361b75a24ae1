"""Run recovery work below the priority of serving work.

A node that restarts decodes its snapshot (a 13 MB one takes ~0.3 s of CPU) before it can
take part again. On a 2-core machine that burst takes CPU from the nodes that are serving,
and clients see it as a gap. The work therefore runs in a thread of its own at a higher niceness: on
Linux a thread is a task with its own nice value, so the node's loop thread (which waits
for it anyway) keeps its own, and raising niceness needs no privilege.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: Niceness added to recovery threads (the snapshot children of bgsnap.py run at 10 too).
RECOVERY_NICENESS = 10


def run_niced(work: Callable[[], T], niceness: int = RECOVERY_NICENESS) -> T:
    """`work()` in a thread at `niceness` above this process's; its result or exception."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def body() -> None:
        with contextlib.suppress(OSError, AttributeError):  # no per-thread nice: run as is
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + niceness)
        try:
            outcome.append(work())
        except BaseException as exc:  # handed to the caller
            failure.append(exc)

    thread = threading.Thread(target=body, name="recovery", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]
