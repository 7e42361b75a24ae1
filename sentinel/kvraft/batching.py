"""Coalescing: the attempts that many sessions send to one server at the same moment travel
as one "KVServer.Batch" request (protocol.py), like a Redis pipeline.

The asynchronous client runs its operations' attempts on the router connection's reader
thread. Replies arrive in bursts (a leader answers a whole applied batch in one write), and
each reply's completion starts that session's next attempt. A `Coalescer` holds the
attempts started during one burst and, when the reader is about to write out what the
burst sent (`Network.add_flush_hook`), sends the ones for the same server as one request:
one frame, one router hop, one decode and one reply frame for all of them, and one
ReadIndex read point for their Gets at the server.

Nothing else changes for an operation: it keeps its own session, sequence number and
exactly-once rules (the server handles each operation as if it had come alone), its own
RPC timeout (a member whose attempt must end before the batch's gets its own timer) and
its own retries. A lone attempt goes as the plain RPC it is; an attempt made on another
thread (nothing would flush it soon), or bigger than MEMBER_BYTES_MAX, is sent at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sentinel.kvraft.protocol import (
    BATCH_BYTES_MAX,
    BATCH_METHOD,
    BATCH_OPS_MAX,
    KVBatch,
    KVBatchReply,
    KVReply,
    unflat_reply,
)
from sentinel.netsim.client import Network, NetworkClosed
from sentinel.netsim.rpc import RpcReply

log = logging.getLogger(__name__)

#: A member whose own timeout is this much shorter than its batch's gets its own timer.
TIMEOUT_SLACK_S = 0.001
#: Commands larger than this are never coalesced (a batch stays small; a big value goes alone).
MEMBER_BYTES_MAX = 64 * 1024
#: Rounds of flushing in one hook call (a send error can start another attempt at once).
FLUSH_ROUNDS_MAX = 8

ReplyCallback = Callable[[RpcReply | None], None]
ErrorCallback = Callable[[Exception], None]


class _Member:
    """One attempt held for a batch; `deliver` runs its callback exactly once."""

    __slots__ = ("callback", "data", "done", "method", "on_error", "timeout_s")

    def __init__(
        self,
        method: str,
        data: bytes,
        timeout_s: float,
        callback: ReplyCallback,
        on_error: ErrorCallback,
    ) -> None:
        self.method = method
        self.data = data
        self.timeout_s = timeout_s
        self.callback = callback
        self.on_error = on_error
        self.done = False

    def deliver(self, reply: RpcReply | None) -> None:
        if not self.done:
            callback = self._finish()
            callback(reply)

    def fail(self, exc: Exception) -> None:
        if not self.done:
            on_error = self.on_error
            self._finish()
            on_error(exc)

    def _finish(self) -> ReplyCallback:
        """Mark done and let go of the attempt's callbacks (the batch's reply holds every
        member until its last one is handled: a finished call's objects must not wait for
        that, or each burst of 32 leaves enough garbage alive to cost a collection)."""
        callback = self.callback
        self.done = True
        self.callback = self.on_error = _ignore
        return callback

    def expire(self) -> None:
        """Its own attempt timeout passed before the batch's: no reply, as for a lone call."""
        self.deliver(None)


