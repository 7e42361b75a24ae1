"""Shared helpers of the keyspace tests: commands written as text, replies as Python values."""

from __future__ import annotations

from sentinel.kvraft.keyspace import Keyspace
from sentinel.kvraft.keyspace.replies import Array, Bulk, Error, Int, Null, Reply, Simple


def args_of(*words: str | bytes | int) -> list[bytes]:
    """A command's arguments as bytes (str as UTF-8, int in decimal)."""
    return [w if isinstance(w, bytes) else str(w).encode() for w in words]


def plain(reply: Reply) -> object:
    """A reply as a plain value: bytes, int, None, "+TEXT", "-ERR ..." or a list."""
    if isinstance(reply, Bulk):
        return reply.data
    if isinstance(reply, Int):
        return reply.value
    if isinstance(reply, Null):
        return None
    if isinstance(reply, Simple):
        return "+" + reply.text
    if isinstance(reply, Error):
        return "-" + reply.text
    if isinstance(reply, Array):
        return [plain(item) for item in reply.items]
    raise AssertionError(f"unexpected reply {reply!r}")


class Client:
    """Runs commands against one keyspace at a settable log time."""

    def __init__(self, keyspace: Keyspace | None = None, now_ms: int = 1_000_000) -> None:
        self.ks = keyspace if keyspace is not None else Keyspace()
        self.now_ms = now_ms

    def __call__(self, *words: str | bytes | int) -> object:
        return plain(self.ks.apply(args_of(*words), self.now_ms, 0))
