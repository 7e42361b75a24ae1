"""Reading a node's directory back at start: the checks that refuse a damaged or lost state
rather than start a node that forgot what it acknowledged, and the reconciliation of a
compaction a crash interrupted.

Everything here reads and checks; the one write is a new directory's birth (its log's MARK,
then `meta`). `Storage.open` runs these in order and changes files only once all of it adds
up. `lost_disk` is the same judgement made across a cluster's directories before a node
starts (by the supervisor and the node CLI).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence

from sentinel.host import wal
from sentinel.host.fs import FileSystem
from sentinel.host.layout import (
    BIRTH_LOG,
    FORMAT,
    FORMATS,
    HARDSTATE,
    HS,
    META,
    SNAP_HEADER,
    SNAP_NAME,
    WAL,
)
from sentinel.raft.errors import (
    ClusterMismatchError,
    CorruptSnapshotError,
    CorruptStateError,
    MissingSnapshotError,
)
from sentinel.raft.messages import Entry, HardState, Snapshot, SnapshotMeta


def holds_state(directory: str | os.PathLike[str]) -> bool:
    """Whether a node directory holds a node's state: its meta file, written when the node
    first opened it. (Without it, the node starts empty: it has never voted nor stored.)"""
    return os.path.exists(os.path.join(directory, META))


def lost_disk(directories: Mapping[int, str | os.PathLike[str]], node_id: int) -> str | None:
    """Why node `node_id` (one of `directories`, node id -> its directory) must not start, or
    None. A node whose directory holds no state while another node's does (a new cluster's
    nodes all start empty) has lost its disk: it has forgotten its votes and the entries it
    acknowledged, so starting it empty could let its vote elect a leader that lacks
    acknowledged writes."""
    if holds_state(directories[node_id]):
        return None
    if not any(holds_state(d) for i, d in directories.items() if i != node_id):
        return None
    return (
        f"node-{node_id} holds no state (its directory is missing or was emptied) while "
        "the others hold theirs: a node that lost its disk must not rejoin empty, as its "
        "vote could elect a leader without acknowledged writes; restore the directory, or "
        "replace the node with a fresh one (the cluster's `replace` command)"
    )


def lost_log(why: str) -> CorruptStateError:
    """A format-2 directory's log is gone or lost its MARK: a deleted or cut file, not a
    crash (the MARK is written atomically). Starting would keep the hard state's term and
    vote but forget the entries the node stored and acknowledged."""
    return CorruptStateError(
        f"{WAL}: the write-ahead log {why}, though this directory was created with one: "
        "the node would forget the entries it stored and acknowledged. Restore the node's "
        "directory, or start a new cluster"
    )


def check_meta(fs: FileSystem, cluster_id: str, node_id: int, names: list[str]) -> bool:
    """Check (or, in a new directory, write) `meta`; whether the directory's format makes
    its log at birth (so a missing log is damage)."""
    if META not in names:
        raft_files = [n for n in names if n in (HARDSTATE, WAL) or SNAP_NAME.match(n)]
        if raft_files and not (raft_files == [WAL] and fs.read(WAL) == BIRTH_LOG):
            raise CorruptStateError(f"raft files {raft_files} without a {META} file")
        # Log first, then meta: a crash between the two leaves a birth log, redone here.
        fs.write_atomic(WAL, BIRTH_LOG)
        doc = {"format": FORMAT, "cluster_id": cluster_id, "node_id": node_id}
        fs.write_atomic(META, wal.frame(json.dumps(doc).encode()))
        return True
    payload = wal.unframe_one(fs.read(META))
    try:
        doc = json.loads(payload) if payload is not None else None
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or doc.get("format") not in FORMATS:
        raise CorruptStateError(f"{META}: damaged or unknown metadata file")
    if doc.get("cluster_id") != cluster_id or doc.get("node_id") != node_id:
        raise ClusterMismatchError(
            f"directory belongs to cluster {doc.get('cluster_id')!r} node "
            f"{doc.get('node_id')}, not cluster {cluster_id!r} node {node_id}"
        )
    return doc["format"] >= 2


def read_hard_state(fs: FileSystem) -> tuple[HardState, int]:
    """The hard state file's (term, vote, commit) and the file's size."""
    data = fs.read(HARDSTATE)
    payload = wal.unframe_one(data)
    if payload is None or len(payload) != HS.size:
        raise CorruptStateError(f"{HARDSTATE}: damaged hard state file")
    return HardState(*HS.unpack(payload)), len(data)


def check_terms(
    entries: Sequence[Entry], snap: Snapshot | None, hard_state: HardState | None
) -> None:
    """The hard state (None: no hard state file) must be at least at the newest term the log
    or snapshot holds: a node stores an entry or snapshot of term T only after its term T
    is on disk."""
    newest = max(entries[-1].term if entries else 0, snap.meta.term if snap else 0)
    if newest > 0 and hard_state is None:
        raise CorruptStateError(
            f"{HARDSTATE}: the hard state file is missing, though the log holds term "
            f"{newest}: the node would forget its term and its vote (and could vote twice "
            "in one term). Restore the node's directory, or start a new cluster"
        )
    term = hard_state.term if hard_state is not None else 0
    if newest > term:
        raise CorruptStateError(f"log holds term {newest} but the hard state is at term {term}")


def read_newest_snapshot(fs: FileSystem, names: list[str]) -> Snapshot | None:
    """The newest snapshot file among `names`, read and checked; None when there is none."""
    found = [(int(m[1]), int(m[2]), n) for n in names if (m := SNAP_NAME.match(n))]
    if not found:
        return None
    index, term, name = max(found)
    payload = wal.unframe_one(fs.read(name))
    if payload is None or len(payload) < SNAP_HEADER.size:
        raise CorruptSnapshotError(f"{name}: damaged snapshot file")
    if SNAP_HEADER.unpack_from(payload) != (index, term):
        raise CorruptSnapshotError(f"{name}: contents do not match the file name")
    return Snapshot(SnapshotMeta(index, term), payload[SNAP_HEADER.size :])


def reconcile(
    mark: SnapshotMeta, entries: list[Entry], snap: Snapshot | None
) -> tuple[Snapshot | None, list[Entry], bool]:
    """Match the log's MARK (and its `entries`) with the newest snapshot: the snapshot, the
    entries that follow it, and whether a compaction was interrupted (snapshot written, log
    not yet rewritten) and must be finished."""
    snap_meta = snap.meta if snap else SnapshotMeta()
    if snap_meta.index < mark.index:
        raise MissingSnapshotError(
            f"the log starts after index {mark.index} (term {mark.term}) but the newest "
            f"snapshot is at index {snap_meta.index}"
        )
    if snap_meta.index == mark.index:
        if snap_meta.term != mark.term:
            raise CorruptSnapshotError(
                f"snapshot term {snap_meta.term} != log mark term {mark.term} at {mark.index}"
            )
        return snap, entries, False
    # Keep only the entries that continue from the snapshot: none if the log does not lead
    # to it (a snapshot from the leader that replaced our log).
    if not any(e.index == snap_meta.index and e.term == snap_meta.term for e in entries):
        entries = []
    return snap, [e for e in entries if e.index > snap_meta.index], True
