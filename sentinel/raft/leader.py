"""The leader: `step_leader`, the heartbeat tick, proposals, ReadIndex rounds, leadership
transfer, replication to the followers (APPEND, SNAPSHOT, heartbeats), commit advancement
and lazy followers.

Functions of the `Raft` (core.py) they are given as `r`; `Raft.become_leader` makes
`step_leader` and `tick_heartbeat` the node's step and tick.

Invariants kept here:
- Raft §5.4.2 / Figure 8: the commit index moves only to an entry of the leader's own term
  that a quorum holds; the leader counts itself only up to its durable log (`log.stable`).
- An APPEND is sent only when its previous entry is in our log; a follower behind our log
  start gets the snapshot instead, in chunks of `max_snapshot_chunk_bytes`, one in flight.
- A heartbeat never carries a commit index past the follower's match.
- Every loop here is bounded: a window fill by `max_inflight_msgs` and `max_msg_bytes`, an
  APPEND by `max_msg_bytes` and `max_msg_entries`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sentinel.raft.election import quorum_active
from sentinel.raft.errors import ProposalDropped
from sentinel.raft.messages import (
    ENTRY_OVERHEAD_BYTES,
    NONE,
    Entry,
    EntryKind,
    Message,
    MessageType,
    ReadState,
    Role,
    Snapshot,
)
from sentinel.raft.progress import Progress, ProgressState

if TYPE_CHECKING:
    from sentinel.raft.core import Raft

log = logging.getLogger(__name__)

T = MessageType


def step_leader(r: Raft, m: Message) -> None:
    """Leader: follow the followers' answers."""
    pr = r.prs.get(m.src)
    if pr is None:
        return
    if m.type is T.APPEND_RESP:
        pr.recent_active = True
        handle_append_response(r, m, pr)
    elif m.type is T.HEARTBEAT_RESP:
        pr.recent_active = True
        handle_heartbeat_response(r, m, pr)
    elif m.type is T.SNAPSHOT_RESP:
        pr.recent_active = True
        handle_snapshot_response(r, m, pr)


def tick_heartbeat(r: Raft) -> None:
    """Leader: heartbeats, check-quorum rounds, transfer and snapshot timeouts."""
    r.heartbeat_elapsed += 1
    r.election_elapsed += 1
    if r.pending_commit_news or lazy_followers_behind(r):
        r.pending_append = r.pending_all = True  # broadcast with the next Ready
    if r.config.lazy_followers:
        choose_eager(r)
    for peer, pr in r.prs.items():
        if peer != r.id and pr.pending_snapshot:
            pr.snapshot_elapsed_ticks += 1
            if pr.snapshot_elapsed_ticks >= r.config.snapshot_timeout_ticks:
                snapshot_timed_out(r, peer, pr)
    if r.election_elapsed >= r.config.election_ticks:
        r.election_elapsed = 0
        if r.config.check_quorum and not quorum_active(r):
            log.debug("node %d steps down: no quorum heard in term %d", r.id, r.term)
            r.become_follower(r.term, NONE)
            return
        r.lead_transferee = NONE  # a transfer that did not finish in time is aborted
    if r.heartbeat_elapsed >= r.config.heartbeat_ticks:
        r.heartbeat_elapsed = 0
        broadcast_heartbeat(r, r.read_only.last_pending_context())


def propose_entry(r: Raft, data: bytes) -> Entry:
    """Append a command of ours (see `Raft.propose`), within the limits on entry size and
    uncommitted bytes, unless a leadership transfer is under way."""
    if r.lead_transferee != NONE:
        raise ProposalDropped(f"leadership transfer to {r.lead_transferee} under way")
    if len(data) > r.config.max_entry_bytes:
        raise ProposalDropped(f"entry of {len(data)} bytes is over max_entry_bytes")
    entry = Entry(r.term, r.log.last_index + 1, bytes(data), EntryKind.NORMAL)
    over = r.uncommitted_bytes + entry.size_bytes > r.config.max_uncommitted_bytes
    if over and r.uncommitted_bytes > 0:
        raise ProposalDropped("too many uncommitted bytes; retry later")
    append_entry(r, entry)
    return entry


def start_read(r: Raft, context: bytes, lease: bool) -> None:
    """ReadIndex (thesis §6.4): the read point is the commit index once a heartbeat round
    confirms this leadership, or at once for one node or a valid `lease` (see
    `Raft.read_index`); before this term's first commit the read waits for it."""
    if not context:
        raise ValueError("read_index needs a non-empty context")
    if context in r.read_only or context in r.deferred_reads:
        raise ValueError(f"read context {context!r} is already pending")
    if len(r.read_only) + len(r.deferred_reads) >= r.config.max_pending_reads:
        raise ProposalDropped("too many pending reads")
    leased = lease and r.config.lease_reads and r.lead_transferee == NONE
    if r.voters == (r.id,) or (leased and r.committed_in_current_term()):
        r.read_states.append(ReadState(r.log.committed, context))
    elif not r.committed_in_current_term():
        r.deferred_reads.append(context)  # §6.4 step 1: wait for this term's commit
    else:
        r.read_only.add_request(r.log.committed, context, r.id)
        r.pending_heartbeat = True