class Coalescer:
    """Holds the attempts started on the reader thread and sends them, per server, as one
    batch when the reader flushes (see the module docstring)."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self._held: dict[int, list[_Member]] = {}  # server -> members (reader thread only)
        self._held_bytes: dict[int, int] = {}
        self.batches_sent = 0  # batch requests (tests, benchmarks)
        self.members_sent = 0  # operations sent in them
        network.add_flush_hook(self.flush)

    def send(
        self,
        server: int,
        method: str,
        data: bytes,
        timeout_s: float,
        callback: ReplyCallback,
        on_error: ErrorCallback,
    ) -> None:
        """Send one attempt (`data`: its command, `encode_command`d), now or with the
        reader's next flush. Raises like `Network.call_async` when it is sent at once; a
        held attempt that cannot be sent gets `on_error(exc)` instead."""
        network = self.network
        if not network.on_reader_thread() or len(data) > MEMBER_BYTES_MAX:
            network.call_async(server, method, data, timeout_s, callback)
            return
        if network.closed:
            raise NetworkClosed("the network is closed")
        if not self._held:
            network.flush_soon()  # a loop reader's own callbacks are no burst it flushes
        held = self._held.setdefault(server, [])
        held.append(_Member(method, data, timeout_s, callback, on_error))
        size = self._held_bytes.get(server, 0) + len(data)
        self._held_bytes[server] = size
        if len(held) >= BATCH_OPS_MAX or size >= BATCH_BYTES_MAX - MEMBER_BYTES_MAX:
            del self._held[server], self._held_bytes[server]
            self._send(server, held)

    def flush(self) -> None:
        """Send everything held (the reader's flush hook)."""
        for _ in range(FLUSH_ROUNDS_MAX):
            if not self._held:
                return
            held, self._held, self._held_bytes = self._held, {}, {}
            for server, members in held.items():
                self._send(server, members)
        log.warning("attempts still held after %d flush rounds", FLUSH_ROUNDS_MAX)

    def _send(self, server: int, members: list[_Member]) -> None:
        network = self.network
        try:
            if len(members) == 1:
                one = members[0]
                network.call_async(server, one.method, one.data, one.timeout_s, one.deliver)
                return
            timeout_s = max(m.timeout_s for m in members)
            batch = KVBatch(tuple(m.data for m in members))
            network.call_async(
                server, BATCH_METHOD, batch, timeout_s, lambda r: _spread(members, r)
            )
        except Exception as exc:  # closed, or over a bound: each attempt ends its own way
            for member in members:
                member.fail(exc)
            return
        self.batches_sent += 1
        self.members_sent += len(members)
        for member in members:
            if member.timeout_s < timeout_s - TIMEOUT_SLACK_S:
                try:
                    network.call_later(member.timeout_s, member.expire)
                except Exception as exc:  # the batch is out; its reply may still come
                    log.debug("no timer for a batch member: %s", exc)


def _ignore(_arg: object) -> None:
    pass


def _spread(members: list[_Member], reply: RpcReply | None) -> None:
    """Hand each member its part of the batch's reply (or the loss, or the error)."""
    value = None if reply is None else reply.value
    if reply is None or reply.error is not None or isinstance(value, KVReply):
        for member in members:  # lost, an RPC error, or one answer for all (e.g. INVALID)
            member.deliver(reply)
    elif isinstance(value, KVBatchReply) and len(value.replies) == len(members):
        for member, flat in zip(members, value.replies, strict=True):
            try:
                part = _unflat(flat)
            except ValueError as exc:  # this element is malformed; the others stand
                part = RpcReply(None, f"{BATCH_METHOD}: {exc}")
            member.deliver(part)
    else:
        what = f"{type(value).__name__} for {len(members)} operations"
        error = RpcReply(None, f"{BATCH_METHOD} answered {what}")
        for member in members:
            member.deliver(error)


#: Answers without a value repeat (a write's OK above all): built once, shared (immutable).
#: Any thread may add to it (a dict insert is atomic; a lost race only builds one twice).
_UNFLAT_CACHE: dict[tuple, RpcReply] = {}
_UNFLAT_CACHE_MAX = 64


def _unflat(flat: Any) -> RpcReply:
    """The RpcReply a lone call would have received for one batch reply element."""
    if type(flat) is tuple and len(flat) == 7 and flat[2] is None:
        try:
            cached = _UNFLAT_CACHE.get(flat)
        except TypeError:  # an unhashable part: malformed, let unflat_reply say so
            cached = None
        if cached is not None:
            return cached
        reply = RpcReply(unflat_reply(flat))
        if len(_UNFLAT_CACHE) < _UNFLAT_CACHE_MAX:
            _UNFLAT_CACHE[flat] = reply
        return reply
    return RpcReply(unflat_reply(flat))
