"""Log compaction: where a node may drop its log, and the snapshot that replaces it.

A snapshot is the application's state at an applied index wrapped with the configuration in
effect there (`membership.wrap_snapshot`), so a node that restores it knows both. Hence a
node compacts only where it knows that configuration: a joiner catching up through the
entries before its own addition does not (the founders' bootstrap is in no entry), and
takes its first snapshot at or after that addition's entry. The snapshot as wrapped, what
is stored and sent, is what `max_snapshot_bytes` bounds: followers hold a transfer to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sentinel.raft.membership import wrap_snapshot
from sentinel.raft.messages import Snapshot, SnapshotMeta

if TYPE_CHECKING:
    from sentinel.raft.core import Raft


def can_compact(r: Raft, index: int) -> bool:
    """Whether a snapshot at `index` would be taken: past the last snapshot, at a known
    configuration. (Its size is the host's to check first: `wrap_bytes`.)"""
    return index > r.log.snapshot_index and r.log.membership_at(index).known


def compact(r: Raft, index: int, data: bytes) -> bool:
    """Drop the log up to `index` (<= applied) for the application's `data` at `index`;
    False, and nothing done, where `can_compact` says no."""
    if not can_compact(r, index):
        return False
    if index > r.log.applied:
        raise ValueError(f"cannot compact to {index}: applied is only {r.log.applied}")
    wrapped = wrap_snapshot(r.log.membership_at(index), bytes(data))
    if len(wrapped) > r.config.max_snapshot_bytes:
        raise ValueError(f"snapshot of {len(wrapped)} bytes is over max_snapshot_bytes")
    meta = SnapshotMeta(index, r.log.term(index) or 0)
    r.log.compact(index)
    r.snapshot = Snapshot(meta, wrapped)
    r.snapshot_to_persist = r.snapshot
    return True


def wrap_bytes(r: Raft, index: int) -> int:
    """The bytes a snapshot at `index` adds to the application's data: the configuration."""
    return len(wrap_snapshot(r.log.membership_at(index), b""))
