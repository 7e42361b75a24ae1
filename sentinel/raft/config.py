"""The core's configuration: times in ticks, sizes in bytes, counts as `_max` limits."""

from __future__ import annotations

import dataclasses

from sentinel.wire import FRAME_BYTES_MAX

#: Room left in a frame for the message around a snapshot chunk's data.
_FRAME_SLACK_BYTES = 64 * 1024


@dataclasses.dataclass(frozen=True, slots=True)
class Config:
    """How one raft core behaves. The node process maps a tick to ~10 ms.

    Defaults: heartbeat every 5 ticks (50 ms); election timeout randomised in
    [election_ticks, 2 * election_ticks) = [15, 30) ticks (150-300 ms).
    """

    node_id: int
    #: The founding voters, this node included (ids are ints >= 1). The configuration in
    #: effect is the latest in the log or snapshot (see `membership`); this is the one
    #: before any. With `joining`, they are the cluster the node joins, for information.
    peer_ids: tuple[int, ...]
    #: A node added to a running cluster: it knows no configuration until the leader's log
    #: or snapshot gives it one, and until then never campaigns.
    joining: bool = False
    #: The leader promotes a learner by itself once its match index has stayed within
    #: max_learner_lag_entries of the leader's last index for learner_caught_up_ticks.
    auto_promote: bool = True
    max_learner_lag_entries: int = 256
    learner_caught_up_ticks: int = 20
    election_ticks: int = 15
    heartbeat_ticks: int = 5
    pre_vote: bool = True
    check_quorum: bool = True
    #: A leader may answer a read without a heartbeat round while its driver says it holds
    #: a lease (`Raft.read_index(context, lease=True)`; thesis §6.4.1). Needs check_quorum,
    #: and makes every node refuse (pre-)votes for election_ticks after it starts too: a
    #: node that crashed and came back would otherwise vote against a lease it granted.
    lease_reads: bool = False
    #: A leader sends new entries at once only to the quorum - 1 followers that keep up
    #: best (chosen each tick, see `leader.choose_eager`); the others get theirs with
    #: the next tick's broadcast: one APPEND per tick instead of one per proposal. A commit
    #: waits for the fastest quorum only, and on a small machine the others' work stays
    #: out of its way. Off: every follower gets every APPEND at once.
    lazy_followers: bool = False
    #: Entry bytes in one APPEND message (at least one entry is always sent, so an entry
    #: bigger than this travels alone).
    max_msg_bytes: int = 1024 * 1024
    max_msg_entries: int = 4096
    #: APPEND messages in flight to one follower in the replicate state, by count and bytes.
    max_inflight_msgs: int = 64
    max_inflight_bytes: int = 16 * 1024 * 1024
    #: Committed entries handed to the application in one Ready.
    max_committed_bytes_per_ready: int = 4 * 1024 * 1024
    max_committed_entries_per_ready: int = 4096
    #: Proposed but not yet committed bytes the leader accepts before dropping proposals.
    max_uncommitted_bytes: int = 64 * 1024 * 1024
    #: One proposal's data: room for the largest key/value command (a Cas with two values at
    #: their 1 MiB limit, a 1 KiB key and the encoding), so the kv limits are the only ones
    #: a client meets.
    max_entry_bytes: int = 2 * 1024 * 1024 + 16 * 1024
    #: ReadIndex requests waiting for a quorum (or for the leader's first commit).
    max_pending_reads: int = 4096
    #: Messages held for the next Ready. They pile up only while a Ready is outstanding
    #: for long (its save stalled on a full disk, while the node keeps stepping heartbeats);
    #: past this the oldest are dropped, as the network may drop any message.
    max_queued_msgs: int = 4096
    #: The largest snapshot a node makes or takes: a bound on memory (a follower holds a
    #: transfer's chunks until the last one arrives), not on the wire, which carries chunks;
    #: under the host's snapshot file record (1 GiB). A state past it is not compacted (the
    #: driver logs why and the log keeps every entry), never a crash.
    max_snapshot_bytes: int = 512 * 1024 * 1024
    #: A snapshot travels in chunks of this many bytes, one in flight at a time, so that a
    #: big one never stops the leader's loop (or a link) for longer than one chunk takes.
    max_snapshot_chunk_bytes: int = 1024 * 1024
    #: A follower that has not answered a snapshot in this many ticks is probed just past it
    #: (not sent a second copy while it may still be restoring the first); it gets the
    #: snapshot again only if it refuses the probe.
    snapshot_timeout_ticks: int = 100

    def __post_init__(self) -> None:
        problems = []
        if self.node_id not in self.peer_ids and not self.joining:
            problems.append(f"node_id {self.node_id} is not in peer_ids {self.peer_ids}")
        if len(set(self.peer_ids)) != len(self.peer_ids) or any(p < 1 for p in self.peer_ids):
            problems.append(f"peer_ids must be distinct ints >= 1, got {self.peer_ids}")
        if self.learner_caught_up_ticks < 1:
            problems.append("learner_caught_up_ticks must be >= 1")
        if self.heartbeat_ticks < 1 or self.election_ticks <= self.heartbeat_ticks:
            problems.append("need 1 <= heartbeat_ticks < election_ticks")
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name.startswith("max_") and (not isinstance(value, int) or value < 1):
                problems.append(f"{field.name} must be a positive int, got {value!r}")
        if self.lease_reads and not self.check_quorum:
            problems.append("lease_reads needs check_quorum")
        if self.max_snapshot_chunk_bytes > FRAME_BYTES_MAX - _FRAME_SLACK_BYTES:
            problems.append("max_snapshot_chunk_bytes must leave room in a wire frame")
        if problems:
            raise ValueError("invalid raft Config: " + "; ".join(problems))

    @property
    def quorum(self) -> int:
        """Votes (or acks) that make a majority of the voters."""
        return len(self.peer_ids) // 2 + 1
