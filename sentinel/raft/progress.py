"""The leader's view of one follower: match/next indexes, state, and the in-flight window.

States (etcd-io/raft tracker): PROBE sends one APPEND at a time until the follower's log
position is known; REPLICATE streams APPENDs optimistically within the in-flight window;
SNAPSHOT waits for the answer to an InstallSnapshot.
"""

from __future__ import annotations

import enum
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sentinel.raft.messages import Snapshot


class ProgressState(enum.Enum):
    """How the leader currently sends to a follower."""

    PROBE = "probe"
    REPLICATE = "replicate"
    SNAPSHOT = "snapshot"


class Inflights:
    """APPEND messages sent but not acknowledged, bounded by count and by bytes.

    The window is in strictly increasing last-index order and `bytes` is the sum of its
    sizes; `full()` stops the sender at `max_msgs` messages or `max_bytes` bytes.
    """

    def __init__(self, max_msgs: int, max_bytes: int) -> None:
        self.max_msgs = max_msgs
        self.max_bytes = max_bytes
        self._window: deque[tuple[int, int]] = deque()  # (last index, bytes), ascending
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._window)

    def add(self, last_index: int, size_bytes: int) -> None:
        """Record a message whose last entry is `last_index`."""
        if self._window and last_index <= self._window[-1][0]:
            raise ValueError(f"inflight {last_index} is not after {self._window[-1][0]}")
        self._window.append((last_index, size_bytes))
        self.bytes += size_bytes

    def free_le(self, index: int) -> None:
        """The follower acknowledged everything up to `index`."""
        while self._window and self._window[0][0] <= index:
            self.bytes -= self._window.popleft()[1]

    def full(self) -> bool:
        """Whether no more messages may be sent."""
        return len(self._window) >= self.max_msgs or self.bytes >= self.max_bytes

    def reset(self) -> None:
        """Forget every message (after a state change)."""
        self._window.clear()
        self.bytes = 0


class Progress:
    """Replication state of one follower, kept by the leader.

    `match` is the highest index known to be in the follower's log, `next` the index the next
    APPEND starts at; `match < next` always, and `match` never decreases.
    """

    def __init__(self, next_index: int, max_inflight_msgs: int, max_inflight_bytes: int) -> None:
        self.match = 0
        self.next = next_index
        self.state = ProgressState.PROBE
        #: PROBE: an APPEND is out; wait for its answer or a heartbeat answer.
        self.probe_sent = False
        #: PROBE: a tick heartbeat went out after the probe, so a heartbeat answer may
        #: presume the probe lost. Answers to heartbeats older than the probe say nothing
        #: about it: a follower back from a crash answers its whole backlog of them at once
        #: (one per ReadIndex round it missed), and each must not send the probe again.
        self.probe_retry_ok = False
        #: Learner: ticks for which it has stayed within the lag bound (promotion).
        self.caught_up_ticks = 0
        #: Heard from this follower since the last check-quorum round.
        self.recent_active = False
        #: SNAPSHOT: the snapshot being sent (kept to the end of the transfer, whatever the
        #: leader compacts meanwhile: a transfer that restarted at each compaction might
        #: never end), the bytes of it the follower holds (the offset of the chunk in
        #: flight), and ticks since a chunk was answered.
        self.snapshot: Snapshot | None = None
        self.snapshot_offset = 0
        self.snapshot_elapsed_ticks = 0
        #: REPLICATE: next - 1 when the last heartbeat went out (to detect a lost tail).
        self.sent_before_heartbeat = 0
        self.inflights = Inflights(max_inflight_msgs, max_inflight_bytes)

    @property
    def pending_snapshot(self) -> int:
        """The index of the snapshot being sent (0: none)."""
        return self.snapshot.meta.index if self.snapshot is not None else 0

    def _reset_state(self, state: ProgressState) -> None:
        self.state = state
        self.probe_sent = False
        self.probe_retry_ok = False
        self.snapshot = None
        self.snapshot_offset = 0
        self.snapshot_elapsed_ticks = 0
        self.inflights.reset()

    def become_probe(self, snapshot_applied: bool = True) -> None:
        """Probe from match + 1 (or after the snapshot the follower presumably applied)."""
        after = self.pending_snapshot if self.state is ProgressState.SNAPSHOT else 0
        self._reset_state(ProgressState.PROBE)
        self.next = max(self.match + 1, after + 1 if snapshot_applied else 0)

    def become_replicate(self) -> None:
        """Stream from match + 1."""
        self._reset_state(ProgressState.REPLICATE)
        self.next = self.match + 1

    def become_snapshot(self, snapshot: Snapshot) -> None:
        """`snapshot` is being sent (from its first chunk); appends pause until its last
        chunk is answered."""
        self._reset_state(ProgressState.SNAPSHOT)
        self.snapshot = snapshot
        self.next = snapshot.meta.index + 1

    def maybe_update(self, index: int) -> bool:
        """The follower's log matches up to `index`; True when that is news."""
        updated = index > self.match
        if updated:
            self.match = index
            self.probe_sent = False
        self.next = max(self.next, index + 1)
        return updated

    def maybe_decr_to(self, rejected: int, match_hint: int) -> bool:
        """The follower rejected an APPEND at prev index `rejected`; False if stale."""
        if self.state is ProgressState.REPLICATE:
            if rejected <= self.match:
                return False  # an old message, overtaken by a later acknowledgement
            self.next = self.match + 1
            return True
        if self.state is ProgressState.SNAPSHOT or self.next - 1 != rejected:
            return False  # answers an APPEND that is no longer the current probe
        self.next = max(min(rejected, match_hint + 1), self.match + 1)
        self.probe_sent = False
        return True

    def is_paused(self) -> bool:
        """Whether the leader must not send another APPEND now."""
        if self.state is ProgressState.PROBE:
            return self.probe_sent
        if self.state is ProgressState.REPLICATE:
            return self.inflights.full()
        return True

    def sent_entries(self, last_index: int, size_bytes: int, count: int) -> None:
        """An APPEND went out with `count` entries ending at `last_index`."""
        if self.state is ProgressState.REPLICATE:
            if count:
                self.next = last_index + 1
                self.inflights.add(last_index, size_bytes)
        elif self.state is ProgressState.PROBE:
            self.probe_sent = True
            self.probe_retry_ok = False
