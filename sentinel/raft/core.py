"""The raft core: a deterministic, sans-I/O state machine (in the style of etcd-io/raft).

Inputs: `tick()`, `step(message)`, `propose(data)`, `read_index(context)`,
`transfer_leadership(to_id)`, `compact(index, data)`. Output: `ready()` batches, handed back
with `advance(ready)`. No clock, socket, thread, file or global random source is used.
This module holds the public face and the Ready bookkeeping; role changes and ticks are in
`roles.py`, message handling in `step.py` and sending in `replicate.py`.
"""

from __future__ import annotations

import logging
import random
from collections import deque

from sentinel.raft.config import Config
from sentinel.raft.errors import NotLeader, ProposalDropped, RaftError, invariant
from sentinel.raft.log import RaftLog
from sentinel.raft.messages import (
    NONE,
    Entry,
    EntryKind,
    HardState,
    Message,
    ReadState,
    Role,
    Snapshot,
    SnapshotMeta,
    Status,
)
from sentinel.raft.progress import Progress
from sentinel.raft.readonly import ReadOnly
from sentinel.raft.ready import PersistentState, Ready
from sentinel.raft.replicate import Replication
from sentinel.raft.roles import Roles
from sentinel.raft.step import Stepping

log = logging.getLogger(__name__)


