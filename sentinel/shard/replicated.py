"""`ReplicatedApp`: the request plumbing shared by the shard controller and the shard groups.

A write is proposed and its reply deferred until the entry at its index applies: if the
applied entry has the proposal's term it is ours (Log Matching) and the state machine's
answer goes back; otherwise another leader overwrote it and the client hears "wrong leader".
A read waits for a ReadIndex point. Every waiting reply has a deadline counted in ticks; a
lost leadership, a snapshot that covers a waiting write, or a deadline answers "retry" (the
write may still apply: the client retries the same (client id, seq), which sessions make
exactly-once). After each applied batch the state is snapshotted once the raft state on disk
reaches `maxraftstate` bytes (option; -1: never).

Single-threaded, like every `Application` (raft/app.py).
"""

from __future__ import annotations

import collections
from typing import Any

from sentinel.netsim.rpc import Deferred
from sentinel.raft.app import Application, NodeContext
from sentinel.raft.errors import NotLeader, ProposalDropped
from sentinel.raft.messages import Entry, EntryKind, Role
from sentinel.wire import encode

#: Deferred replies held at once; past this a request is answered "retry" at once.
PENDING_MAX = 4_096
#: A deferred reply is answered "retry" after this many ticks (~1 s).
REPLY_TIMEOUT_TICKS = 100


class ReplicatedApp(Application):
    """Subclasses implement `apply_data`, `answer_read`, `snapshot_data`, `restore_data`
    and `error_reply`, and call `submit` / `read` from their RPC handlers."""

    def __init__(self) -> None:
        self.maxraftstate = -1
        self.leader = 0
        self.ticks = 0
        #: index -> (term, waiter); (deadline tick, index) in proposal order.
        self.writes: dict[int, tuple[int, Deferred]] = {}
        self.write_deadlines: collections.deque[tuple[int, int]] = collections.deque()
        #: read context -> (request, waiter); (deadline tick, context) in order.
        self.reads: dict[bytes, tuple[Any, Deferred]] = {}
        self.read_deadlines: collections.deque[tuple[int, bytes]] = collections.deque()
        self.next_read = 0
        self.applied_index = 0

    # -- what a subclass provides --------------------------------------------------------

    def apply_data(self, index: int, data: bytes) -> Any:
        """Apply one committed command (b"": a no-op); the reply for its proposer."""
        raise NotImplementedError

    def answer_read(self, request: Any) -> Any:
        """The reply to a read whose ReadIndex point has been applied."""
        raise NotImplementedError

    def snapshot_data(self) -> bytes:
        """The whole state at `applied_index`."""
        raise NotImplementedError

    def restore_data(self, data: bytes) -> None:
        """Replace the state with a snapshot's."""
        raise NotImplementedError

    def error_reply(self, err: str, leader: int = 0) -> Any:
        """A reply that carries only an error ("wrong leader", "retry")."""
        raise NotImplementedError

    # -- requests ------------------------------------------------------------------------

    def start(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        self.maxraftstate = int(ctx.options.get("maxraftstate", -1))  # type: ignore[call-overload]

    def submit(self, command: Any) -> Any:
        """Propose `command` (a registered message); a Deferred answered when it applies."""
        if len(self.writes) >= PENDING_MAX:
            return self.error_reply("retry")
        try:
            index, term = self.ctx.propose(encode(command))
        except NotLeader as exc:
            return self.error_reply("wrong leader", exc.leader_hint or self.leader)
        except ProposalDropped:
            return self.error_reply("retry")
        waiter = Deferred()
        old = self.writes.pop(index, None)
        if old is not None:
            old[1].resolve(self.error_reply("wrong leader", self.leader))
        self.writes[index] = (term, waiter)
        self.write_deadlines.append((self.ticks + REPLY_TIMEOUT_TICKS, index))
        return waiter

    def read(self, request: Any) -> Any:
        """Answer `request` at a linearizable read point; a Deferred."""
        if len(self.reads) >= PENDING_MAX:
            return self.error_reply("retry")
        self.next_read += 1
        context = self.next_read.to_bytes(8, "big")
        try:
            self.ctx.read_index(context)
        except NotLeader as exc:
            return self.error_reply("wrong leader", exc.leader_hint or self.leader)
        except ProposalDropped:
            return self.error_reply("retry")
        waiter = Deferred()
        self.reads[context] = (request, waiter)
        self.read_deadlines.append((self.ticks + REPLY_TIMEOUT_TICKS, context))
        return waiter

    # -- raft hooks ----------------------------------------------------------------------

    def apply(self, entry: Entry) -> None:
        data = entry.data if entry.kind is EntryKind.NORMAL else b""
        reply = self.apply_data(entry.index, data)
        self.applied_index = entry.index
        waiting = self.writes.pop(entry.index, None)
        if waiting is not None:
            term, waiter = waiting
            if term == entry.term:
                _resolve(waiter, reply)
            else:
                _resolve(waiter, self.error_reply("wrong leader", self.leader))

    def restore(self, index: int, data: bytes) -> None:
        self.restore_data(data)
        self.applied_index = index
        for covered in [i for i in self.writes if i <= index]:
            _resolve(self.writes.pop(covered)[1], self.error_reply("retry"))

    def read_ready(self, context: bytes) -> None:
        waiting = self.reads.pop(context, None)
        if waiting is not None:
            _resolve(waiting[1], self.answer_read(waiting[0]))

    def read_failed(self, context: bytes) -> None:
        waiting = self.reads.pop(context, None)
        if waiting is not None:
            _resolve(waiting[1], self.error_reply("retry", self.leader))

    def role_changed(self, role: Role, term: int, leader: int) -> None:
        self.leader = leader
        if role is not Role.LEADER:
            for _, waiter in self.writes.values():
                _resolve(waiter, self.error_reply("retry", leader))
            self.writes.clear()
            self.write_deadlines.clear()

    def after_apply(self) -> None:
        if self.maxraftstate >= 0 and self.ctx.raft_state_bytes() >= self.maxraftstate:
            self.ctx.compact(self.applied_index, self.snapshot_data())

    def on_tick(self) -> None:
        self.ticks += 1
        while self.write_deadlines and self.write_deadlines[0][0] <= self.ticks:
            _, index = self.write_deadlines.popleft()
            waiting = self.writes.pop(index, None)
            if waiting is not None:
                _resolve(waiting[1], self.error_reply("retry", self.leader))
        while self.read_deadlines and self.read_deadlines[0][0] <= self.ticks:
            _, context = self.read_deadlines.popleft()
            waiting = self.reads.pop(context, None)
            if waiting is not None:
                _resolve(waiting[1], self.error_reply("retry", self.leader))


def _resolve(waiter: Deferred, reply: Any) -> None:
    if not waiter.resolved:
        waiter.resolve(reply)
