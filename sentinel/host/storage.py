"""A node's durable state in one directory: metadata, hard state, write-ahead log, snapshot.

Files (all written as checked records, see wal.py):
- `meta`: cluster id, node id and format, written once at creation, right after `wal`;
- `hardstate`: (term, vote, commit), replaced atomically whenever term or vote change
  (commit is only a hint and is persisted lazily: recovery takes at least the snapshot's
  index as committed, so a compaction need not rewrite it; two fsyncs fewer in a turn that
  already rewrites the log);
- `wal`: one BATCH record per `save` (group commit: one fsync per Ready), starting with a
  MARK of the snapshot it follows; rewritten atomically after each snapshot, so its size
  stays bounded by the retained log. Format 2 creates it, holding its MARK alone, before
  `meta`: from then on a directory whose `meta` says format 2 and whose `wal` is missing,
  or does not begin with a MARK, has lost its log (a deleted file, not a crash), and `open`
  refuses it rather than start a node that forgot what it acknowledged. (Format 1
  directories made the log at the first save, so there a missing log is no evidence.)
- `snap-<index>-<term>`: the latest snapshot, written to a temporary file, fsynced, renamed.

`save` writes the snapshot, then the hard state, then the log, so a crash at any point leaves
files that `open` can reconcile (a snapshot newer than the log's MARK finishes the interrupted
compaction). Anything else that does not add up raises a StorageError and changes nothing.
"""

from __future__ import annotations

import json
import logging
import os
import re
import struct
from array import array
from collections.abc import Mapping, Sequence

from sentinel.host import wal
from sentinel.host.fs import FileSystem, OsFileSystem
from sentinel.raft.errors import (
    ClusterMismatchError,
    CorruptSnapshotError,
    CorruptStateError,
    MissingSnapshotError,
    StorageError,
)
from sentinel.raft.messages import Entry, HardState, Snapshot, SnapshotMeta
from sentinel.raft.ready import PersistentState, Ready

log = logging.getLogger(__name__)

META, HARDSTATE, WAL = "meta", "hardstate", "wal"
_SNAP_NAME = re.compile(r"^snap-(\d{20})-(\d{20})$")
_HS = struct.Struct(">QQQ")
_SNAP_HEADER = struct.Struct(">QQ")
#: The format new directories get; `open` reads both.
_FORMAT = 2
_FORMATS = (1, 2)
#: Snapshot files go to disk in pieces of this size, fdatasync after each: ext4 commits its
#: journal as a whole, so one 13 MB flush (a follower installing the leader's snapshot, or
#: five nodes' snapshot children at once) held every other node's fsync for 80-160 ms, and
#: every write waits on fsyncs. In 1 MiB pieces the longest wait was ~36 ms.
SNAPSHOT_SYNC_BYTES = 1024 * 1024


#: A new directory's log: the MARK of "no snapshot" and nothing else.
_BIRTH_LOG = wal.frame(wal.encode_mark(SnapshotMeta()))


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


def _lost_log(why: str) -> CorruptStateError:
    """A format-2 directory's log is gone or lost its MARK: a deleted or cut file, not a
    crash (the MARK is written atomically). Starting would keep the hard state's term and
    vote but forget the entries the node stored and acknowledged."""
    return CorruptStateError(
        f"{WAL}: the write-ahead log {why}, though this directory was created with one: "
        "the node would forget the entries it stored and acknowledged. Restore the node's "
        "directory, or start a new cluster"
    )


def _snap_name(meta: SnapshotMeta) -> str:
    return f"snap-{meta.index:020d}-{meta.term:020d}"


