"""Elections: the election tick, campaigns, votes and pre-votes, `step_candidate`, and
check-quorum (Raft §5.2, §5.4.1; thesis §9.6 pre-vote, §6.2 check-quorum).

Functions of the `Raft` (core.py) they are given as `r`; `Raft.become_follower`,
`become_pre_candidate` and `become_candidate` make `tick_election` the node's tick, the last
two `step_candidate` its step.

Invariants kept here:
- Election safety: at most one vote per term (`Raft.set_vote` refuses a second), and a vote
  only for a candidate whose log is at least as up to date as ours (§5.4.1).
- A pre-vote never changes a term or a vote.
- A node that heard from a live leader within the election timeout (or, with lease reads,
  started within it) does not answer a (pre-)vote request that is not a leadership transfer:
  the leader's lease (check-quorum) holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sentinel.raft.messages import NONE, Message, MessageType, Role

if TYPE_CHECKING:
    from sentinel.raft.core import Raft

T = MessageType
#: Messages only a leader sends.
FROM_LEADER = frozenset({T.APPEND, T.HEARTBEAT, T.SNAPSHOT})


def tick_election(r: Raft) -> None:
    """Followers and candidates: start a (pre-)election when the timeout passes."""
    r.election_elapsed += 1
    if r.election_elapsed >= r.config.election_ticks:
        r.start_guard = False  # any lease granted before a restart has run out
    if r.election_elapsed >= r.randomized_election_ticks and r.id in r.voters:
        # (a learner, a removed node and one joining never campaign: see reconfig.py)
        r.election_elapsed = 0
        campaign(r, pre_vote=r.config.pre_vote, transfer=False)


def campaign(r: Raft, pre_vote: bool, transfer: bool) -> None:
    """Start a pre-election or an election; a one-node cluster wins at once."""
    if pre_vote:
        r.become_pre_candidate()
        kind, term = T.PRE_VOTE, r.term + 1
    else:
        r.become_candidate()
        kind, term = T.VOTE, r.term
    if record_vote(r, r.id, granted=True):
        return
    for peer in r.voters:
        if peer != r.id:
            r.send(
                Message(
                    kind,
                    r.id,
                    peer,
                    term,
                    log_term=r.log.last_term,
                    index=r.log.last_index,
                    force=transfer,
                )
            )


def record_vote(r: Raft, src: int, granted: bool) -> bool:
    """Count a (pre-)vote of a voter; on a decision, move on. Returns True when decided."""
    if src not in r.voters:
        return False
    r.votes.setdefault(src, granted)
    yes = sum(1 for v in r.votes.values() if v)
    no = len(r.votes) - yes
    if yes >= r.quorum:
        if r.role is Role.PRE_CANDIDATE:
            campaign(r, pre_vote=False, transfer=False)
        else:
            r.become_leader()
        return True
    if no > len(r.voters) - r.quorum:
        r.become_follower(r.term, NONE)
        return True
    return False


def step_candidate(r: Raft, m: Message) -> None:
    """(Pre-)candidate: a leader of our term wins; otherwise count answers of our kind."""
    if m.type in FROM_LEADER:
        r.become_follower(m.term, m.src)
        r.role_step(r, m)  # now a follower's message
    elif (m.type is T.PRE_VOTE_RESP and r.role is Role.PRE_CANDIDATE) or (
        m.type is T.VOTE_RESP and r.role is Role.CANDIDATE
    ):
        record_vote(r, m.src, granted=not m.reject)


def handle_vote_request(r: Raft, m: Message) -> None:
    """Raft §5.2, §5.4.1: grant if we have not voted otherwise and its log is up to date."""
    can_vote = (
        r.vote == m.src
        or (r.vote == NONE and r.lead == NONE)
        or (m.type is T.PRE_VOTE and m.term > r.term)
    )
    resp = T.VOTE_RESP if m.type is T.VOTE else T.PRE_VOTE_RESP
    if can_vote and r.log.is_up_to_date(m.index, m.log_term):
        r.send(Message(resp, r.id, m.src, m.term))
        if m.type is T.VOTE:
            r.election_elapsed = 0
            r.set_vote(m.src)
    else:
        r.send(Message(resp, r.id, m.src, r.term, reject=True))


def answer_stale(r: Raft, m: Message) -> None:
    """A message from an older term: with check-quorum or pre-vote, tell its sender ours."""
    if m.type in (T.APPEND, T.HEARTBEAT) and (r.config.check_quorum or r.config.pre_vote):
        # A deposed leader (or one cut off while we moved on) learns our term from this
        # and steps down; otherwise, with pre-vote, it could never hear about it.
        r.send(Message(T.APPEND_RESP, r.id, m.src, r.term))
    elif m.type is T.PRE_VOTE:
        r.send(Message(T.PRE_VOTE_RESP, r.id, m.src, r.term, reject=True))


def in_lease(r: Raft) -> bool:
    """Whether we heard from a leader (or are one) within the election timeout, or (with
    lease reads) started within it: we may have granted a lease before a crash."""
    return (
        r.config.check_quorum
        and (r.lead != NONE or r.start_guard)
        and r.election_elapsed < r.config.election_ticks
    )


def quorum_active(r: Raft) -> bool:
    """Leader, check quorum (thesis §6.2): a quorum was heard from this round; starts a
    new round."""
    voters = r.voters
    active = sum(1 for p, pr in r.prs.items() if p in voters and (p == r.id or pr.recent_active))
    for peer, pr in r.prs.items():
        pr.recent_active = peer == r.id
    return active >= r.quorum
