"""A `Network`'s reader as callbacks of an asyncio event loop, instead of a reader thread.

A program that already runs an asyncio loop (the Redis front door) and makes its calls from
it pays for a reader thread on every call: the request leaves from the loop thread, the
reply is read on the reader thread and handed back to the loop (a wake-up of each thread,
two wake pipes, GIL hand-offs). `connect(cluster_dir, loop=loop)` makes the loop the reader
instead: the router connection is one of the loop's readers, replies and timers run on the
loop thread, and what the loop's callbacks send is corked and written once at the end of
the turn (`turn_soon`), after the flush hooks (kvraft's coalescing).

The rules of the reader thread hold: callbacks, timers and flush hooks run on one thread
(`Network.on_reader_thread()` is true on the loop thread, so a blocking call there raises);
other threads may call, and their sends go out at once. A new deadline wakes nothing when
the loop's one timer already fires before it (so a stream of calls costs no timer each).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sentinel.netsim.client import Network

#: How long `close` from another thread waits for the loop to see the connection end.
CLOSE_WAIT_S = 2.0


class LoopReader:
    """Reads `network`'s router connection on `loop` (see the module docstring)."""

    def __init__(self, network: Network, loop: asyncio.AbstractEventLoop) -> None:
        self.network = network
        self.loop = loop
        self._fd = network.endpoint.fileno()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf  # when `_timer` fires
        self._turn_due = False  # a turn runs before the loop waits again
        self._gone = threading.Event()
        loop.call_soon_threadsafe(self._attach)

    def _attach(self) -> None:
        self.network._reader_ident = threading.get_ident()
        if self.network.closed:
            self._lost()
            return
        self.loop.add_reader(self._fd, self._readable)
        self._turn()

    def turn_soon(self) -> None:
        """Loop thread: run a turn (timers, flush hooks, one write) before the loop waits."""
        if not self._turn_due:
            self._turn_due = True
            self.loop.call_soon(self._turn)

    def burst(self, fn: Callable[[], None]) -> None:
        """Loop thread: run `fn()` as a burst of the reader's own: what it sends (and what
        the flush hooks hold) is written once, when it returns, with no turn of its own."""
        self._turn_due = True
        try:
            fn()
        finally:
            self._turn()

    def kick(self) -> None:
        """Any thread: a deadline earlier than the loop's timer was added; look again."""
        if threading.get_ident() == self.network._reader_ident:
            self.turn_soon()
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: `close` sweeps
            self.loop.call_soon_threadsafe(self.turn_soon)

    def _readable(self) -> None:
        network = self.network
        self._turn_due = True  # what the callbacks send goes out at this turn's end
        try:
            for msg in network.endpoint.read_available():
                network._deliver(network._parse(msg))
        except (EOFError, OSError, ValueError):
            self._lost()
            return
        self._turn()

    def _turn(self) -> None:
        network = self.network
        self._turn_due = True
        try:
            network._expire(time.monotonic())
            network._run_flush_hooks()
            network.endpoint.flush()
        except (EOFError, OSError, ValueError):
            self._lost()
            return
        finally:
            self._turn_due = False
        self._arm()

    def _arm(self) -> None:
        """Keep the one timer at or before the nearest live deadline."""
        deadline = self.network._next_deadline(self._timer_at)
        if deadline < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = deadline
            self._timer = self.loop.call_later(
                max(0.0, deadline - time.monotonic()), self._on_timer
            )

    def _on_timer(self) -> None:
        self._timer, self._timer_at = None, math.inf
        self._turn()

    def _lost(self) -> None:
        """The connection ended (or `close`): stop reading and complete every call, once."""
        if self._gone.is_set():
            return
        self._gone.set()
        with contextlib.suppress(Exception):  # not added yet, or the loop is closed
            self.loop.remove_reader(self._fd)
        if self._timer is not None:
            self._timer.cancel()
        self.network._sweep()

    def stop(self) -> None:
        """`Network.close`: end reading, on the loop if it runs, and wait for it."""
        if threading.get_ident() == self.network._reader_ident or not self.loop.is_running():
            self._lost()
            return
        try:
            self.loop.call_soon_threadsafe(self._lost)
        except RuntimeError:  # closed meanwhile
            self._lost()
            return
        self._gone.wait(CLOSE_WAIT_S)
