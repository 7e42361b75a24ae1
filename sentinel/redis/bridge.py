"""The hop between the front door's event loop and the cluster client's reader thread, paid
once per burst instead of once per call.

The front door runs on an asyncio loop; the cluster client (`sentinel.kvraft.client`) runs
its calls' attempts on its router connection's reader thread. A `Bridge` collects the calls
the loop starts during one turn and starts them together (`start`): a lone call straight
from the loop thread (no hop: the lowest latency for one client), several inside one
`run_together` callback on the reader thread, where the client coalesces their attempts
into one request per server (batching.py): the reads of a burst share one ReadIndex round
and one frame, the writes of many connections one log entry. The answers come back the same
way: every call completed on the reader thread joins one inbox, and the loop is woken once
(`call_soon_threadsafe`) for all that arrived before it ran.

Each call's `on_done(future)` runs on the loop thread with the settled
`concurrent.futures.Future`; a call whose start raised (a full queue, a closed client)
gets a Future holding that exception, so its error reply is made in one place.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol

log = logging.getLogger(__name__)

Start = Callable[[], "Future[Any]"]
OnDone = Callable[["Future[Any]"], None]
#: The most calls started in one hop (the client's queue bounds what waits beyond).
CALLS_PER_HOP_MAX = 4096


class Together(Protocol):
    """What the bridge needs of the client: run a function where its calls coalesce."""

    def run_together(self, fn: Callable[[], None]) -> None: ...


class Bridge:
    """Starts a loop turn's calls together and brings their answers back in one wake-up."""

    def __init__(self, client: Together) -> None:
        self.client = client
        self._loop: asyncio.AbstractEventLoop | None = None
        self._outbox: list[tuple[Start, OnDone]] = []
        self._gatherers: list[Callable[[], None]] = []
        self._scheduled = False
        self._inbox: list[tuple[Future[Any], OnDone]] = []
        self._inbox_lock = threading.Lock()
        self.hops = 0  # run_together hops (tests, benchmarks)

    def call(self, start: Start, on_done: OnDone) -> None:
        """Start `start()` with this turn's other calls; `on_done(future)` on the loop."""
        self._outbox.append((start, on_done))
        self._schedule()

    def gather(self, fn: Callable[[], None]) -> None:
        """Run `fn()` once this turn is over, just before its calls start: it may `call`
        (a caller that groups the turn's requests into fewer calls makes them there)."""
        self._gatherers.append(fn)
        self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled:
            if self._loop is None:
                self._loop = asyncio.get_running_loop()
            self._scheduled = True
            self._loop.call_soon(self._dispatch)

    def _dispatch(self) -> None:
        """Start what this turn collected: alone on this thread, or together on the reader."""
        self._scheduled = False
        gatherers, self._gatherers = self._gatherers, []
        for gather in gatherers:
            try:
                gather()
            except Exception:  # a bug there must not stop the other calls
                log.exception("redis bridge: gathering a turn's calls failed")
        calls, self._outbox = self._outbox[:CALLS_PER_HOP_MAX], self._outbox[CALLS_PER_HOP_MAX:]
        if self._outbox:
            self._schedule()
        if not calls:
            return
        if len(calls) == 1:
            self._start_all(calls)
            return
        try:
            self.client.run_together(lambda: self._start_all(calls))
            self.hops += 1
        except Exception as exc:  # the client is closed: every call fails alike
            for _start, on_done in calls:
                self._finish(_failed(exc), on_done)

    def _start_all(self, calls: list[tuple[Start, OnDone]]) -> None:
        for start, on_done in calls:
            try:
                future = start()
            except Exception as exc:  # QueueFull, ClientClosed, InvalidRequest
                future = _failed(exc)
            future.add_done_callback(lambda done, on_done=on_done: self._finish(done, on_done))

    def _finish(self, future: Future[Any], on_done: OnDone) -> None:
        """Any thread: queue the answer; wake the loop if the inbox was empty."""
        with self._inbox_lock:
            wake = not self._inbox
            self._inbox.append((future, on_done))
        if wake:
            loop = self._loop
            assert loop is not None
            try:
                loop.call_soon_threadsafe(self._drain)
            except RuntimeError:  # the loop is closed: nobody waits for the answer
                log.debug("answer after the front door's loop closed")

    def _drain(self) -> None:
        with self._inbox_lock:
            done, self._inbox = self._inbox, []
        for future, on_done in done:
            try:
                on_done(future)
            except Exception:  # one bad callback must not lose the others' answers
                log.exception("redis bridge: an answer's callback failed")


def _failed(exc: BaseException) -> Future[Any]:
    future: Future[Any] = Future()
    future.set_exception(exc)
    return future
