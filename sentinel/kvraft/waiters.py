"""What waits for a kv server's answer: a lone request's `Deferred`, or one operation's slot
in a batch (`BatchSlot`), which the server resolves alike (`resolved`, `resolve(reply)`).

A `BatchAnswer` collects the answers of one "KVServer.Batch" request in order, flattened
(protocol.flat_reply), and resolves its own Deferred with the KVBatchReply when the last
operation's answer is in. Single-threaded, like the node loop it serves.
"""

from __future__ import annotations

from sentinel.kvraft.protocol import OK, FlatReply, KVBatchReply, KVReply, flat_reply
from sentinel.kvraft.results import Result, ResultCode
from sentinel.kvraft.statemachine import OK_RESULT
from sentinel.netsim.rpc import Deferred, constant_reply

#: The plain OK answer (one object, its reply frame encoded once) and its flat form.
OK_REPLY = constant_reply(KVReply(OK, OK_RESULT))
_FLAT_OK = flat_reply(OK_REPLY)
_FLAT_NO_KEY = flat_reply(KVReply(OK, Result(ResultCode.NO_KEY)))


def flat_read(value: str | None) -> FlatReply:
    """The flat answer of a Get that found `value` (None: the key is absent), the same as
    `flat_reply(KVReply(OK, state_machine.read(key)))` without building either."""
    if value is None:
        return _FLAT_NO_KEY
    return (OK, ResultCode.OK.value, value, False, 0, 0, "")


class BatchAnswer:
    """The answers of one KVBatch request, filled in as its operations end; `deferred`
    resolves with the KVBatchReply when the last one does."""

    __slots__ = ("deferred", "left", "replies")

    def __init__(self, size: int) -> None:
        assert size > 0, "a batch holds at least one operation"
        self.replies: list[tuple | None] = [None] * size
        self.left = size
        self.deferred = Deferred()

    def fill(self, position: int, reply: KVReply) -> None:
        """Operation `position`'s answer (the first one counts)."""
        if self.replies[position] is None:
            self.fill_flat(position, _FLAT_OK if reply is OK_REPLY else flat_reply(reply))

    def fill_flat(self, position: int, flat: FlatReply) -> None:
        """`fill` with the answer already flat (the first one counts)."""
        if self.replies[position] is None:
            self.replies[position] = flat
            self.left -= 1
            if self.left == 0:
                self.deferred.resolve(self.reply())

    def reply(self) -> KVBatchReply:
        """The whole answer (every operation answered)."""
        assert self.left == 0, "a batch is answered when every operation is"
        return KVBatchReply(tuple(self.replies))  # type: ignore[arg-type]


class BatchSlot:
    """One operation of a batch, waiting like a Deferred (`resolved`, `resolve`)."""

    __slots__ = ("answer", "position")

    def __init__(self, answer: BatchAnswer, position: int) -> None:
        self.answer = answer
        self.position = position

    @property
    def resolved(self) -> bool:
        """Whether this operation is answered."""
        return self.answer.replies[self.position] is not None

    def resolve(self, reply: KVReply) -> None:
        """Answer this operation."""
        self.answer.fill(self.position, reply)


#: What waits for a write's entry or a read's point.
Waiter = Deferred | BatchSlot


def resolve(waiter: Waiter, reply: KVReply) -> None:
    """Answer `waiter` unless it was answered already (a deadline and an apply may race)."""
    if not waiter.resolved:
        waiter.resolve(reply)
