"""Message handling: the term rules common to every role, then one step function per role.

A mixin of `Raft` (core.py); it works on the core's state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sentinel.raft.errors import InvalidMessage
from sentinel.raft.messages import NONE, Message, MessageType, Role

log = logging.getLogger(__name__)

T = MessageType
_VOTE_REQUESTS = frozenset({T.VOTE, T.PRE_VOTE})
_FROM_LEADER = frozenset({T.APPEND, T.HEARTBEAT, T.SNAPSHOT})


class Stepping:
    """Raft's receive rules (paper Figure 2, thesis §9.6 pre-vote, §6.2 check-quorum)."""

    def validate(self, m: Message) -> None:
        """Reject what no correct peer sends, before any state changes."""
        if m.dst != self.id:
            raise InvalidMessage(f"message for {m.dst} delivered to {self.id}")
        if m.src == self.id or m.src not in self.peers:
            raise InvalidMessage(f"message from unknown peer {m.src}")
        if m.term < 0 or m.index < 0 or m.log_term < 0 or m.commit < 0:
            raise InvalidMessage(f"negative field in {m.type.name} from {m.src}")
        for k, entry in enumerate(m.entries):
            if entry.index != m.index + 1 + k or not 0 < entry.term <= m.term:
                raise InvalidMessage(f"bad entry {k} in {m.type.name} from {m.src}")
        if m.entries and (m.type is not T.APPEND or m.entries[0].term < m.log_term):
            raise InvalidMessage(f"unexpected entries in {m.type.name} from {m.src}")
        if m.type is T.SNAPSHOT and m.snapshot is None:
            raise InvalidMessage(f"SNAPSHOT without a snapshot from {m.src}")

    def step_message(self, m: Message) -> None:
        """Apply the term rules, answer votes, then hand the message to the role."""
        if m.term > self.term:
            if m.type in _VOTE_REQUESTS and not m.force and self.in_lease():
                # Check-quorum lease: we heard from a live leader within the minimum election
                # timeout, so this (pre-)candidate cannot be needed: do not even answer.
                return
            if m.type is T.PRE_VOTE or (m.type is T.PRE_VOTE_RESP and not m.reject):
                pass  # a pre-vote never changes terms; a granted answer carries term + 1
            else:
                self.become_follower(m.term, m.src if m.type in _FROM_LEADER else NONE)
        elif m.term < self.term:
            self.step_stale(m)
            return
        if m.type in _VOTE_REQUESTS:
            self.handle_vote_request(m)
            return
        handler = _ROLE_STEPS[self.role]
        handler(self, m)

    def in_lease(self) -> bool:
        """Whether we heard from a leader (or are one) within the election timeout, or (with
        lease reads) started within it: we may have granted a lease before a crash."""
        return (
            self.config.check_quorum
            and (self.lead != NONE or self.start_guard)
            and self.election_elapsed < self.config.election_ticks
        )

    def step_stale(self, m: Message) -> None:
        """A message from an older term."""
        if m.type in (T.APPEND, T.HEARTBEAT) and (self.config.check_quorum or self.config.pre_vote):
            # A deposed leader (or one cut off while we moved on) learns our term from this
            # and steps down; otherwise, with pre-vote, it could never hear about it.
            self.send(Message(T.APPEND_RESP, self.id, m.src, self.term))
        elif m.type is T.PRE_VOTE:
            self.send(Message(T.PRE_VOTE_RESP, self.id, m.src, self.term, reject=True))

    def handle_vote_request(self, m: Message) -> None:
        """Raft §5.2, §5.4.1: grant if we have not voted otherwise and its log is up to date."""
        can_vote = (
            self.vote == m.src
            or (self.vote == NONE and self.lead == NONE)
            or (m.type is T.PRE_VOTE and m.term > self.term)
        )
        resp = T.VOTE_RESP if m.type is T.VOTE else T.PRE_VOTE_RESP
        if can_vote and self.log.is_up_to_date(m.index, m.log_term):
            self.send(Message(resp, self.id, m.src, m.term))
            if m.type is T.VOTE:
                self.election_elapsed = 0
                self.set_vote(m.src)
        else:
            self.send(Message(resp, self.id, m.src, self.term, reject=True))

    def campaign(self, pre_vote: bool, transfer: bool) -> None:
        """Start a pre-election or an election; a one-node cluster wins at once."""
        if pre_vote:
            self.become_pre_candidate()
            kind, term = T.PRE_VOTE, self.term + 1
        else:
            self.become_candidate()
            kind, term = T.VOTE, self.term
        if self.record_vote(self.id, granted=True):
            return
        for peer in self.peers:
            if peer != self.id:
                self.send(
                    Message(
                        kind,
                        self.id,
                        peer,
                        term,
                        log_term=self.log.last_term,
                        index=self.log.last_index,
                        force=transfer,
                    )
                )

    def record_vote(self, src: int, granted: bool) -> bool:
        """Count a (pre-)vote; on a decision, move on. Returns True when decided."""
        self.votes.setdefault(src, granted)
        yes = sum(1 for v in self.votes.values() if v)
        no = len(self.votes) - yes
        if yes >= self.config.quorum:
            if self.role is Role.PRE_CANDIDATE:
                self.campaign(pre_vote=False, transfer=False)
            else:
                self.become_leader()
            return True
        if no > len(self.peers) - self.config.quorum:
            self.become_follower(self.term, NONE)
            return True
        return False

    # ------------------------------------------------------------ role steps

    def step_follower(self, m: Message) -> None:
        """Follower: accept the leader's messages; campaign at once on TIMEOUT_NOW."""
        if m.type in _FROM_LEADER:
            self.election_elapsed = 0
            self.lead = m.src
            self.handle_from_leader(m)
        elif m.type is T.TIMEOUT_NOW:
            log.debug("node %d campaigns: leadership transfer from %d", self.id, m.src)
            self.campaign(pre_vote=False, transfer=True)

    def step_candidate(self, m: Message) -> None:
        """(Pre-)candidate: a leader of our term wins; otherwise count answers of our kind."""
        if m.type in _FROM_LEADER:
            self.become_follower(m.term, m.src)
            self.handle_from_leader(m)
        elif (m.type is T.PRE_VOTE_RESP and self.role is Role.PRE_CANDIDATE) or (
            m.type is T.VOTE_RESP and self.role is Role.CANDIDATE
        ):
            self.record_vote(m.src, granted=not m.reject)

    def step_leader(self, m: Message) -> None:
        """Leader: follow the followers' answers."""
        pr = self.prs.get(m.src)
        if pr is None:
            return
        if m.type is T.APPEND_RESP:
            pr.recent_active = True
            self.handle_append_response(m, pr)
        elif m.type is T.HEARTBEAT_RESP:
            pr.recent_active = True
            self.handle_heartbeat_response(m, pr)

    def handle_from_leader(self, m: Message) -> None:
        """Dispatch APPEND, HEARTBEAT and SNAPSHOT from the current leader."""
        if m.type is T.APPEND:
            self.handle_append(m)
        elif m.type is T.HEARTBEAT:
            self.handle_heartbeat(m)
        else:
            self.handle_snapshot(m)

    # -------------------------------------------------------- follower handlers

    def handle_append(self, m: Message) -> None:
        """Raft §5.3: append if the logs match at the prev entry; else hint the leader back."""
        if m.index < self.log.committed:
            self.send(Message(T.APPEND_RESP, self.id, m.src, self.term, index=self.log.committed))
            return
        last_new = self.log.maybe_append(m.index, m.log_term, m.commit, m.entries)
        if last_new is not None:
            self.send(Message(T.APPEND_RESP, self.id, m.src, self.term, index=last_new))
            return
        hint_index, hint_term = self.log.find_conflict_by_term(m.index, m.log_term)
        self.send(
            Message(
                T.APPEND_RESP,
                self.id,
                m.src,
                self.term,
                index=m.index,
                reject=True,
                reject_hint=hint_index,
                log_term=hint_term,
            )
        )

    def handle_heartbeat(self, m: Message) -> None:
        """Commit what the leader says (it never exceeds our match) and echo the context."""
        self.log.commit_to(min(m.commit, self.log.last_index))
        self.send(Message(T.HEARTBEAT_RESP, self.id, m.src, self.term, context=m.context))

    def handle_snapshot(self, m: Message) -> None:
        """InstallSnapshot (Raft §7): replace the log unless it already covers the snapshot."""
        snap = m.snapshot
        assert snap is not None  # validated
        meta = snap.meta
        if meta.index <= self.log.committed:
            pass  # stale: we already have (and committed) everything it holds
        elif self.log.match_term(meta.index, meta.term):
            self.log.commit_to(meta.index)  # our log holds it: just fast-forward the commit
        else:
            log.debug("node %d restores snapshot %d/%d", self.id, meta.index, meta.term)
            self.log.restore(meta)
            self.snapshot = snap
            self.snapshot_to_persist = snap
            self.snapshot_to_apply = snap
        # Answer with our commit: everything up to it matches the leader's log.
        self.send(Message(T.APPEND_RESP, self.id, m.src, self.term, index=self.log.committed))


_ROLE_STEPS: dict[Role, Callable[[Stepping, Message], None]] = {
    Role.FOLLOWER: Stepping.step_follower,
    Role.PRE_CANDIDATE: Stepping.step_candidate,
    Role.CANDIDATE: Stepping.step_candidate,
    Role.LEADER: Stepping.step_leader,
}