def start_transfer(r: Raft, to_id: int) -> None:
    """Leadership transfer (thesis §3.10): catch `to_id` up, then send it TIMEOUT_NOW."""
    if to_id not in r.voters:
        raise ValueError(f"{to_id} is not a voter")
    if to_id == r.id or to_id == r.lead_transferee:
        return
    r.lead_transferee = to_id
    r.election_elapsed = 0  # the transfer must finish within an election timeout
    if r.prs[to_id].match == r.log.last_index:
        send_timeout_now(r, to_id)
    else:
        send_append(r, to_id)


def new_progress(r: Raft, next_index: int) -> Progress:
    """A leader's fresh view of a member (active: it gets an election timeout)."""
    pr = Progress(next_index, r.config.max_inflight_msgs, r.config.max_inflight_bytes)
    pr.recent_active = True
    return pr


# ------------------------------------------------------------------ sending


def append_entry(r: Raft, entry: Entry) -> None:
    """Append our own entry; it is broadcast with the next Ready (one batch) and counts
    toward commit once that Ready is persisted (see `maybe_commit`)."""
    r.log.append([entry])
    r.uncommitted_bytes += entry.size_bytes
    r.prs[r.id].maybe_update(entry.index)
    r.pending_append = True


def flush_broadcasts(r: Raft) -> None:
    """Send what proposals, commit changes and reads queued since the last Ready (nothing,
    and nothing kept, on a node that is no longer leader)."""
    if r.role is not Role.LEADER:
        r.pending_append = r.pending_heartbeat = False
        return
    if r.pending_append:
        # A tick's broadcast that only brings the lazy followers along sends nothing
        # to an eager one that lacks nothing: it had every entry at once.
        quiet = r.pending_all and not r.pending_commit_news
        targets = r.followers if r.pending_all else r.eager
        r.pending_append = r.pending_commit_news = r.pending_all = False
        for peer in targets:
            if quiet and peer in r.eager:
                send_append_if_any(r, peer)
            else:
                send_append(r, peer)
    if r.pending_heartbeat:
        r.pending_heartbeat = False
        broadcast_heartbeat(r, r.read_only.last_pending_context(), read_round=True)


def choose_eager(r: Raft) -> None:
    """Each tick, with lazy_followers: the quorum - 1 followers that keep up best get
    the APPENDs until the next tick. Keeping up is having acknowledged everything that
    stood at the previous tick, so a follower that stops answering (crashed, paused,
    cut off) loses its place within two ticks, while the lazy ones, caught up by every
    tick's broadcast, are ready to take it. Then the highest match, then the lowest id."""
    before = r.last_index_at_tick
    r.last_index_at_tick = r.log.last_index
    prs = r.prs
    voters = [p for p in r.voters if p != r.id]
    ranked = sorted(voters, key=lambda p: (prs[p].match < before, -prs[p].match, p))
    r.eager = tuple(sorted(ranked[: r.quorum - (r.id in r.voters)]))


def lazy_followers_behind(r: Raft) -> bool:
    """Whether a follower outside the eager set has entries to be sent (and may be)."""
    if len(r.eager) == len(r.followers):
        return False
    last = r.log.last_index
    return any(
        r.prs[p].next <= last and not r.prs[p].is_paused() for p in r.followers if p not in r.eager
    )


def send_append(r: Raft, to: int) -> None:
    """Send as much as the follower's window and one call's budget allow (at least an
    empty APPEND, which carries the commit index, unless paused)."""
    pr = r.prs[to]
    before = pr.inflights.bytes
    if maybe_send_append(r, to, send_if_empty=True):
        fill_window(r, to, pr, before)


def send_append_if_any(r: Raft, to: int) -> None:
    """Keep the follower's window full (no empty APPENDs), within one call's budget."""
    pr = r.prs[to]
    before = pr.inflights.bytes
    if maybe_send_append(r, to, send_if_empty=False):
        fill_window(r, to, pr, before)


