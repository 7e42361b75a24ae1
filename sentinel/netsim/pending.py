"""The records of a `Network`'s waiting calls (client.py): a blocking call's slot, an
asynchronous call's callback, each finished once by whoever takes it from the pending table."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sentinel.netsim.rpc import RpcReply

log = logging.getLogger("sentinel.netsim.client")

ReplyCallback = Callable[[RpcReply | None], None]


class Slot:
    """One blocking call: a bare lock, taken at birth and released once by whoever removes
    the slot from `_pending` (an Event costs a Condition and a notify on every call)."""

    __slots__ = ("done", "dst", "result")

    def __init__(self, dst: int) -> None:
        self.dst = dst
        self.done = threading.Lock()
        self.done.acquire()
        self.result: Any = None

    def wait(self, timeout_s: float) -> None:
        if self.done.acquire(True, min(max(0.0, timeout_s), threading.TIMEOUT_MAX)):
            self.done.release()

    def finish(self, obj: Any) -> None:
        self.result = obj
        self.done.release()


class AsyncCall:
    """One asynchronous call: its callback, run once by whoever removes it from `_pending`."""

    __slots__ = ("callback", "dst")

    def __init__(self, dst: int, callback: ReplyCallback) -> None:
        self.dst = dst
        self.callback = callback

    def finish(self, obj: Any) -> None:
        try:
            self.callback(obj if isinstance(obj, RpcReply) else None)
        except Exception:  # a callback bug must not stop the reader (or the close sweep)
            log.exception("netsim client callback %r failed", self.callback)


def run_quietly(callback: Callable[..., None], *args: Any) -> None:
    """`callback(*args)`, its exception logged: a callback bug must not stop the reader."""
    try:
        callback(*args)
    except Exception:  # a callback bug must not stop the reader (or the close sweep)
        log.exception("netsim client callback %r failed", callback)
