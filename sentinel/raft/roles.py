"""Role changes and ticks: becoming follower, (pre-)candidate or leader; election and
heartbeat timeouts, check-quorum.

A mixin of `Raft` (core.py); it works on the core's state.
"""

from __future__ import annotations

import logging

from sentinel.raft.errors import InvariantError, invariant
from sentinel.raft.messages import NONE, Entry, EntryKind, Role
from sentinel.raft.progress import Progress

log = logging.getLogger(__name__)


class Roles:
    """Raft §5.2 roles and timeouts (thesis §6.2 check-quorum, §9.6 pre-vote)."""

    # ------------------------------------------------------------ role changes

    def reset(self, term: int) -> None:
        """Common to every role change: a new term clears the vote (one vote per term)."""
        if term != self.term:
            if not term > self.term:
                raise InvariantError(f"term going back from {self.term} to {term}")
            self.term = term
            self.vote = NONE
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

    def become_pre_candidate(self) -> None:
        """Pre-vote (thesis §9.6): ask whether we could win, without raising our term."""
        invariant(self.role is not Role.LEADER, "leader cannot become pre-candidate")
        self.reset(self.term)
        self.role = Role.PRE_CANDIDATE

    def become_candidate(self) -> None:
        """Raft §5.2: a new term, a vote for ourselves."""
        invariant(self.role is not Role.LEADER, "leader cannot become candidate")
        self.reset(self.term + 1)
        self.set_vote(self.id)
        self.role = Role.CANDIDATE

    def become_leader(self) -> None:
        """Raft §5.2/§8: lead, and append an empty entry of our term at once (so the Figure 8
        rule lets earlier entries commit and ReadIndex may start)."""
        if self.role is not Role.CANDIDATE:
            raise InvariantError(f"{self.role} cannot become leader")
        self.reset(self.term)
        self.lead = self.id
        self.role = Role.LEADER
        last = self.log.last_index
        for peer in self.peers:
            pr = Progress(last + 1, self.config.max_inflight_msgs, self.config.max_inflight_bytes)
            pr.recent_active = True
            self.prs[peer] = pr
        self.prs[self.id].match = last
        self.prs[self.id].become_replicate()
        self.last_index_at_tick = last
        self.append_entry(Entry(self.term, last + 1, b"", EntryKind.EMPTY))
        log.debug("node %d became leader of term %d", self.id, self.term)

    def set_vote(self, vote: int) -> None:
        """Record our vote for this term; there is at most one."""
        if self.vote not in (NONE, vote):
            raise InvariantError(f"second vote in term {self.term}")
        self.vote = vote

    # ------------------------------------------------------------------- ticks

    def tick_election(self) -> None:
        """Followers and candidates: start a (pre-)election when the timeout passes."""
        self.election_elapsed += 1
        if self.election_elapsed >= self.config.election_ticks:
            self.start_guard = False  # any lease granted before a restart has run out
        if self.election_elapsed >= self.randomized_election_ticks:
            self.election_elapsed = 0
            self.campaign(pre_vote=self.config.pre_vote, transfer=False)

    def tick_heartbeat(self) -> None:
        """Leader: heartbeats, check-quorum rounds, transfer and snapshot timeouts."""
        self.heartbeat_elapsed += 1
        self.election_elapsed += 1
        if self.pending_commit_news or self.lazy_followers_behind():
            self.pending_append = self.pending_all = True  # broadcast with the next Ready
        if self.config.lazy_followers:
            self.choose_eager()
        for peer, pr in self.prs.items():
            if peer != self.id and pr.pending_snapshot:
                pr.snapshot_elapsed_ticks += 1
                if pr.snapshot_elapsed_ticks >= self.config.snapshot_timeout_ticks:
                    # No answer yet: probe just past the snapshot (cheap) rather than send
                    # it again while the follower may still be restoring it; a follower
                    # without it refuses the probe and is sent the snapshot anew.
                    pr.become_probe()
        if self.election_elapsed >= self.config.election_ticks:
            self.election_elapsed = 0
            if self.config.check_quorum and not self.quorum_active():
                log.debug("node %d steps down: no quorum heard in term %d", self.id, self.term)
                self.become_follower(self.term, NONE)
                return
            self.lead_transferee = NONE  # a transfer that did not finish in time is aborted
        if self.heartbeat_elapsed >= self.config.heartbeat_ticks:
            self.heartbeat_elapsed = 0
            self.broadcast_heartbeat(self.read_only.last_pending_context())

    def quorum_active(self) -> bool:
        """Check quorum (thesis §6.2): a quorum was heard from this round; starts a new round."""
        active = sum(1 for p, pr in self.prs.items() if p == self.id or pr.recent_active)
        for peer, pr in self.prs.items():
            pr.recent_active = peer == self.id
        return active >= self.config.quorum