def fill_window(r: Raft, to: int, pr: Progress, before: int) -> None:
    """More APPENDs while replicating, until the window is full or this call has sent
    `max_msg_bytes` of entries (counted from `before`, the window's bytes when the
    call began). A far-behind follower is caught up one such slice per answer, so no
    single answer makes the leader slice and encode megabytes of entries in one loop
    turn (the window alone allows 64 x max_msg_bytes)."""
    budget = r.config.max_msg_bytes
    last_index = r.log.last_index
    for _ in range(r.config.max_inflight_msgs):
        if pr.state is not ProgressState.REPLICATE or pr.inflights.bytes - before >= budget:
            break
        if pr.next > last_index:
            break  # all sent: the usual case, answered without building an APPEND
        if not maybe_send_append(r, to, send_if_empty=False):
            break


def maybe_send_append(r: Raft, to: int, send_if_empty: bool) -> bool:
    """One APPEND (or the snapshot, when the follower is behind our log start)."""
    pr = r.prs[to]
    if pr.is_paused():
        return False
    prev_index = pr.next - 1
    prev_term = r.log.term(prev_index)
    if prev_term is None:
        return send_snapshot(r, to, pr)
    entries: tuple[Entry, ...] = ()
    if pr.next <= r.log.last_index:
        entries = r.log.slice(
            pr.next, r.log.last_index + 1, r.config.max_msg_bytes, r.config.max_msg_entries
        )
    if not entries and not send_if_empty:
        return False
    r.send(
        Message(
            T.APPEND,
            r.id,
            to,
            r.term,
            log_term=prev_term,
            index=prev_index,
            entries=entries,
            commit=r.log.committed,
        )
    )
    size = sum([len(e.data) for e in entries]) + ENTRY_OVERHEAD_BYTES * len(entries)
    pr.sent_entries(prev_index + len(entries), size, len(entries))
    return True


def send_snapshot(r: Raft, to: int, pr: Progress) -> bool:
    """InstallSnapshot (Raft §7): start sending our latest snapshot, from its first chunk."""
    if r.snapshot is None:
        return False
    pr.become_snapshot(r.snapshot)
    send_snapshot_chunk(r, to, pr)
    return True


def send_snapshot_chunk(r: Raft, to: int, pr: Progress) -> None:
    """The chunk of the transfer's snapshot at the offset the follower holds."""
    snap = pr.snapshot
    assert snap is not None and pr.state is ProgressState.SNAPSHOT
    offset = pr.snapshot_offset
    end = min(len(snap.data), offset + r.config.max_snapshot_chunk_bytes)
    chunk = Snapshot(snap.meta, snap.data[offset:end])
    done = end == len(snap.data)
    r.send(Message(T.SNAPSHOT, r.id, to, r.term, snapshot=chunk, offset=offset, done=done))


def snapshot_timed_out(r: Raft, to: int, pr: Progress) -> None:
    """No answer to the chunk in flight. Before the last chunk: send it again (it or its
    answer was lost). After the last: probe just past the snapshot (cheap) rather than send
    it all again while the follower may still be restoring it; a follower without it
    refuses the probe and is sent the snapshot anew."""
    snap = pr.snapshot
    assert snap is not None  # (only a transfer in progress times out)
    if pr.snapshot_offset + r.config.max_snapshot_chunk_bytes >= len(snap.data):
        pr.become_probe()
        return
    pr.snapshot_elapsed_ticks = 0
    send_snapshot_chunk(r, to, pr)


def broadcast_heartbeat(r: Raft, context: bytes, read_round: bool = False) -> None:
    """Heartbeats; `context` tags a ReadIndex round (b"" for none). Only the tick's
    heartbeats (not `read_round` ones, sent as often as reads come) let a paused probe
    be retried (see `handle_heartbeat_response`)."""
    for peer in r.peers:
        if peer == r.id:
            continue
        pr = r.prs[peer]
        pr.sent_before_heartbeat = pr.next - 1
        if not read_round and pr.state is ProgressState.PROBE and pr.probe_sent:
            pr.probe_retry_ok = True
        commit = min(pr.match, r.log.committed)  # never past what the follower has
        r.send(Message(T.HEARTBEAT, r.id, peer, r.term, commit=commit, context=context))


def send_timeout_now(r: Raft, to: int) -> None:
    """Tell an up-to-date follower to campaign at once (leadership transfer)."""
    r.send(Message(T.TIMEOUT_NOW, r.id, to, r.term))


# --------------------------------------------------------------- commitment


