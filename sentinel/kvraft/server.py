"""The kv server: the `Application` a node process hosts to serve the key/value store.

    python: NodeSpec(app="sentinel.kvraft.server:KVServerApp",
                     app_options={"maxraftstate": 1000})

It registers the "KVServer" RPC service (protocol.py) and glues it to raft and the pure
`KVStateMachine`:

- **Writes** (Put, Append, Delete, Cas, Register) are validated, encoded and proposed; the
  reply is deferred until the entry at the proposal's index is applied. If the entry applied
  there carries the proposal's term, it is ours (Log Matching) and the state machine's result
  is the answer; otherwise another leader overwrote it: WRONG_LEADER, and the clerk retries
  the same (client_id, seq) elsewhere, which the sessions make exactly-once. A write this
  node can no longer answer for (it lost the leadership, or a snapshot replaced its entry)
  may still be applied: RETRY, so that a clerk never takes it for "nothing changed".
- **Gets** never enter the log: they take a ReadIndex read point (Raft dissertation §6.4) and
  are answered from the state machine once it has applied up to that point. While the
  leader holds a lease (a quorum confirmed it within the last ~0.1 s; §6.4.1,
  `NodeSpec.lease_reads`), the read point is its commit index at once, without a round.
- Every deferred reply has a deadline (`reply_timeout_ms`, default 1000 ms): a deposed
  leader that does not know it yet answers RETRY instead of holding the clerk forever. When
  this node stops leading, all its pending writes are answered RETRY at once, with the new
  leader if known. A request refused before it was proposed (a limit, a transfer, a full
  disk) is answered REFUSED with the reason.
- **Batches** ("KVServer.Batch", protocol.py): each operation is decoded and validated as
  if it had come alone. The batch's writes become one WriteBatch log entry (codec.py) in
  client id order: they were all outstanding at once, so any order among them is a valid
  linearisation, and one entry costs raft one replication and one fsync for all. Registers
  keep an entry each (a client id is its Register's index); the Gets share one ReadIndex
  read point; the batch is answered once, when its last operation is.
- **Sessions**: the exactly-once session table holds at most `sessions_max` sessions
  (option; default SESSIONS_MAX_DEFAULT); past that the least recently used expires, and
  its client's next write is answered SESSION_EXPIRED (sessions.py).
- **Snapshots**: after each applied batch, when the raft state on disk has reached
  `maxraftstate` bytes (option; -1, the default, means never), the state machine's snapshot
  is handed to raft, which persists it and trims the log. At start the node restores the
  snapshot on disk before replaying the log after it.

Bad input (a wrong type, a field over its limit, a command too large for one log entry)
gets an INVALID reply naming the problem and changes nothing. Everything here runs on the
node's single loop thread (see raft/app.py), so there are no locks.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable

from sentinel.kvraft.codec import (
    WRITE_BATCH_MAX,
    CommandError,
    WriteBatch,
    decode_command,
    encode_command,
    encode_write_batch,
    stamp_entry,
)
from sentinel.kvraft.commands import (
    Command,
    Get,
    RedisRead,
    RedisReads,
    RedisVersions,
    Register,
    Write,
)
from sentinel.kvraft.limits import InvalidRequest
from sentinel.kvraft.logclock import LogClock
from sentinel.kvraft.protocol import (
    BATCH_BYTES_MAX,
    BATCH_OPS_MAX,
    INVALID,
    OK,
    REFUSED,
    RETRY,
    SERVICE,
    WRONG_LEADER,
    KVBatch,
    KVBatchReply,
    KVReply,
    ServerState,
    check_entry_size,
    check_redis,
)
from sentinel.kvraft.results import Result
from sentinel.kvraft.service import KVService
from sentinel.kvraft.statemachine import OK_RESULT, KVStateMachine
from sentinel.kvraft.waiters import (
    OK_REPLY,
    BatchAnswer,
    BatchSlot,
    Waiter,
    flat_read,
    resolve,
)
from sentinel.netsim.rpc import Deferred, constant_reply
from sentinel.raft.app import Application, NodeContext
from sentinel.raft.errors import NotLeader, ProposalDropped
from sentinel.raft.messages import Entry, EntryKind, Role

log = logging.getLogger(__name__)

REPLY_TIMEOUT_MS_DEFAULT = 1000
#: Deferred replies held at once; past this a request is answered REFUSED (back-pressure).
WRITES_PENDING_MAX = 10_000
READS_PENDING_MAX = 4_096

# Answers that are the same every time are encoded once (rpc.constant_reply).
_WRONG_LEADER = constant_reply(KVReply(WRONG_LEADER))
_DEPOSED = "this node lost the leadership; the write may still be applied"
_COVERED = constant_reply(
    KVReply(RETRY, detail="the write's entry is in a snapshot now; it may have been applied")
)
_RETRY = constant_reply(
    KVReply(RETRY, detail="not answered in time; the request may or may not be applied")
)
_OK_REPLY = OK_REPLY


class KVServerApp(Application):
    """The key/value service on one node (module docstring; hooks as in `Application`).
    Invariants: `write_deadlines` has one item per write in `writes` (<= WRITES_PENDING_MAX);
    `reads_pending` counts the waiters in `reads` (<= READS_PENDING_MAX)."""

    def __init__(self) -> None:
        self.sm = KVStateMachine()
        self.maxraftstate = -1
        self.reply_timeout_s = REPLY_TIMEOUT_MS_DEFAULT / 1000.0
        #: raft index -> [(term, waiter, the entry's command, position in it, its stamp)]:
        #: writes waiting for their entry to apply (a WriteBatch entry answers each write
        #: from its position).
        self.writes: dict[int, list[tuple[int, Waiter, Command | WriteBatch, int, int]]] = {}
        #: (deadline, index, waiter) of every write in `writes`, in proposal order: by index
        #: and by deadline alike (a leader's indexes grow; all waits are equally long).
        self.write_deadlines: collections.deque[tuple[float, int, Waiter]] = collections.deque()
        #: read context -> [(key or Redis read, waiter)]; (deadline, context) in deadline order.
        self.reads: dict[bytes, list[tuple[_Read, Waiter]]] = {}
        self.reads_pending = 0
        self.read_deadlines: collections.deque[tuple[float, bytes]] = collections.deque()
        self.next_read = 0
        self.leader = 0
        self.snapshots_taken = 0
        #: Seconds on a monotonic clock, for reply deadlines (the simulator's is virtual).
        self.monotonic: Callable[[], float] = time.monotonic
        self.clock = LogClock(self.sm)  # stamps, read times, purges (logclock.py)
        self.is_leader = False

    def start(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        self.maxraftstate = int(ctx.options.get("maxraftstate", -1))  # type: ignore[call-overload]
        timeout_ms = int(ctx.options.get("reply_timeout_ms", REPLY_TIMEOUT_MS_DEFAULT))  # type: ignore[call-overload]
        assert timeout_ms > 0, "reply_timeout_ms must be positive"
        self.reply_timeout_s = timeout_ms / 1000.0
        sessions_max = ctx.options.get("sessions_max")
        if sessions_max is not None:  # nothing is applied yet: a table of that size
            self.sm = KVStateMachine(int(sessions_max))  # type: ignore[call-overload]
            self.clock = LogClock(self.sm)
        ctx.rpc.add_service(KVService(self), SERVICE)  # type: ignore[arg-type]

    # -- raft -> state machine -----------------------------------------------------------

    def restore(self, index: int, data: bytes) -> None:
        self.sm.restore(data)  # a SnapshotError here is a corrupt raft snapshot: stop
        self.clock.applied(index)
        assert self.sm.applied_index == index, f"snapshot at {index} says {self.sm.applied_index}"
        for waiting in [i for i in self.writes if i <= index]:
            for _term, waiter, _command, _at, _now in self.writes.pop(waiting):
                resolve(waiter, _COVERED)  # a retry learns the outcome (duplicate)
        self._forget_deadlines_to(index)

    def apply(self, entry: Entry) -> None:
        if entry.index <= self.sm.applied_index:
            log.warning("entry %d already applied (at %d)", entry.index, self.sm.applied_index)
            return
        waiters = self.writes.pop(entry.index, None)
        if waiters:
            self._forget_deadlines_to(entry.index)
        # Our own proposal (same index, same term: Log Matching) is applied from the
        # command we decoded and checked when it arrived, not decoded again.
        mine = [w for w in waiters if w[0] == entry.term] if waiters else None
        if mine:
            result = self.sm.apply_command(entry.index, mine[0][2], mine[0][4], entry.term)
        else:
            data = entry.data if entry.kind is EntryKind.NORMAL else b""
            result = self.sm.apply(entry.index, data, entry.term)
        self.clock.applied(entry.index)
        if waiters:
            results = result if type(result) is tuple else (result,)
            for term, waiter, _command, at, _now in waiters:
                ours = term == entry.term and at < len(results)
                resolve(waiter, _reply_ok(results[at]) if ours else _WRONG_LEADER)

    def _forget_deadlines_to(self, index: int) -> None:
        """Drop the deadlines of the writes up to `index`, which are answered now: a write
        counts against WRITES_PENDING_MAX only while it waits."""
        deadlines = self.write_deadlines
        while deadlines and deadlines[0][1] <= index:
            deadlines.popleft()

    def after_apply(self) -> None:
        if self.maxraftstate < 0:
            return
        if self.ctx.raft_state_bytes() >= self.maxraftstate:
            # Forked, off the loop: encoding a big state there outlasts an election timeout.
            sm = self.sm
            if self.ctx.compact_in_background(sm.applied_index, sm.snapshot, sm.bytes_held):
                self.snapshots_taken += 1

    def read_ready(self, context: bytes) -> None:
        waiting = self.reads.pop(context, None)
        if waiting is not None:
            self.reads_pending -= len(waiting)
            self._forget_answered_reads()
            sm = self.sm  # keys were validated when the reads arrived
            now_ms = self.clock.read_ms()
            for read, waiter in waiting:
                if type(read) is not str:
                    resolve(waiter, KVReply(OK, sm.redis_read(read, now_ms)))
                elif type(waiter) is BatchSlot:  # straight to its flat answer (no KVReply)
                    waiter.answer.fill_flat(waiter.position, flat_read(sm.value(read, now_ms)))
                else:
                    resolve(waiter, KVReply(OK, sm.lookup(read, now_ms)))

    def read_failed(self, context: bytes) -> None:
        self._end_reads(context, _WRONG_LEADER)

    def _end_reads(self, context: bytes, reply: KVReply) -> None:
        waiting = self.reads.pop(context, None)
        if waiting is not None:
            self.reads_pending -= len(waiting)
            self._forget_answered_reads()
            for _key, waiter in waiting:
                resolve(waiter, reply)

    def _forget_answered_reads(self) -> None:
        """Drop the deadlines of answered read points from the front, so that the queue
        holds about as many as wait (read points are mostly answered in order)."""
        deadlines, reads = self.read_deadlines, self.reads
        while deadlines and deadlines[0][1] not in reads:
            deadlines.popleft()

    def role_changed(self, role: Role, term: int, leader: int) -> None:
        self.leader = leader
        self.is_leader = role is Role.LEADER
        if role is not Role.LEADER:
            self.clock.lost_leadership()
            self.fail_writes()

    def fail_writes(self) -> None:
        """Answer every pending write RETRY (they may still commit: a retry with the same
        seq learns the outcome from the session table), naming the new leader if known."""
        writes, self.writes = self.writes, {}
        self.write_deadlines.clear()
        for waiters in writes.values():
            for _term, waiter, _command, _at, _now in waiters:
                resolve(waiter, KVReply(RETRY, leader=self.leader, detail=_DEPOSED))

    def on_tick(self) -> None:
        now = self.monotonic()
        while self.write_deadlines and self.write_deadlines[0][0] <= now:
            _deadline, index, deferred = self.write_deadlines.popleft()
            waiters = self.writes.get(index)
            if waiters is not None:
                waiters[:] = [w for w in waiters if w[1] is not deferred]
                if not waiters:
                    del self.writes[index]
            resolve(deferred, _RETRY)
        while self.read_deadlines and self.read_deadlines[0][0] <= now:
            _deadline, context = self.read_deadlines.popleft()
            self._end_reads(context, _RETRY)
        purge = self.clock.purge_due(now, self.is_leader)
        if purge is not None:
            try:
                data = stamp_entry(self.clock.stamp_ms(), encode_command(purge))
                self.clock.purge_proposed(self.ctx.propose(data)[0])
            except (NotLeader, ProposalDropped) as exc:
                log.debug("purge not proposed: %s", exc)

    def status(self) -> dict[str, int]:
        return {
            "keys": len(self.sm.keyspace),
            "expires": self.sm.keyspace.expiring(),
            "sessions": self.sm.sessions,
            "writes_pending": len(self.write_deadlines),
            "reads_pending": self.reads_pending,
            "snapshots_taken": self.snapshots_taken,
            "purges_proposed": self.clock.purges,
        }

    # -- requests ------------------------------------------------------------------------

    def write(self, command: Command, data: bytes) -> KVReply | Deferred:
        """Propose a write (or Register) decoded from `data`, its checked encoding (see
        `protocol.decoded`); the reply waits for its entry."""
        deferred = Deferred()
        return self._propose(command, data, deferred) or deferred

    def _propose(self, command: Command, data: bytes, waiter: Waiter) -> KVReply | None:
        """Propose `data` (the valid encoding of `command`); None when `waiter` now waits
        for its entry, else the immediate answer."""
        return self._propose_entry(command, data, [waiter])

    def _propose_entry(
        self, command: Command | WriteBatch, data: bytes, waiters: list[Waiter]
    ) -> KVReply | None:
        """Propose one entry; `waiters[i]` waits for the answer at position i (one, or one
        per write of a WriteBatch). None when they wait, else the answer for all of them."""
        if len(self.write_deadlines) + len(waiters) > WRITES_PENDING_MAX:
            return KVReply(REFUSED, detail="too many writes pending")
        now_ms = self.clock.stamp_ms()
        try:
            index, term = self.ctx.propose(stamp_entry(now_ms, data))
        except NotLeader as exc:
            return KVReply(WRONG_LEADER, leader=exc.leader_hint or 0)
        except ProposalDropped as exc:
            return KVReply(REFUSED, detail=str(exc))
        deadline = self.monotonic() + self.reply_timeout_s
        waiting = self.writes.setdefault(index, [])
        for at, waiter in enumerate(waiters):
            waiting.append((term, waiter, command, at, now_ms))
            self.write_deadlines.append((deadline, index, waiter))
        return None

    def read(self, get: Get | RedisRead | RedisReads | RedisVersions) -> KVReply | Deferred:
        """A linearizable Get or Redis read (decoded, so valid) through ReadIndex."""
        deferred = Deferred()
        read = get.key if type(get) is Get else get
        return self._read_at_point([(read, deferred)]) or deferred  # type: ignore[list-item]

    def _read_at_point(self, waiting: list[tuple[_Read, Waiter]]) -> KVReply | None:
        """One ReadIndex read point for every (validated key, waiter) of `waiting`; None when
        they now wait for it, else the answer for all of them."""
        if self.reads_pending + len(waiting) > READS_PENDING_MAX:
            return KVReply(REFUSED, detail="too many reads pending")
        self.next_read += 1
        context = self.next_read.to_bytes(8, "little")
        try:
            self.ctx.read_index(context)
        except NotLeader as exc:
            return KVReply(WRONG_LEADER, leader=exc.leader_hint or 0)
        except ProposalDropped as exc:
            return KVReply(REFUSED, detail=str(exc))
        self.reads[context] = waiting
        self.reads_pending += len(waiting)
        self.read_deadlines.append((self.monotonic() + self.reply_timeout_s, context))
        return None

    def batch(self, request: KVBatch) -> KVReply | KVBatchReply | Deferred:
        """Serve every operation of a batch as if it had come alone (see the module
        docstring); one KVBatchReply when the last one is answered."""
        commands = request.commands
        if type(commands) is not tuple or not 0 < len(commands) <= BATCH_OPS_MAX:
            return KVReply(INVALID, detail=f"a batch holds 1 to {BATCH_OPS_MAX} operations")
        if sum(len(c) if type(c) is bytes else 0 for c in commands) > BATCH_BYTES_MAX:
            return KVReply(INVALID, detail=f"a batch holds at most {BATCH_BYTES_MAX} bytes")
        batch = BatchAnswer(len(commands))
        reads: list[tuple[_Read, Waiter]] = []
        writes: list[tuple[int, int, Write, bytes, BatchSlot]] = []
        for position, data in enumerate(commands):
            slot = BatchSlot(batch, position)
            try:
                if type(data) is not bytes:
                    raise CommandError(f"an operation must be bytes, not {type(data).__name__}")
                # checks every field, limit, and a Redis command's arguments
                command = check_redis(decode_command(check_entry_size(data)))
                if type(command) is WriteBatch:
                    raise CommandError("each operation is one command, not a write batch")
            except (CommandError, InvalidRequest) as exc:
                slot.resolve(KVReply(INVALID, detail=f"operation {position}: {exc}"))
                continue
            if type(command) is Get:
                reads.append((command.key, slot))
            elif type(command) in _REDIS_READS:
                reads.append((command, slot))
            elif type(command) is Register:  # its client id is its own entry's index
                self._answer(slot, self._propose(command, data, slot))
            else:
                writes.append((command.client_id, position, command, data, slot))  # type: ignore[union-attr]
        if writes:
            self._propose_writes(writes)
        if reads:
            answer = self._read_at_point(reads)
            if answer is not None:
                for _key, slot in reads:
                    slot.resolve(answer)
        if batch.left == 0:
            return batch.reply()
        return batch.deferred

    def _propose_writes(self, writes: list[tuple[int, int, Write, bytes, BatchSlot]]) -> None:
        """Propose the writes of one batch request as one WriteBatch entry, in client id
        order (a client id seen twice, a retry's copy, goes in an entry of its own)."""
        writes.sort(key=lambda w: (w[0], w[1]))
        together, alone = [writes[0]], []
        for write in writes[1:]:
            (together if write[0] != together[-1][0] else alone).append(write)
        for i in range(0, len(together), WRITE_BATCH_MAX):
            part = together[i : i + WRITE_BATCH_MAX]
            if len(part) == 1:
                alone.append(part[0])
                continue
            entry = WriteBatch(tuple(w[2] for w in part))
            data = encode_write_batch([w[3] for w in part])
            answer = self._propose_entry(entry, data, [w[4] for w in part])
            for w in part:
                self._answer(w[4], answer)
        for _client_id, _position, command, data, slot in alone:
            self._answer(slot, self._propose(command, data, slot))

    @staticmethod
    def _answer(waiter: Waiter, answer: KVReply | None) -> None:
        if answer is not None:
            waiter.resolve(answer)

    def state(self) -> ServerState:
        """This server's view of itself ("KVServer.State")."""
        st = self.ctx.raft_status()
        return ServerState(
            node_id=self.ctx.node_id,
            term=st.term,
            is_leader=st.role is Role.LEADER,
            leader=st.leader,
            applied=self.sm.applied_index,
            raft_state_bytes=self.ctx.raft_state_bytes(),
            snapshot_bytes=self.ctx.snapshot_bytes(),
            keys=len(self.sm.keyspace),
            commit=st.commit,
        )


#: What a read point serves: a Get's (validated) key, or a Redis read.
_Read = str | RedisRead | RedisReads | RedisVersions
_REDIS_READS = (RedisRead, RedisReads, RedisVersions)


def _reply_ok(result: Result) -> KVReply:
    """The OK answer carrying `result` (the shared, pre-encoded one for a plain OK)."""
    return _OK_REPLY if result is OK_RESULT else KVReply(OK, result)
