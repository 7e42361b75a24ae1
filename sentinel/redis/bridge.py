"""Starting the front door's calls together and bringing their answers back to its loop.

The front door runs on an asyncio loop; the cluster client (`sentinel.kvraft.client`) runs
its calls' attempts where its router connection is read. A `Bridge` collects the calls the
loop starts during one turn and starts them together, inside one `run_together` callback,
where the client coalesces their attempts into one request per server (batching.py): the
reads of a burst share one ReadIndex round and one frame, the writes of many connections
one log entry.

The front door's client is read by the loop itself (netsim's loopreader.py): then
`run_together` runs at once on the loop thread, and each answer's `on_done` runs as its
reply is read: no thread between a request and its reply. With a client read by a reader
thread, the turn's calls cost one hop there, and the answers come back in one wake-up of
the loop (`call_soon_threadsafe`) for all that arrived before it ran.

`together(fn)` starts the calls `fn()` makes when it returns, in the same loop turn: for a
caller that knows no other calls could join them (the front door serving one connection), it
saves the turn the gathering costs.

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
        self._holding = 0  # inside `together`: dispatch when it ends, not at the turn's end
        self._inbox: list[tuple[Future[Any], OnDone]] = []
        self._inbox_lock = threading.Lock()
        self._loop_ident = 0  # the loop's thread
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

    def together(self, fn: Callable[[], None]) -> None:
        """Run `fn()` and start the calls it made (and their gatherers') when it returns,
        rather than once the loop turn is over. Loop thread only."""
        if self._loop is None:
            self._bind()
        self._holding += 1
        try:
            fn()
        finally:
            self._holding -= 1
            if not self._holding and (self._outbox or self._gatherers) and not self._scheduled:
                self._dispatch()

    def _schedule(self) -> None:
        if not self._scheduled and not self._holding:
            if self._loop is None:
                self._bind()
            self._scheduled = True
            self._loop.call_soon(self._dispatch)  # type: ignore[union-attr]

    def _bind(self) -> None:
        """Remember the loop (and its thread) the calls are made on."""
        self._loop = asyncio.get_running_loop()
        self._loop_ident = threading.get_ident()

    def _dispatch(self) -> None:
        """Start what this turn collected: alone on this thread, or together on the reader."""
        self._scheduled = True  # the calls the gatherers make join this dispatch
        gatherers, self._gatherers = self._gatherers, []
        for gather in gatherers:  # (their calls join this dispatch: no turn of their own)
            try:
                gather()
            except Exception:  # a bug there must not stop the other calls
                log.exception("redis bridge: gathering a turn's calls failed")
        calls, self._outbox = self._outbox[:CALLS_PER_HOP_MAX], self._outbox[CALLS_PER_HOP_MAX:]
        self._scheduled = False
        if self._outbox or self._gatherers:
            self._schedule()
        if not calls:
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
        """On the loop: the answer now. Any other thread: queue the answer; wake the loop if
        the inbox was empty."""
        if threading.get_ident() == self._loop_ident:
            _run_quietly(on_done, future)
            return
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
            _run_quietly(on_done, future)


def _run_quietly(on_done: OnDone, future: Future[Any]) -> None:
    try:
        on_done(future)
    except Exception:  # one bad callback must not lose the others' answers
        log.exception("redis bridge: an answer's callback failed")


def _failed(exc: BaseException) -> Future[Any]:
    future: Future[Any] = Future()
    future.set_exception(exc)
    return future