def maybe_commit(r: Raft) -> bool:
    """Raft §5.4.2 / Figure 8: commit the quorum's match index only if it is an entry of
    our term (earlier-term entries commit with it, never by counting alone).

    The leader counts itself only up to its durable log (`log.stable`), so a driver may
    send a batch's APPENDs before its own fsync (thesis §10.2.1): an entry is never
    committed on the strength of a copy that a crash could still take back."""
    own = min(r.prs[r.id].match, r.log.stable)
    matches = sorted((own if p == r.id else r.prs[p].match for p in r.voters), reverse=True)
    candidate = matches[r.quorum - 1]
    if candidate <= r.log.committed or r.log.term(candidate) != r.term:
        return False
    first_in_term = not r.committed_in_current_term()
    old = r.log.committed
    r.log.commit_to(candidate)
    for index in range(old + 1, candidate + 1):
        entry = r.log.entry(index)
        if entry.term == r.term:
            r.uncommitted_bytes = max(0, r.uncommitted_bytes - entry.size_bytes)
    r.pending_commit_news = True  # see Raft.commit_news_on_tick
    if not r.commit_news_on_tick:
        r.pending_append = True  # followers learn the new commit index now
    if first_in_term:
        release_deferred_reads(r)
    return True


def release_deferred_reads(r: Raft) -> None:
    """Reads that waited for this term's first commit start their heartbeat round."""
    for context in r.deferred_reads:
        r.read_only.add_request(r.log.committed, context, r.id)
    if r.deferred_reads:
        r.pending_heartbeat = True
    r.deferred_reads = []


# ---------------------------------------------------------------- answers


def handle_append_response(r: Raft, m: Message, pr: Progress) -> None:
    """Follow a follower's answer: back up on a reject (with the hints), advance on an
    accept, commit what a quorum holds, finish a leadership transfer."""
    if m.reject:
        match_hint = m.reject_hint
        if m.log_term > 0:
            match_hint, _ = r.log.find_conflict_by_term(m.reject_hint, m.log_term)
        if pr.maybe_decr_to(m.index, match_hint):
            if pr.state is ProgressState.REPLICATE:
                pr.become_probe()
            send_append(r, m.src)
        return
    if not pr.maybe_update(m.index):
        if pr.state is ProgressState.PROBE and pr.match >= pr.next - 1:
            pr.probe_sent = False  # a late answer to our probe: not paused any more
        return
    if pr.state is ProgressState.PROBE:
        pr.become_replicate()
    elif pr.state is ProgressState.SNAPSHOT and pr.match >= pr.pending_snapshot:
        pr.become_probe()
        pr.become_replicate()
    elif pr.state is ProgressState.REPLICATE:
        pr.inflights.free_le(m.index)
    if not maybe_commit(r) and (m.src in r.eager or pr.match < r.last_index_at_tick):
        send_append_if_any(r, m.src)  # (a lazy follower that keeps up waits for a tick)
    if m.src == r.lead_transferee and pr.match == r.log.last_index:
        send_timeout_now(r, m.src)


def handle_snapshot_response(r: Raft, m: Message, pr: Progress) -> None:
    """A follower holds `m.offset` bytes of the snapshot we are sending it: send the chunk
    from there (a lost or refused chunk is sent again from where the follower stands; an
    answer about another transfer is stale and ignored)."""
    if pr.state is not ProgressState.SNAPSHOT or m.index != pr.pending_snapshot:
        return
    assert pr.snapshot is not None  # (the SNAPSHOT state holds it)
    if m.offset > len(pr.snapshot.data):
        return
    pr.snapshot_offset = m.offset
    pr.snapshot_elapsed_ticks = 0
    send_snapshot_chunk(r, m.src, pr)


def handle_heartbeat_response(r: Raft, m: Message, pr: Progress) -> None:
    """Retry a probe presumed lost, resend a tail presumed lost, count read acks.

    At most one probe per tick heartbeat: a follower back from a crash answers every
    heartbeat that queued for it while it recovered (hundreds under a read load), and a
    probe per answer, each carrying up to max_msg_bytes of entries, once kept the leader
    encoding for over a second (long enough for an election)."""
    if pr.state is ProgressState.PROBE:
        if pr.probe_retry_ok:
            pr.probe_sent = pr.probe_retry_ok = False
    elif pr.state is ProgressState.REPLICATE and pr.match < pr.sent_before_heartbeat:
        # Entries sent before the heartbeat are still unacknowledged although its answer
        # is here: presume them lost, and probe again from match.
        pr.become_probe()
    if pr.match < r.log.last_index:
        if pr.state is ProgressState.PROBE:
            send_append(r, m.src)  # nothing unless the probe may go (again)
        else:
            send_append_if_any(r, m.src)  # fill the window; no empty APPEND
    if not m.context:
        return
    # Only voters' acks count (our own, counted at the start, only while we are one).
    needed = r.quorum + (r.id not in r.voters)
    if m.src not in r.voters or r.read_only.recv_ack(m.src, m.context) < needed:
        return
    for request in r.read_only.advance(m.context):
        r.read_states.append(ReadState(request.index, request.context))