class Storage:
    """Durable raft state of one node. Use `open` (a real directory) or `open_fs`."""

    def __init__(self, fs: FileSystem, cluster_id: str, node_id: int) -> None:
        self.fs = fs
        self.cluster_id = cluster_id
        self.node_id = node_id
        self._hard_state = HardState()
        #: The hard state file's size (0 while there is none): `raft_state_bytes` is asked
        #: after every apply, and this saves a stat of the file each time.
        self._hard_state_file_bytes = 0
        #: The stored snapshot's (index, term); None when there is none.
        self._snap_meta: SnapshotMeta | None = None
        #: The terms of the stored entries, from the snapshot's index + 1 on: all that `save`
        #: and `stored_term` need of the log. The entries themselves are the core's (RaftLog);
        #: a Ready that stores a snapshot brings those kept after it (`Ready.kept_entries`).
        self._terms = array("Q")
        #: The index of the first stored entry (or of the next one): the snapshot's + 1.
        self._first = 1
        #: A snapshot whose file is written already (by another process, see
        #: write_snapshot_file, or by a save that then failed); the next save skips it.
        self._prewritten: SnapshotMeta | None = None
        #: What the node recovered (see PersistentState), until `take_recovered`.
        self._recovered: PersistentState | None = PersistentState()

    @property
    def recovered(self) -> PersistentState:
        """What the node recovered (see PersistentState), until `take_recovered`."""
        if self._recovered is None:
            raise RuntimeError(f"node {self.node_id}: the recovered state was handed over")
        return self._recovered

    def take_recovered(self) -> PersistentState:
        """Hand the recovered state over, once, to the core that is built from it: from then
        on the core's log holds the entries, and the storage keeps no second reference to
        them (nor to the snapshot's data) for the life of the process."""
        state, self._recovered = self.recovered, None
        return state

    @classmethod
    def open(
        cls, directory: str | os.PathLike[str], cluster_id: str, node_id: int, quota_bytes: int = 0
    ) -> Storage:
        """Open (or create) a node directory on the real disk and recover its state (with
        `quota_bytes`, the directory may hold at most that much, see OsFileSystem)."""
        return cls.open_fs(OsFileSystem(directory, quota_bytes), cluster_id, node_id)

    @classmethod
    def open_fs(cls, fs: FileSystem, cluster_id: str, node_id: int) -> Storage:
        """Open storage on any FileSystem (the simulator passes a MemFileSystem)."""
        storage = cls(fs, cluster_id, node_id)
        try:
            storage._recover()
        except BaseException:
            fs.close()
            raise
        return storage

    # ------------------------------------------------------------------ saving

    def save(self, rd: Ready) -> None:
        """Persist a Ready: snapshot, hard state, entries; at most one fsync for the log.

        Checks first that the entries follow the stored log (and that a snapshot's
        `kept_entries` are what the stored log keeps after it): a StorageError then, with
        nothing written. If it raises after that (a full disk: OSError ENOSPC), nothing it
        wrote is relied upon and the same Ready can be saved again: every step is
        idempotent, and the state kept here changes only once its file is written."""
        snap, entries = rd.snapshot, rd.entries
        if snap is not None:
            kept_terms = self._kept_terms(rd)
        elif entries:
            next_index = self._first + len(self._terms)
            # (one entry right after the stored ones, the usual Ready, needs no closer look)
            if (len(entries) != 1 or entries[0].index != next_index) and (
                why := wal.misplaced(entries, self._first, len(self._terms))
            ):
                raise StorageError(f"not saved: {why}")
        if snap is not None and snap.meta not in (self._snap_meta, self._prewritten):
            self.write_snapshot_file(snap.meta, snap.data, sync_every_bytes=SNAPSHOT_SYNC_BYTES)
            self._prewritten = snap.meta
        if rd.hard_state is not None:
            old, hs = self._hard_state, rd.hard_state
            if (old.term, old.vote) != (hs.term, hs.vote):
                # The file goes first, so its commit must not reach this Ready's entries:
                # until they are written, the disk may hold stale ones at those indexes
                # (a crash in between once made a restarted node apply them). What is
                # stored up to the first of them matches the log, so commit may cover it.
                if rd.entries and hs.commit >= rd.entries[0].index:
                    hs = HardState(hs.term, hs.vote, rd.entries[0].index - 1)
                self._write_hard_state(hs)
            self._hard_state = rd.hard_state
        if snap is not None:
            self._rewrite_wal(snap.meta, rd.kept_entries or ())
            self._snap_meta, self._first = snap.meta, snap.meta.index + 1
            self._terms, self._prewritten = kept_terms, None
            self._remove_old_snapshots()
        elif entries:
            self.fs.append(WAL, wal.frame(wal.encode_batch(entries)))
            self.fs.sync(WAL)
            terms, cut = self._terms, entries[0].index - self._first
            if cut < len(terms):  # they replace a stored suffix
                del terms[cut:]
            append = terms.append  # (a list comprehension costs more for one entry)
            for e in entries:
                append(e.term)

    def _kept_terms(self, rd: Ready) -> array[int]:
        """The terms of the log stored with `rd`'s snapshot, after checking that its
        `kept_entries` are that log: the stored entries after the snapshot if the stored log
        leads to it (none if not: a snapshot from the leader that replaces our log), with
        `rd.entries` put in place."""
        assert rd.snapshot is not None
        meta, kept = rd.snapshot.meta, rd.kept_entries
        if kept is None:
            raise StorageError("a Ready with a snapshot must carry the entries kept after it")
        terms = array("Q")
        if self.stored_term(meta.index) == meta.term:
            terms = self._terms[meta.index + 1 - self._first :]
        if rd.entries:
            if why := wal.misplaced(rd.entries, meta.index + 1, len(terms)):
                raise StorageError(f"not saved: {why}")
            del terms[rd.entries[0].index - meta.index - 1 :]
            terms.extend([e.term for e in rd.entries])
        why = wal.misplaced(kept, meta.index + 1, 0) if kept else None
        if why is None and array("Q", [e.term for e in kept]) != terms:
            why = f"terms {[e.term for e in kept[:8]]}... where it holds {terms[:8].tolist()}..."
        if why:
            raise StorageError(
                f"the entries kept after snapshot {meta.index} are not the stored log's: {why}"
            )
        return terms

    # ------------------------------------------------ snapshots written elsewhere

    def write_snapshot_file(
        self, meta: SnapshotMeta, data: bytes, tmp_suffix: str = ".tmp", sync_every_bytes: int = 0
    ) -> None:
        """Write and fsync the snapshot file for `meta` and nothing else: no state of this
        object changes, so a forked copy of the node may call it (with its own `tmp_suffix`,
        ending in ".tmp") while the node goes on. Until `save` takes the snapshot, the
        file is one that recovery treats as an interrupted compaction, which is safe for a
        snapshot of applied (so committed) entries."""
        payload = _SNAP_HEADER.pack(meta.index, meta.term) + data
        self.fs.write_atomic(_snap_name(meta), wal.frame(payload), tmp_suffix, sync_every_bytes)

    def snapshot_file_data_bytes(self, meta: SnapshotMeta) -> int:
        """The data bytes a written snapshot file holds (its size less its headers), known
        without reading it: `read_snapshot_file` returns exactly this many."""
        return max(0, self.fs.size(_snap_name(meta)) - wal.HEADER_BYTES - _SNAP_HEADER.size)

    def read_snapshot_file(self, meta: SnapshotMeta) -> bytes:
        """The data of a snapshot file that `write_snapshot_file` has just written and
        fsynced, read in one system call. Its header is checked but not its CRC, which costs
        as much again for 13 MB on the node's loop: the file is whole (it was fsynced before
        its rename) and every start checks it in full (`open`)."""
        name = _snap_name(meta)
        size = self.fs.size(name)
        head = self.fs.read_range(name, 0, wal.HEADER_BYTES + _SNAP_HEADER.size)
        data_bytes = size - len(head)
        if (
            len(head) != wal.HEADER_BYTES + _SNAP_HEADER.size
            or wal.payload_bytes(head) != size - wal.HEADER_BYTES
            or _SNAP_HEADER.unpack_from(head, wal.HEADER_BYTES) != (meta.index, meta.term)
        ):
            raise CorruptSnapshotError(f"{name}: not the snapshot that was written")
        data = self.fs.read_range(name, len(head), data_bytes)
        if len(data) != data_bytes:
            raise CorruptSnapshotError(f"{name}: shorter than its header says")
        return data

    def adopt_snapshot_file(self, meta: SnapshotMeta) -> None:
        """The next `save` of a snapshot with `meta` finds its file already written."""
        self._prewritten = meta

    def discard_snapshot_file(self, meta: SnapshotMeta) -> None:
        """Remove a snapshot file that was written but will not be used."""
        if self._snap_meta != meta:
            self.fs.remove(_snap_name(meta))

    def _write_hard_state(self, hs: HardState) -> None:
        data = wal.frame(_HS.pack(hs.term, hs.vote, hs.commit))
        self.fs.write_atomic(HARDSTATE, data)
        self._hard_state_file_bytes = len(data)

    def _rewrite_wal(self, meta: SnapshotMeta, entries: Sequence[Entry]) -> None:
        data = wal.frame(wal.encode_mark(meta))
        if entries:
            data += wal.frame(wal.encode_batch(entries))
        self.fs.write_atomic(WAL, data)

    def _remove_old_snapshots(self) -> None:
        keep = _snap_name(self._snap_meta) if self._snap_meta else None
        for name in self.fs.names():
            if _SNAP_NAME.match(name) and name != keep:
                self.fs.remove(name)

    def stored_term(self, index: int) -> int | None:
        """The term of the stored entry at `index` (the snapshot's at its index, 0 at 0);
        None when the stored log does not hold it. What is on disk, which may differ from
        the core's log while a Ready waits to be saved (a full disk)."""
        meta = self._snap_meta or SnapshotMeta()
        if index == meta.index:
            return meta.term
        k = index - meta.index - 1
        return self._terms[k] if 0 <= k < len(self._terms) else None

    # ------------------------------------------------------------------ sizes

    def raft_state_bytes(self) -> int:
        """Bytes of raft state on disk (log + hard state): 6.824's RaftStateSize."""
        return self.fs.size(WAL) + self._hard_state_file_bytes

    def snapshot_bytes(self) -> int:
        """Bytes of the snapshot file (0 when there is none)."""
        return self.fs.size(_snap_name(self._snap_meta)) if self._snap_meta else 0

    def disk_bytes(self) -> int:
        """Bytes of every file in the directory, space allocated ahead included."""
        return sum(self.fs.size_on_disk(name) for name in self.fs.names())

    def close(self) -> None:
        """Close open files."""
        self.fs.close()

    # ---------------------------------------------------------------- recovery

    def _recover(self) -> None:
        """Read and check everything first; change files only once all of it adds up."""
        names = self.fs.names()
        born_with_log = self._check_meta(names)
        if born_with_log:
            names = self.fs.names()  # with the log a new directory was just given
        if HARDSTATE in names:
            data = self.fs.read(HARDSTATE)
            payload = wal.unframe_one(data)
            if payload is None or len(payload) != _HS.size:
                raise CorruptStateError(f"{HARDSTATE}: damaged hard state file")
            self._hard_state = HardState(*_HS.unpack(payload))
            self._hard_state_file_bytes = len(data)
        mark, entries, tail = (
            wal.read_log(self.fs.read(WAL), WAL) if WAL in names else (None, [], None)
        )
        if mark is None and born_with_log:
            raise _lost_log("is missing" if WAL not in names else "lost its first record")
        mark = mark or SnapshotMeta()
        snap, entries, interrupted = _reconcile(mark, entries, self._read_newest_snapshot(names))
        self._check_terms(entries, snap, HARDSTATE in names)
        if tail is not None:  # appends continue right after the last whole record
            end, size, torn = tail
            if torn:
                log.warning(
                    "node %d: cutting a torn tail of %d bytes off the write-ahead log at byte %d",
                    self.node_id,
                    size - end,
                    end,
                )
            self.fs.truncate(WAL, end)
        if interrupted:
            log.warning(
                "node %d: finishing a compaction interrupted by a crash (snapshot %d, mark %d)",
                self.node_id,
                snap.meta.index if snap else 0,
                mark.index,
            )
            assert snap is not None
            self._rewrite_wal(snap.meta, entries)
        self._snap_meta = snap.meta if snap else None
        self._first = snap.meta.index + 1 if snap else 1
        self._terms = array("Q", [e.term for e in entries])
        if interrupted:
            self._remove_old_snapshots()
        for name in names:
            if name.endswith(".tmp"):
                self.fs.remove(name)  # leftovers of an interrupted atomic write
        self._recovered = PersistentState(self._hard_state, snap, tuple(entries))

    def _check_terms(
        self, entries: Sequence[Entry], snap: Snapshot | None, has_hard_state: bool
    ) -> None:
        """The hard state must be at least at the newest term the log or snapshot holds: a
        node stores an entry or snapshot of term T only after its term T is on disk."""
        newest = max(entries[-1].term if entries else 0, snap.meta.term if snap else 0)
        if newest > 0 and not has_hard_state:
            raise CorruptStateError(
                f"{HARDSTATE}: the hard state file is missing, though the log holds term "
                f"{newest}: the node would forget its term and its vote (and could vote twice "
                "in one term). Restore the node's directory, or start a new cluster"
            )
        if newest > self._hard_state.term:
            raise CorruptStateError(
                f"log holds term {newest} but the hard state is at term {self._hard_state.term}"
            )

    def _check_meta(self, names: list[str]) -> bool:
        """Check (or, in a new directory, write) `meta`; whether the directory's format makes
        its log at birth (so a missing log is damage)."""
        if META not in names:
            raft_files = [n for n in names if n in (HARDSTATE, WAL) or _SNAP_NAME.match(n)]
            if raft_files and not (raft_files == [WAL] and self._is_birth_log()):
                raise CorruptStateError(f"raft files {raft_files} without a {META} file")
            # Log first, then meta: a crash between the two leaves a birth log, redone here.
            self.fs.write_atomic(WAL, _BIRTH_LOG)
            doc = {"format": _FORMAT, "cluster_id": self.cluster_id, "node_id": self.node_id}
            self.fs.write_atomic(META, wal.frame(json.dumps(doc).encode()))
            return True
        payload = wal.unframe_one(self.fs.read(META))
        try:
            doc = json.loads(payload) if payload is not None else None
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or doc.get("format") not in _FORMATS:
            raise CorruptStateError(f"{META}: damaged or unknown metadata file")
        if doc.get("cluster_id") != self.cluster_id or doc.get("node_id") != self.node_id:
            raise ClusterMismatchError(
                f"directory belongs to cluster {doc.get('cluster_id')!r} node "
                f"{doc.get('node_id')}, not cluster {self.cluster_id!r} node {self.node_id}"
            )
        return doc["format"] >= 2

    def _is_birth_log(self) -> bool:
        return self.fs.read(WAL) == _BIRTH_LOG

    def _read_newest_snapshot(self, names: list[str]) -> Snapshot | None:
        found = [(int(m[1]), int(m[2]), n) for n in names if (m := _SNAP_NAME.match(n))]
        if not found:
            return None
        index, term, name = max(found)
        return self._read_snapshot(name, index, term)

    def _read_snapshot(self, name: str, index: int, term: int) -> Snapshot:
        payload = wal.unframe_one(self.fs.read(name))
        if payload is None or len(payload) < _SNAP_HEADER.size:
            raise CorruptSnapshotError(f"{name}: damaged snapshot file")
        if _SNAP_HEADER.unpack_from(payload) != (index, term):
            raise CorruptSnapshotError(f"{name}: contents do not match the file name")
        return Snapshot(SnapshotMeta(index, term), payload[_SNAP_HEADER.size :])


def _reconcile(
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
