"""The raft core: a deterministic, sans-I/O state machine (in the style of etcd-io/raft).

Inputs: `tick()`, `step(message)`, `propose(data)`, `read_index(context)`,
`transfer_leadership(to_id)`, `compact(index, data)`. Output: `ready()` batches, handed back
with `advance(ready)`. No clock, socket, thread, file or global random source is used.

`Raft` holds all of a peer's state, the public inputs, the term rules every message passes,
the role changes and the Ready bookkeeping. What a role does is in one module per concept,
as functions of the `Raft` (etcd's raft.go `stepLeader` / `stepFollower` / `stepCandidate`):
`become_*` set `role_step` and `role_tick` to them, and `step` / `tick` call through.

    leader.py    step_leader, the heartbeat tick, proposals, ReadIndex, transfers,
                 APPEND/SNAPSHOT/heartbeat sending, commit advancement, lazy followers
    follower.py  step_follower, the leader's APPEND/HEARTBEAT/SNAPSHOT handled
    election.py  the election tick, campaigns, (pre-)votes, step_candidate, check-quorum
    reconfig.py  membership changes: proposing, learners' promotion, a removed leader
    compaction.py
                 where the log may be compacted, and the snapshot that replaces it

Invariants kept here (checked after every input by `check_invariants`): applied <=
committed <= last index; the last entry's term is at most the current term; the term never
goes back and a new term clears the vote; at most one vote per term, for a peer; the node is
leader exactly when it names itself as the leader.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Callable

from sentinel.raft import compaction, coreviews, election, follower, leader, reconfig
from sentinel.raft.config import Config
from sentinel.raft.errors import (
    InvariantError,
    NotLeader,
    RaftError,
    invariant,
)
from sentinel.raft.log import RaftLog
from sentinel.raft.membership import ConfChangeOp, Membership
from sentinel.raft.messages import (
    NONE,
    Entry,
    EntryKind,
    HardState,
    Message,
    MessageType,
    ReadState,
    Role,
    Snapshot,
    SnapshotMeta,
    Status,
)
from sentinel.raft.progress import Progress
from sentinel.raft.readonly import ReadOnly
from sentinel.raft.ready import PersistentState, Ready

log = logging.getLogger(__name__)

T = MessageType
_VOTE_REQUESTS = frozenset({T.VOTE, T.PRE_VOTE})


class Raft:
    """One raft peer's state machine. Build it from recovered state (or none, for a new node).

    The application restores `state.snapshot.data` itself before driving the core; the core
    then delivers committed entries from snapshot index + 1 on. The invariants it keeps are
    in the module docstring.
    """

    def __init__(
        self, config: Config, rng: random.Random, state: PersistentState | None = None
    ) -> None:
        state = state or PersistentState()
        self.config = config
        self.id = config.node_id
        #: The configuration before any in the log or snapshot (none for a joining node).
        self.bootstrap = Membership() if config.joining else Membership.bootstrap(config.peer_ids)
        self._rng = rng
        meta = state.snapshot.meta if state.snapshot else SnapshotMeta()
        self.log = RaftLog(meta, state.entries, reconfig.snapshot_conf(self, state.snapshot))
        #: The configuration in effect; voters, members, members but us (hot paths read them).
        self.membership = Membership()
        self.voters: tuple[int, ...] = ()
        self.peers: tuple[int, ...] = ()
        self.followers: tuple[int, ...] = ()
        hs = state.hard_state
        if self.log.last_term > hs.term:
            raise ValueError(f"log has term {self.log.last_term} > hard state term {hs.term}")
        if hs.vote < 0:
            raise ValueError(f"hard state votes for {hs.vote}")
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
        #: Follower: the snapshot transfer in progress, (sender, term, index, snapshot term)
        #: and the chunks received so far, at most `max_snapshot_bytes` (follower.take_chunk).
        self.snapshot_partial: tuple[tuple[int, int, int, int], bytearray] | None = None
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
        #: What this role does with a message and a tick: set by `become_*` to
        #: `leader.step_leader`, `follower.step_follower` or `election.step_candidate`, and
        #: to `leader.tick_heartbeat` or `election.tick_election`.
        self.role_step: Callable[[Raft, Message], None] = follower.step_follower
        self.role_tick: Callable[[Raft], None] = election.tick_election
        self.become_follower(self.term, NONE)
        self.refresh_membership()
        self.check_invariants()

    # ----------------------------------------------------------------- public inputs

    def tick(self) -> None:
        """Advance logical time by one tick."""
        self.role_tick(self)
        if self.role is Role.LEADER:
            reconfig.tick_learners(self)
            if self.id not in self.membership.voters:
                reconfig.maybe_retire(self)
        self.check_invariants()

    def propose(self, data: bytes) -> tuple[int, int]:
        """Append a command; returns its (index, term). It commits only if this term holds.

        Raises NotLeader (with a hint) on a non-leader, ProposalDropped when a limit is
        reached or a leadership transfer is under way.
        """
        if self.role is not Role.LEADER:
            raise NotLeader(self.lead or None)
        entry = leader.propose_entry(self, data)
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
        leader.start_read(self, context, lease)

    def change_membership(
        self, op: ConfChangeOp, node_id: int, expected_index: int | None = None
    ) -> tuple[int, int]:
        """Propose a single-server change (rules: reconfig.py); its entry's (index, term).
        Raises NotLeader, or ConfChangeRefused saying why (nothing changed)."""
        if self.role is not Role.LEADER:
            raise NotLeader(self.lead or None)
        entry = reconfig.propose_conf_change(self, op, node_id, expected_index)
        self.check_invariants()
        return entry.index, entry.term

    removed = property(reconfig.is_removed, doc="A committed configuration dropped us.")
    quorum = property(lambda self: self.membership.quorum, doc="A majority of the voters.")

    def refresh_membership(self) -> None:
        """Follow the log's configuration (see `reconfig.follow_log`)."""
        if self.log.membership is not self.membership:
            reconfig.follow_log(self)

    def transfer_leadership(self, to_id: int) -> None:
        """Hand leadership to `to_id` (thesis §3.10): catch it up, then send TIMEOUT_NOW.

        Proposals are refused until it completes or an election timeout passes.
        """
        if self.role is not Role.LEADER:
            raise NotLeader(self.lead or None)
        leader.start_transfer(self, to_id)
        self.check_invariants()

    def compact(self, index: int, data: bytes) -> bool:
        """The application's snapshot of its state at `index` (<= applied): drop the log up
        to it. False (nothing done) where `can_compact` says no; the rules (the wrapped
        configuration, the size bound) are in compaction.py."""
        done = compaction.compact(self, index, data)
        self.check_invariants()
        return done

    def can_compact(self, index: int) -> bool:
        """Whether `compact(index, ...)` would take a snapshot (hosts ask before making one)."""
        return compaction.can_compact(self, index)

    def snapshot_wrap_bytes(self, index: int) -> int:
        """The bytes `compact(index, data)` adds to `data`: the configuration at `index`."""
        return compaction.wrap_bytes(self, index)

    def step(self, m: Message) -> None:
        """Handle a message from a peer. Raises InvalidMessage (state unchanged) for garbage.

        The term rules come first (paper Figure 2, thesis §9.6 pre-vote, §6.2 check-quorum),
        then vote requests are answered whatever our role; the rest goes to the role."""
        coreviews.validate(self, m)
        if m.term > self.term:
            if m.type in _VOTE_REQUESTS and not m.force and election.in_lease(self):
                # Check-quorum lease: we heard from a live leader within the minimum election
                # timeout, so this (pre-)candidate cannot be needed: do not even answer.
                return
            if m.type is T.PRE_VOTE or (m.type is T.PRE_VOTE_RESP and not m.reject):
                pass  # a pre-vote never changes terms; a granted answer carries term + 1
            else:
                self.become_follower(m.term, m.src if m.type in election.FROM_LEADER else NONE)
        if m.term < self.term:
            election.answer_stale(self, m)
        elif m.type in _VOTE_REQUESTS:
            election.handle_vote_request(self, m)
        else:
            self.role_step(self, m)
        if self.log.confs[-1] is not self.membership:  # (refresh_membership, inline: hot)
            reconfig.follow_log(self)
        if self.role is Role.LEADER and self.id not in self.membership.voters:
            reconfig.maybe_retire(self)
        self.check_invariants()

    def send(self, m: Message) -> None:
        """Queue a message for the next Ready."""
        self.msgs.append(m)

    # ------------------------------------------------------------ role changes

    def reset(self, term: int) -> None:
        """Common to every role change: a new term clears the vote (one vote per term)."""
        if term != self.term:
            if not term > self.term:
                raise InvariantError(f"term going back from {self.term} to {term}")
            self.term = term
            self.vote = NONE
            self.snapshot_partial = None  # a transfer belongs to one leader's term
        self.lead = NONE
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.randomized_election_ticks = self._rng.randrange(
            self.config.election_ticks, 2 * self.config.election_ticks
        )
        self.lead_transferee = NONE
        self.votes = {}
        self.prs = {}
        self.read_only.reset()
        self.deferred_reads = []
        self.uncommitted_bytes = 0
        self.pending_append = False
        self.pending_heartbeat = False
        self.pending_commit_news = False
        self.eager = self.followers
        self.pending_all = False

    def become_follower(self, term: int, lead: int) -> None:
        """Follow `lead` (or nobody yet) in `term`."""
        self.reset(term)
        self.lead = lead
        self.role = Role.FOLLOWER
        self.role_step = follower.step_follower
        self.role_tick = election.tick_election

    def become_pre_candidate(self) -> None:
        """Pre-vote (thesis §9.6): ask whether we could win, without raising our term."""
        invariant(self.role is not Role.LEADER, "leader cannot become pre-candidate")
        self.reset(self.term)
        self.role = Role.PRE_CANDIDATE
        self.role_step = election.step_candidate
        self.role_tick = election.tick_election

    def become_candidate(self) -> None:
        """Raft §5.2: a new term, a vote for ourselves."""
        invariant(self.role is not Role.LEADER, "leader cannot become candidate")
        self.reset(self.term + 1)
        self.set_vote(self.id)
        self.role = Role.CANDIDATE
        self.role_step = election.step_candidate
        self.role_tick = election.tick_election

    def become_leader(self) -> None:
        """Raft §5.2/§8: lead, and append an empty entry of our term at once (so the Figure 8
        rule lets earlier entries commit and ReadIndex may start)."""
        if self.role is not Role.CANDIDATE:
            raise InvariantError(f"{self.role} cannot become leader")
        self.reset(self.term)
        self.lead = self.id
        self.role = Role.LEADER
        self.role_step = leader.step_leader
        self.role_tick = leader.tick_heartbeat
        last = self.log.last_index
        for peer in {*self.peers, self.id}:
            self.prs[peer] = leader.new_progress(self, last + 1)
        self.prs[self.id].match = last
        self.prs[self.id].become_replicate()
        self.last_index_at_tick = last
        leader.append_entry(self, Entry(self.term, last + 1, b"", EntryKind.EMPTY))
        log.debug("node %d became leader of term %d", self.id, self.term)

    def set_vote(self, vote: int) -> None:
        """Record our vote for this term; there is at most one."""
        if self.vote not in (NONE, vote):
            raise InvariantError(f"second vote in term {self.term}")
        self.vote = vote

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
        leader.flush_broadcasts(self)
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
            kept_entries=self.log.retained_entries() if self.snapshot_to_persist else None,
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
                leader.maybe_commit(self)  # our own copy is durable now: it counts
                reconfig.maybe_retire(self)
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
        return coreviews.status_of(self)

    def hard_state(self) -> HardState:
        """The current (term, vote, commit)."""
        return HardState(self.term, self.vote, self.log.committed)

    # -------------------------------------------------------------- invariants

    def committed_in_current_term(self) -> bool:
        """Whether this leader has committed an entry of its own term."""
        return self.log.term(self.log.committed) == self.term

    def check_invariants(self) -> None:
        """The core's safety invariants; a failure is a bug. Checked after every input, so
        the common case is one expression; `coreviews.explain_invariants` names the one."""
        lg = self.log
        last = lg.last_index
        if not (
            lg.applied <= lg.committed <= last
            and lg.stable <= last
            and (lg.snapshot_index <= lg.applied or self.snapshot_to_apply is not None)
            and lg.last_term <= self.term
            and self.vote >= 0
            and (self.role is Role.LEADER) == (self.lead == self.id)
        ):
            coreviews.explain_invariants(self)  # raises for the first that does not hold
