"""ReadIndex (Raft thesis §6.4): linearizable reads without writing the log.

The leader records its commit index for each read, then confirms it is still the leader by a
heartbeat round that carries the read's context; once a quorum echoes that context, that read
and every read queued before it may be served once the state machine has applied the index.
"""

from __future__ import annotations

import dataclasses
from collections import deque


@dataclasses.dataclass(slots=True)
class ReadRequest:
    """One pending read: the commit index when it arrived, and who acknowledged its round."""

    index: int
    context: bytes
    acks: set[int]


class ReadOnly:
    """Pending ReadIndex requests in arrival order, bounded by `max_pending`.

    `_queue` and `_pending` hold the same contexts, the queue in arrival order; a read is
    released only with every read queued before it, so reads are served in order.
    """

    def __init__(self, max_pending: int) -> None:
        self.max_pending = max_pending
        self._pending: dict[bytes, ReadRequest] = {}
        self._queue: deque[bytes] = deque()

    def __len__(self) -> int:
        return len(self._queue)

    def __contains__(self, context: bytes) -> bool:
        return context in self._pending

    def add_request(self, index: int, context: bytes, self_id: int) -> None:
        """Queue a read at commit `index` (the caller checks the limit and duplicates)."""
        self._pending[context] = ReadRequest(index, context, {self_id})
        self._queue.append(context)

    def recv_ack(self, src: int, context: bytes) -> int:
        """`src` answered the heartbeat round of `context`; returns that round's ack count."""
        request = self._pending.get(context)
        if request is None:
            return 0
        request.acks.add(src)
        return len(request.acks)

    def advance(self, context: bytes) -> list[ReadRequest]:
        """Release the read `context` and every read queued before it."""
        if context not in self._pending:
            return []
        released: list[ReadRequest] = []
        while self._queue:
            ctx = self._queue.popleft()
            released.append(self._pending.pop(ctx))
            if ctx == context:
                break
        return released

    def last_pending_context(self) -> bytes:
        """The context of the newest pending read, or b"" when none is pending."""
        return self._queue[-1] if self._queue else b""

    def reset(self) -> None:
        """Drop every pending read (leadership lost: the reads will time out and retry)."""
        self._pending.clear()
        self._queue.clear()
