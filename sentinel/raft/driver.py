"""The node driver: one raft core and its application, with the I/O handed to a host.

What etcd splits into `RawNode` and the application's Ready loop. The driver owns the order
in which a Ready's work is done, the rules that order follows, the reads and the compaction:

    for each Ready:    a leader's messages go out first when that is safe (send early,
                       see `may_send_before_persist`)
                       1. persist   host.save(rd)    (False: no room; the Ready is held and
                                                      offered again at the next `process`)
                       2. send      host.send(msgs)  (unless they went early)
                       3. apply     app.restore / app.apply / app.after_apply;
                                    serve the confirmed reads whose index is applied
                       4. advance   core.advance(rd); tell the application of role changes
                       then compact to the application's latest wish (`compact`)

It does no I/O of its own: no socket, file, clock or fsync. The host (the node process,
host/runtime.py; the simulator, sim/cluster.py) gives it a `DriverHost` and the time of each
read (`read_index(context, now_s)`, for leases), and feeds it ticks and messages. Exceptions
raised by the host (a crash while persisting, in the simulator) leave the driver.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Protocol

from sentinel.raft.app import Application
from sentinel.raft.core import Raft
from sentinel.raft.membership import app_data
from sentinel.raft.messages import Message, Role
from sentinel.raft.ready import Ready

__all__ = ["DriverHost", "NodeDriver"]

log = logging.getLogger(__name__)


class DriverHost(Protocol):
    """The I/O a driver asks of its host."""

    def save(self, rd: Ready) -> bool:
        """Persist `rd` (see `Ready`); False when the disk has no room for it now (the
        driver offers the same Ready again at its next `process`)."""
        ...

    def send(self, messages: tuple[Message, ...]) -> None:
        """Send raft messages (each says whether it is a request or a reply)."""
        ...

    def flush(self) -> None:
        """Write out what `send` and the application's answers queued (if the host
        buffers output)."""
        ...


class NodeDriver:
    """A raft core driven for one application (see the module docstring)."""

    def __init__(self, core: Raft, app: Application, host: DriverHost, lease_s: float = 0.0):
        self.core = core
        self.app = app
        self.host = host
        #: Lease reads: a read round asked at time t and confirmed by a quorum makes this
        #: node's leadership good for reads until t + lease_s (0: no lease reads).
        self.lease_s = lease_s
        self.lease_until = -math.inf
        self.round_asked: dict[bytes, float] = {}  # read context -> when it was asked
        self.reads_asked: set[bytes] = set()  # asked, not yet confirmed
        self.reads_waiting: list[tuple[int, bytes]] = []  # (index, context) until applied
        self.compact_wish: tuple[int, bytes] | None = None
        #: A snapshot was refused for its size and none has fitted since (logged once).
        self.snapshot_too_big = False
        #: A Ready the host had no room to save, and whether its messages already left.
        self.stalled: tuple[Ready, bool] | None = None
        self.last_role = (core.role, core.term, core.lead)
        #: (term, vote) as last written to disk: what a message sent before a save may rely on.
        self.durable_term_vote = (core.term, core.vote)

    # -- inputs --------------------------------------------------------------------------

    def tick(self) -> None:
        """One tick of the core, then of the application."""
        self.core.tick()
        self.app.on_tick()

    def step(self, m: Message) -> None:
        """One message from a peer (raises InvalidMessage, state unchanged, for garbage)."""
        core = self.core
        try:
            core.step(m)
        finally:
            if (core.role, core.term, core.lead) != self.last_role:
                self.check_role()

    def propose(self, data: bytes) -> tuple[int, int]:
        """Append a command: its (index, term). Raises NotLeader or ProposalDropped."""
        return self.core.propose(data)

    def read_index(self, context: bytes, now_s: float) -> None:
        """Ask for a read point for `context`; `app.read_ready(context)` once it may be
        served. A leader within its lease confirms it without a heartbeat round. The lease
        starts when a round was asked (`now_s`), before its heartbeats left: every follower
        that acked heard from us after that, so refuses votes for longer."""
        leased = now_s < self.lease_until
        self.core.read_index(context, lease=leased)
        if not leased and self.lease_s > 0:
            self.round_asked[bytes(context)] = now_s
        self.reads_asked.add(bytes(context))

    def compact(self, index: int, data: bytes) -> None:
        """Compact to snapshot `data` at `index` once the current batch is applied, or at
        the next `process` when none is (the highest index asked wins). Every compaction of
        the node goes through here: the application's, and a snapshot written by a forked
        child (host/bgsnap.py). One that would be over `max_snapshot_bytes` once wrapped
        with its configuration is dropped when its turn comes (see `snapshot_fits`)."""
        if self.compact_wish is None or index > self.compact_wish[0]:
            self.compact_wish = (index, bytes(data))

    def snapshot_fits(self, size_bytes: int) -> bool:
        """Whether a snapshot of `size_bytes` as stored and sent (wrapped with its
        configuration, see `Raft.snapshot_wrap_bytes`) is within `max_snapshot_bytes`, the
        bound every follower holds a transfer to. One that is not is skipped, never fatal:
        the log keeps every entry past the last snapshot and grows (until the disk is full,
        which stalls the node as any full disk does). Logged once, until a snapshot fits
        again. Hosts ask before they build one."""
        limit = self.core.config.max_snapshot_bytes
        if size_bytes <= limit:
            return True
        if not self.snapshot_too_big:
            self.snapshot_too_big = True
            log.error(
                "node %d: a snapshot of %d bytes is over max_snapshot_bytes (%d): not "
                "compacting; the log keeps growing", self.core.id, size_bytes, limit,
            )  # fmt: skip
        return False

    # -- the Ready loop ------------------------------------------------------------------

    def process(self, batches_max: int, interrupted: Callable[[], bool] = bool) -> bool:
        """Handle Readys: a stalled one first, then up to `batches_max` new ones, stopping
        early when `interrupted()` (asked between batches: messages wait). True when no
        Ready is left; False when one waits for room on the disk or the budget ran out."""
        if self.stalled is not None:
            rd, early = self.stalled
            if not self.host.save(rd):
                return False
            self.stalled = None
            self.finish(rd, early)
        if self.compact_wish is not None:  # one asked for between Readys (a background snapshot)
            self.compact_to_wish()
        for batch in range(batches_max):
            if not self.core.has_ready():
                return True
            if batch and interrupted():
                return False
            rd = self.core.ready()
            early = self.may_send_before_persist(rd)
            if early:  # a leader's APPENDs go out before its own fsync (thesis §10.2.1)
                self.host.send(rd.messages)
                self.host.flush()
            if not self.host.save(rd):  # 1. persist: one fsync for the batch (when needed)
                self.stalled = (rd, early)
                return False
            self.finish(rd, early)
        return not self.core.has_ready()

    def finish(self, rd: Ready, early: bool) -> None:
        """Everything after `rd` is on disk: send, apply, serve reads, advance, compact."""
        if rd.hard_state is not None:
            self.durable_term_vote = (rd.hard_state.term, rd.hard_state.vote)
        if not early:  # 2. send: a follower's acks leave before it spends time applying
            self.host.send(rd.messages)
            self.host.flush()
        self.apply(rd)  # 3. apply, answering clients
        if self.reads_waiting:
            self.serve_reads(_applied_after(rd, self.core.log.applied))
        self.host.flush()  # the answers leave now, not after the next batch's fsync
        self.core.advance(rd)  # 4. advance
        core = self.core
        if (core.role, core.term, core.lead) != self.last_role:
            self.check_role()
        if self.compact_wish is not None:
            self.compact_to_wish()

    def compact_to_wish(self) -> None:
        """Compact to the latest snapshot asked for (`compact`), if any: only between
        Readys, never while one is held for want of disk room."""
        if self.compact_wish is not None and self.stalled is None:
            index, data = self.compact_wish
            self.compact_wish = None
            if not self.core.can_compact(index):
                return
            if not self.snapshot_fits(len(data) + self.core.snapshot_wrap_bytes(index)):
                return
            if self.core.compact(index, data):
                self.snapshot_too_big = False
                log.debug("node %d compacted to %d", self.core.id, index)

    def may_send_before_persist(self, rd: Ready) -> bool:
        """Whether `rd`'s messages may leave before `rd` is on disk: a leader's batch that
        changes neither term nor vote and installs no snapshot. Its messages then depend only
        on the durable term and on its own new entries, which followers may store first
        (the core counts the leader toward commit only once its copy is durable); replies
        that acknowledge entries come from followers, which always persist first."""
        if self.core.role is not Role.LEADER or rd.apply_snapshot is not None:
            return False
        # A snapshot that is not to be applied is the leader's own compaction: it covers
        # only applied entries, so no message depends on it being on disk, and its heartbeats
        # must not wait for the log rewrite that comes with it.
        hs = rd.hard_state
        return hs is None or (hs.term, hs.vote) == self.durable_term_vote

    def apply(self, rd: Ready) -> None:
        """Restore `rd`'s snapshot, apply its entries, note its confirmed reads."""
        if rd.apply_snapshot is not None:
            snap = rd.apply_snapshot
            self.app.restore(snap.meta.index, app_data(snap.data))
        for entry in rd.committed_entries:
            self.app.apply(entry)
        for rs in rd.read_states:  # confirmed: served once applied, even if leadership goes
            self.reads_asked.discard(rs.context)
            asked = self.round_asked.pop(rs.context, None)
            if asked is not None:
                self.lease_until = max(self.lease_until, asked + self.lease_s)
            self.reads_waiting.append((rs.index, rs.context))
        if rd.committed_entries or rd.apply_snapshot is not None:
            self.app.after_apply()

    def serve_reads(self, applied: int) -> None:
        """Answer the confirmed reads whose read index is applied (`applied`)."""
        if not self.reads_waiting:
            return
        still = []
        for index, context in self.reads_waiting:
            if index <= applied:
                self.app.read_ready(context)
            else:
                still.append((index, context))
        self.reads_waiting = still

    def check_role(self) -> None:
        """Tell the application about role, term or leader changes; fail lost reads."""
        now = (self.core.role, self.core.term, self.core.lead)
        if now == self.last_role:
            return
        before, self.last_role = self.last_role, now
        if before[0] is Role.LEADER and (now[0] is not Role.LEADER or now[1] != before[1]):
            self.lease_until, self.round_asked = -math.inf, {}
            lost, self.reads_asked = self.reads_asked, set()
            for context in lost:
                self.app.read_failed(context)
        log.info("node %d: %s term %d leader %d", self.core.id, now[0].name, now[1], now[2])
        self.app.role_changed(*now)


def _applied_after(rd: Ready, applied: int) -> int:
    """The applied index once `rd`'s snapshot and committed entries are applied."""
    if rd.apply_snapshot is not None:
        applied = max(applied, rd.apply_snapshot.meta.index)
    if rd.committed_entries:
        applied = max(applied, rd.committed_entries[-1].index)
    return applied