class Raft(Roles, Stepping, Replication):
    """One raft peer's state machine. Build it from recovered state (or none, for a new node).

    The application restores `state.snapshot.data` itself before driving the core; the core
    then delivers committed entries from snapshot index + 1 on.

    Invariants, checked after every input by `check_invariants`: applied <= committed <=
    last index; the last entry's term is at most the current term; a vote goes to a peer;
    and the node is leader exactly when it names itself as the leader.
    """

    def __init__(
        self, config: Config, rng: random.Random, state: PersistentState | None = None
    ) -> None:
        state = state or PersistentState()
        self.config = config
        self.id = config.node_id
        self.peers = tuple(sorted(config.peer_ids))
        self.followers = tuple(p for p in self.peers if p != self.id)
        self._rng = rng
        meta = state.snapshot.meta if state.snapshot else SnapshotMeta()
        self.log = RaftLog(meta, state.entries)
        hs = state.hard_state
        if self.log.last_term > hs.term:
            raise ValueError(f"log has term {self.log.last_term} > hard state term {hs.term}")
        if hs.vote != NONE and hs.vote not in self.peers:
            raise ValueError(f"hard state votes for {hs.vote}, not a peer")
        # commit is persisted lazily and may be ahead of what reached the disk: clamp it.
        self.log.committed = max(meta.index, min(hs.commit, self.log.last_index))
        self.term = hs.term
        self.vote = hs.vote
        self.lead = NONE
        self.role = Role.FOLLOWER
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.randomized_election_ticks = config.election_ticks
        self.lead_transferee = NONE
        #: With lease reads: refuse votes for an election timeout after starting (in_lease).
        self.start_guard = config.lease_reads
        self.votes: dict[int, bool] = {}
        self.prs: dict[int, Progress] = {}
        self.read_only = ReadOnly(config.max_pending_reads)
        #: Reads that arrived before this leader committed an entry of its term.
        self.deferred_reads: list[bytes] = []
        self.uncommitted_bytes = 0
        self.msgs: deque[Message] = deque(maxlen=config.max_queued_msgs)  # oldest dropped
        self.read_states: list[ReadState] = []
        #: The latest snapshot, whole: sent to followers that are behind the log start.
        self.snapshot = state.snapshot
        self.snapshot_to_persist: Snapshot | None = None
        self.snapshot_to_apply: Snapshot | None = None
        #: Leader: proposals or commit news not yet broadcast; a read round not yet sent.
        self.pending_append = False
        self.pending_heartbeat = False
        #: Leader: a commit advance followers have not been told of. With
        #: `commit_news_on_tick` (set by a driver with a real clock) it rides on the next
        #: APPEND, or goes out at the next tick, instead of costing an APPEND round of its
        #: own right away; either way a follower learns it within one tick.
        self.commit_news_on_tick = False
        self.pending_commit_news = False
        #: Leader: the followers each APPEND goes to at once (all unless lazy_followers);
        #: with `pending_all`, the next broadcast goes to every follower (a tick's).
        self.eager: tuple[int, ...] = self.followers
        self.pending_all = False
        #: Leader: the last index at the previous tick (see `choose_eager`).
        self.last_index_at_tick = 0
        self.prev_hard_state = HardState(self.term, self.vote, self.log.committed)
        self._outstanding: Ready | None = None
        self.become_follower(self.term, NONE)
        self.check_invariants()

    # ----------------------------------------------------------------- public inputs

    def tick(self) -> None:
        """Advance logical time by one tick."""
        if self.role is Role.LEADER:
            self.tick_heartbeat()
        else:
            self.tick_election()
        self.check_invariants()

    def propose(self, data: bytes) -> tuple[int, int]:
        """Append a command; returns its (index, term). It commits only if this term holds.

        Raises NotLeader (with a hint) on a non-leader, ProposalDropped when a limit is
        reached or a leadership transfer is under way.
        """
        if self.role is not Role.LEADER:
            raise NotLeader(self.lead or None)
        if self.lead_transferee != NONE:
            raise ProposalDropped(f"leadership transfer to {self.lead_transferee} under way")
        if len(data) > self.config.max_entry_bytes:
            raise ProposalDropped(f"entry of {len(data)} bytes is over max_entry_bytes")
        entry = Entry(self.term, self.log.last_index + 1, bytes(data), EntryKind.NORMAL)
        over = self.uncommitted_bytes + entry.size_bytes > self.config.max_uncommitted_bytes
        if over and self.uncommitted_bytes > 0:
            raise ProposalDropped("too many uncommitted bytes; retry later")
        self.append_entry(entry)
        self.check_invariants()
        return entry.index, entry.term

    def read_index(self, context: bytes, lease: bool = False) -> None:
        """Ask for a linearizable read point; answered as a ReadState in a later Ready.

        `context` must be non-empty and unique among pending reads. Raises NotLeader on a
        non-leader and ProposalDropped when too many reads are pending. `lease`: the driver
        vouches that a quorum confirmed this leadership less than the lease time ago (with
        `config.lease_reads`): the read point is the commit index at once, without a
        heartbeat round, unless a leadership transfer is under way.
        """
        if self.role is not Role.LEADER:
            raise NotLeader(self.lead or None)
        if not context:
            raise ValueError("read_index needs a non-empty context")
        if context in self.read_only or context in self.deferred_reads:
            raise ValueError(f"read context {context!r} is already pending")
        if len(self.read_only) + len(self.deferred_reads) >= self.config.max_pending_reads:
            raise ProposalDropped("too many pending reads")
        leased = lease and self.config.lease_reads and self.lead_transferee == NONE
        if len(self.peers) == 1 or (leased and self.committed_in_current_term()):
            self.read_states.append(ReadState(self.log.committed, context))
        elif not self.committed_in_current_term():
            self.deferred_reads.append(context)  # §6.4 step 1: wait for this term's commit
        else:
            self.read_only.add_request(self.log.committed, context, self.id)
            self.pending_heartbeat = True

    def transfer_leadership(self, to_id: int) -> None:
        """Hand leadership to `to_id` (thesis §3.10): catch it up, then send TIMEOUT_NOW.

        Proposals are refused until it completes or an election timeout passes.
        """
        if self.role is not Role.LEADER:
            raise NotLeader(self.lead or None)
        if to_id not in self.peers:
            raise ValueError(f"{to_id} is not a peer")
        if to_id == self.id or to_id == self.lead_transferee:
            return
        self.lead_transferee = to_id
        self.election_elapsed = 0  # the transfer must finish within an election timeout
        if self.prs[to_id].match == self.log.last_index:
            self.send_timeout_now(to_id)
        else:
            self.send_append(to_id)
        self.check_invariants()

    def compact(self, index: int, data: bytes) -> bool:
        """The application's snapshot of its state at `index` (<= applied): drop the log up
        to it. Returns False (and does nothing) when `index` is not past the last snapshot."""
        if index <= self.log.snapshot_index:
            return False
        if index > self.log.applied:
            raise ValueError(f"cannot compact to {index}: applied is only {self.log.applied}")
        if len(data) > self.config.max_snapshot_bytes:
            raise ValueError(f"snapshot of {len(data)} bytes is over max_snapshot_bytes")
        meta = SnapshotMeta(index, self.log.term(index) or 0)
        self.log.compact(index)
        self.snapshot = Snapshot(meta, bytes(data))
        self.snapshot_to_persist = self.snapshot
        self.check_invariants()
        return True

    def step(self, m: Message) -> None:
        """Handle a message from a peer. Raises InvalidMessage (state unchanged) for garbage."""
        self.validate(m)
        self.step_message(m)
        self.check_invariants()

    # ------------------------------------------------------------------ output

    def has_ready(self) -> bool:
        """Whether `ready()` would return work (False while a Ready awaits `advance`)."""
        if self._outstanding is not None:
            return False
        return bool(
            self.msgs
            or self.read_states
            or self.pending_append
            or self.pending_heartbeat
            or self.log.stable < self.log.last_index
            or self.snapshot_to_persist
            or self.snapshot_to_apply
            or self.log.committed > self.log.applied
            or self._hard_state_changed()
        )

    def _hard_state_changed(self) -> bool:
        """`hard_state() != prev_hard_state`, without building a HardState: the loop asks
        after every message."""
        prev = self.prev_hard_state
        return self.term != prev.term or self.vote != prev.vote or self.log.committed != prev.commit

    def ready(self) -> Ready:
        """The next batch of work. Call `advance(ready)` when it is done."""
        if self._outstanding is not None:
            raise RaftError("advance() the previous Ready before asking for another")
        self.flush_broadcasts()
        hs = self.hard_state()
        prev = self.prev_hard_state
        entries = self.log.unstable_entries()
        start = max(self.log.applied, self.log.snapshot_index) + 1
        committed = ()
        if start <= self.log.committed:
            committed = self.log.slice(
                start,
                self.log.committed + 1,
                self.config.max_committed_bytes_per_ready,
                self.config.max_committed_entries_per_ready,
            )
        rd = Ready(
            hard_state=hs if hs != prev else None,
            entries=entries,
            snapshot=self.snapshot_to_persist,
            messages=tuple(self.msgs),
            apply_snapshot=self.snapshot_to_apply,
            committed_entries=committed,
            read_states=tuple(self.read_states),
            must_sync=bool(entries or self.snapshot_to_persist)
            or (hs.term, hs.vote) != (prev.term, prev.vote),
        )
        self.msgs.clear()
        self.read_states = []
        self._outstanding = rd
        return rd

    def advance(self, rd: Ready) -> None:
        """The driver persisted, sent and applied `rd`."""
        if rd is not self._outstanding:
            raise RaftError("advance() must get the Ready that ready() returned last")
        self._outstanding = None
        if rd.hard_state is not None:
            self.prev_hard_state = rd.hard_state
        if rd.entries:
            self.log.stable_to(rd.entries[-1].index, rd.entries[-1].term)
            if self.role is Role.LEADER:
                self.maybe_commit()  # our own copy is durable now: it counts
        if rd.snapshot is not None and rd.snapshot is self.snapshot_to_persist:
            self.snapshot_to_persist = None
        if rd.apply_snapshot is not None:
            self.log.applied = max(self.log.applied, rd.apply_snapshot.meta.index)
            if rd.apply_snapshot is self.snapshot_to_apply:
                self.snapshot_to_apply = None
        if rd.committed_entries:
            self.log.applied_to(rd.committed_entries[-1].index)
        self.check_invariants()

    def status(self) -> Status:
        """A frozen record of this node's state."""
        leader = self.role is Role.LEADER
        return Status(
            id=self.id,
            role=self.role,
            term=self.term,
            vote=self.vote,
            leader=self.lead,
            commit=self.log.committed,
            applied=self.log.applied,
            first_index=self.log.first_index,
            last_index=self.log.last_index,
            snapshot_index=self.log.snapshot_index,
            snapshot_term=self.log.snapshot_term,
            lead_transferee=self.lead_transferee,
            match={p: pr.match for p, pr in self.prs.items()} if leader else {},
            progress={p: pr.state.value for p, pr in self.prs.items()} if leader else {},
        )

    def hard_state(self) -> HardState:
        """The current (term, vote, commit)."""
        return HardState(self.term, self.vote, self.log.committed)

    # -------------------------------------------------------------- invariants

    def committed_in_current_term(self) -> bool:
        """Whether this leader has committed an entry of its own term."""
        return self.log.term(self.log.committed) == self.term

    def check_invariants(self) -> None:
        """The core's safety invariants; a failure is a bug. Checked after every input, so
        the common case is one expression; `explain_invariants` says which one broke."""
        lg = self.log
        last = lg.last_index
        if not (
            lg.applied <= lg.committed <= last
            and lg.stable <= last
            and (lg.snapshot_index <= lg.applied or self.snapshot_to_apply is not None)
            and lg.last_term <= self.term
            and (self.vote == NONE or self.vote in self.peers)
            and (self.role is Role.LEADER) == (self.lead == self.id)
        ):
            self.explain_invariants()

    def explain_invariants(self) -> None:
        """Raise InvariantError for the first invariant that does not hold."""
        lg = self.log
        invariant(lg.committed <= lg.last_index, f"commit {lg.committed} > last {lg.last_index}")
        invariant(lg.applied <= lg.committed, f"applied {lg.applied} > commit {lg.committed}")
        restoring = self.snapshot_to_apply is not None
        invariant(restoring or lg.snapshot_index <= lg.applied, "snapshot beyond applied")
        invariant(lg.stable <= lg.last_index, "stable beyond the log")
        invariant(lg.last_term <= self.term, "log term beyond the current term")
        invariant(self.vote == NONE or self.vote in self.peers, "vote for a stranger")
        invariant((self.role is Role.LEADER) == (self.lead == self.id), "leader mismatch")
