"""The leader's side of replication: APPEND/SNAPSHOT/heartbeat sending, commitment, answers.

A mixin of `Raft` (core.py); it works on the core's state.
"""

from __future__ import annotations

from sentinel.raft.messages import (
    ENTRY_OVERHEAD_BYTES,
    Entry,
    Message,
    MessageType,
    ReadState,
    Role,
)
from sentinel.raft.progress import Progress, ProgressState

T = MessageType


class Replication:
    """Log replication (Raft §5.3), commitment (§5.4.2, Figure 8), ReadIndex acks."""

    def send(self, m: Message) -> None:
        """Queue a message for the next Ready."""
        self.msgs.append(m)

    def append_entry(self, entry: Entry) -> None:
        """Leader: append our own entry; it is broadcast with the next Ready (one batch) and
        counts toward commit once that Ready is persisted (see `maybe_commit`)."""
        self.log.append([entry])
        self.uncommitted_bytes += entry.size_bytes
        self.prs[self.id].maybe_update(entry.index)
        self.pending_append = True

    def flush_broadcasts(self) -> None:
        """Send what proposals, commit changes and reads queued since the last Ready."""
        if self.role is not Role.LEADER:
            self.pending_append = self.pending_heartbeat = False
            return
        if self.pending_append:
            # A tick's broadcast that only brings the lazy followers along sends nothing
            # to an eager one that lacks nothing: it had every entry at once.
            quiet = self.pending_all and not self.pending_commit_news
            targets = self.followers if self.pending_all else self.eager
            self.pending_append = self.pending_commit_news = self.pending_all = False
            for peer in targets:
                if quiet and peer in self.eager:
                    self.send_append_if_any(peer)
                else:
                    self.send_append(peer)
        if self.pending_heartbeat:
            self.pending_heartbeat = False
            self.broadcast_heartbeat(self.read_only.last_pending_context(), read_round=True)

    def choose_eager(self) -> None:
        """Each tick, with lazy_followers: the quorum - 1 followers that keep up best get
        the APPENDs until the next tick. Keeping up is having acknowledged everything that
        stood at the previous tick, so a follower that stops answering (crashed, paused,
        cut off) loses its place within two ticks, while the lazy ones, caught up by every
        tick's broadcast, are ready to take it. Then the highest match, then the lowest id."""
        before = self.last_index_at_tick
        self.last_index_at_tick = self.log.last_index
        prs = self.prs
        ranked = sorted(self.followers, key=lambda p: (prs[p].match < before, -prs[p].match, p))
        self.eager = tuple(sorted(ranked[: self.config.quorum - 1]))

    def lazy_followers_behind(self) -> bool:
        """Whether a follower outside the eager set has entries to be sent (and may be)."""
        if len(self.eager) == len(self.followers):
            return False
        last = self.log.last_index
        return any(
            self.prs[p].next <= last and not self.prs[p].is_paused()
            for p in self.followers
            if p not in self.eager
        )

    def send_append(self, to: int) -> None:
        """Send as much as the follower's window and one call's budget allow (at least an
        empty APPEND, which carries the commit index, unless paused)."""
        pr = self.prs[to]
        before = pr.inflights.bytes
        if self.maybe_send_append(to, send_if_empty=True):
            self.fill_window(to, pr, before)

    def fill_window(self, to: int, pr: Progress, before: int) -> None:
        """More APPENDs while replicating, until the window is full or this call has sent
        `max_msg_bytes` of entries (counted from `before`, the window's bytes when the
        call began). A far-behind follower is caught up one such slice per answer, so no
        single answer makes the leader slice and encode megabytes of entries in one loop
        turn (the window alone allows 64 x max_msg_bytes)."""
        budget = self.config.max_msg_bytes
        last_index = self.log.last_index
        for _ in range(self.config.max_inflight_msgs):
            if pr.state is not ProgressState.REPLICATE or pr.inflights.bytes - before >= budget:
                break
            if pr.next > last_index:
                break  # all sent: the usual case, answered without building an APPEND
            if not self.maybe_send_append(to, send_if_empty=False):
                break

    def maybe_send_append(self, to: int, send_if_empty: bool) -> bool:
        """One APPEND (or the snapshot, when the follower is behind our log start)."""
        pr = self.prs[to]
        if pr.is_paused():
            return False
        prev_index = pr.next - 1
        prev_term = self.log.term(prev_index)
        if prev_term is None:
            return self.send_snapshot(to, pr)
        entries: tuple[Entry, ...] = ()
        if pr.next <= self.log.last_index:
            entries = self.log.slice(
                pr.next,
                self.log.last_index + 1,
                self.config.max_msg_bytes,
                self.config.max_msg_entries,
            )
        if not entries and not send_if_empty:
            return False
        self.send(
            Message(
                T.APPEND,
                self.id,
                to,
                self.term,
                log_term=prev_term,
                index=prev_index,
                entries=entries,
                commit=self.log.committed,
            )
        )
        size = sum([len(e.data) for e in entries]) + ENTRY_OVERHEAD_BYTES * len(entries)
        pr.sent_entries(prev_index + len(entries), size, len(entries))
        return True

    def send_snapshot(self, to: int, pr: Progress) -> bool:
        """InstallSnapshot (Raft §7), the whole snapshot in one message."""
        snap = self.snapshot
        if snap is None:
            return False
        self.send(Message(T.SNAPSHOT, self.id, to, self.term, snapshot=snap))
        pr.become_snapshot(snap.meta.index)
        return True

    def broadcast_heartbeat(self, context: bytes, read_round: bool = False) -> None:
        """Heartbeats; `context` tags a ReadIndex round (b"" for none). Only the tick's
        heartbeats (not `read_round` ones, sent as often as reads come) let a paused probe
        be retried (see `handle_heartbeat_response`)."""
        for peer in self.peers:
            if peer == self.id:
                continue
            pr = self.prs[peer]
            pr.sent_before_heartbeat = pr.next - 1
            if not read_round and pr.state is ProgressState.PROBE and pr.probe_sent:
                pr.probe_retry_ok = True
            commit = min(pr.match, self.log.committed)  # never past what the follower has
            self.send(
                Message(T.HEARTBEAT, self.id, peer, self.term, commit=commit, context=context)
            )

    def send_timeout_now(self, to: int) -> None:
        """Tell an up-to-date follower to campaign at once (leadership transfer)."""
        self.send(Message(T.TIMEOUT_NOW, self.id, to, self.term))

    def maybe_commit(self) -> bool:
        """Raft §5.4.2 / Figure 8: commit the quorum's match index only if it is an entry of
        our term (earlier-term entries commit with it, never by counting alone).

        The leader counts itself only up to its durable log (`log.stable`), so a driver may
        send a batch's APPENDs before its own fsync (thesis §10.2.1): an entry is never
        committed on the strength of a copy that a crash could still take back."""
        own = min(self.prs[self.id].match, self.log.stable)
        matches = sorted(
            (own if p == self.id else self.prs[p].match for p in self.peers), reverse=True
        )
        candidate = matches[self.config.quorum - 1]
        if candidate <= self.log.committed or self.log.term(candidate) != self.term:
            return False
        first_in_term = not self.committed_in_current_term()
        old = self.log.committed
        self.log.commit_to(candidate)
        for index in range(old + 1, candidate + 1):
            entry = self.log.entry(index)
            if entry.term == self.term:
                self.uncommitted_bytes = max(0, self.uncommitted_bytes - entry.size_bytes)
        self.pending_commit_news = True  # see core.commit_news_on_tick
        if not self.commit_news_on_tick:
            self.pending_append = True  # followers learn the new commit index now
        if first_in_term:
            self.release_deferred_reads()
        return True

    def release_deferred_reads(self) -> None:
        """Reads that waited for this term's first commit start their heartbeat round."""
        for context in self.deferred_reads:
            self.read_only.add_request(self.log.committed, context, self.id)
        if self.deferred_reads:
            self.pending_heartbeat = True
        self.deferred_reads = []

    def handle_append_response(self, m: Message, pr: Progress) -> None:
        """Follow a follower's answer: back up on a reject (with the hints), advance on an
        accept, commit what a quorum holds, finish a leadership transfer."""
        if m.reject:
            match_hint = m.reject_hint
            if m.log_term > 0:
                match_hint, _ = self.log.find_conflict_by_term(m.reject_hint, m.log_term)
            if pr.maybe_decr_to(m.index, match_hint):
                if pr.state is ProgressState.REPLICATE:
                    pr.become_probe()
                self.send_append(m.src)
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
        if not self.maybe_commit() and (m.src in self.eager or pr.match < self.last_index_at_tick):
            self.send_append_if_any(m.src)  # (a lazy follower that keeps up waits for a tick)
        if m.src == self.lead_transferee and pr.match == self.log.last_index:
            self.send_timeout_now(m.src)

    def send_append_if_any(self, to: int) -> None:
        """Keep the follower's window full (no empty APPENDs), within one call's budget."""
        pr = self.prs[to]
        before = pr.inflights.bytes
        if self.maybe_send_append(to, send_if_empty=False):
            self.fill_window(to, pr, before)

    def handle_heartbeat_response(self, m: Message, pr: Progress) -> None:
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
        if pr.match < self.log.last_index:
            if pr.state is ProgressState.PROBE:
                self.send_append(m.src)  # nothing unless the probe may go (again)
            else:
                self.send_append_if_any(m.src)  # fill the window; no empty APPEND
        if not m.context:
            return
        if self.read_only.recv_ack(m.src, m.context) < self.config.quorum:
            return
        for request in self.read_only.advance(m.context):
            self.read_states.append(ReadState(request.index, request.context))
