"""Run work on the main thread on behalf of other threads.

Processes must be started from the main thread: the kernel's parent-death signal
(PR_SET_PDEATHSIG, which netsim's ProcessGroup asks for) is tied to the thread that forked, so
a node spawned from a short-lived control thread would lose that guarantee. The control socket's
threads therefore queue their actions here; the main thread runs them between dashboard frames.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
JOBS_MAX = 64


class JobTimeout(RuntimeError):
    """The main thread did not take the job in time."""


class JobsFull(JobTimeout):
    """Too many jobs wait already: this one was not queued (it may be asked again)."""


class MainThreadJobs:
    """A bounded queue of callables that the main thread runs in `run_pending`."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[Callable[[], Any], concurrent.futures.Future]] = queue.Queue(
            JOBS_MAX
        )

    def call(self, fn: Callable[[], T], timeout_s: float) -> T:
        """Run `fn` on the main thread and return its result (or raise its exception)."""
        if threading.current_thread() is threading.main_thread():
            return fn()
        future: concurrent.futures.Future = concurrent.futures.Future()
        try:
            self._queue.put_nowait((fn, future))
        except queue.Full:
            raise JobsFull("too many requests waiting; try again") from None
        try:
            return future.result(timeout_s)
        except concurrent.futures.TimeoutError:
            if future.cancel():
                raise JobTimeout(f"the supervisor did not get to it within {timeout_s} s") from None
            return future.result()  # it started just now: wait for it

    def run_pending(self) -> int:
        """Run every queued job (main thread only); how many ran."""
        assert threading.current_thread() is threading.main_thread()
        ran = 0
        for _ in range(JOBS_MAX):
            try:
                fn, future = self._queue.get_nowait()
            except queue.Empty:
                break
            if not future.set_running_or_notify_cancel():
                continue
            ran += 1
            try:
                future.set_result(fn())
            except BaseException as e:  # the caller re-raises it in its own thread
                future.set_exception(e)
                if not isinstance(e, Exception):
                    raise
        return ran
