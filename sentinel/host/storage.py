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

import logging
import os
from array import array
from collections.abc import Sequence

from sentinel.host import wal
from sentinel.host.fs import FileSystem, OsFileSystem
from sentinel.host.layout import HARDSTATE, HS, SNAP_HEADER, SNAP_NAME, WAL, snap_name
from sentinel.host.recovery import (
    check_meta,
    check_terms,
    lost_log,
    read_hard_state,
    read_newest_snapshot,
    reconcile,
)
from sentinel.raft.errors import CorruptSnapshotError, StorageError
from sentinel.raft.messages import Entry, HardState, SnapshotMeta
from sentinel.raft.ready import PersistentState, Ready

log = logging.getLogger(__name__)

#: Snapshot files go to disk in pieces of this size, fdatasync after each: ext4 commits its
#: journal as a whole, so one 13 MB flush (a follower installing the leader's snapshot, or
#: five nodes' snapshot children at once) held every other node's fsync for 80-160 ms, and
#: every write waits on fsyncs. In 1 MiB pieces the longest wait was ~36 ms.
SNAPSHOT_SYNC_BYTES = 1024 * 1024
#: A snapshot file's bytes before its data: the record header, then its index and term.
_SNAP_HEAD_BYTES = wal.HEADER_BYTES + SNAP_HEADER.size


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
        payload = SNAP_HEADER.pack(meta.index, meta.term) + data
        self.fs.write_atomic(snap_name(meta), wal.frame(payload), tmp_suffix, sync_every_bytes)

    def snapshot_file_data_bytes(self, meta: SnapshotMeta) -> int:
        """The data bytes a written snapshot file holds (its size less its headers), known
        without reading it: `read_snapshot_file` returns exactly this many."""
        return max(0, self.fs.size(snap_name(meta)) - _SNAP_HEAD_BYTES)

    def read_snapshot_file(self, meta: SnapshotMeta) -> bytes:
        """The data of a snapshot file that `write_snapshot_file` has just written and
        fsynced, read in one system call. Its header is checked but not its CRC, which costs
        as much again for 13 MB on the node's loop: the file is whole (it was fsynced before
        its rename) and every start checks it in full (`open`)."""
        name = snap_name(meta)
        size = self.fs.size(name)
        head = self.fs.read_range(name, 0, _SNAP_HEAD_BYTES)
        data_bytes = size - len(head)
        if (
            len(head) != _SNAP_HEAD_BYTES
            or wal.payload_bytes(head) != size - wal.HEADER_BYTES
            or SNAP_HEADER.unpack_from(head, wal.HEADER_BYTES) != (meta.index, meta.term)
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
            self.fs.remove(snap_name(meta))

    def _write_hard_state(self, hs: HardState) -> None:
        data = wal.frame(HS.pack(hs.term, hs.vote, hs.commit))
        self.fs.write_atomic(HARDSTATE, data)
        self._hard_state_file_bytes = len(data)

    def _rewrite_wal(self, meta: SnapshotMeta, entries: Sequence[Entry]) -> None:
        data = wal.frame(wal.encode_mark(meta))
        if entries:
            data += wal.frame(wal.encode_batch(entries))
        self.fs.write_atomic(WAL, data)

    def _remove_old_snapshots(self) -> None:
        keep = snap_name(self._snap_meta) if self._snap_meta else None
        for name in self.fs.names():
            if SNAP_NAME.match(name) and name != keep:
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
        return self.fs.size(snap_name(self._snap_meta)) if self._snap_meta else 0

    def disk_bytes(self) -> int:
        """Bytes of every file in the directory, space allocated ahead included."""
        return sum(self.fs.size_on_disk(name) for name in self.fs.names())

    def close(self) -> None:
        """Close open files."""
        self.fs.close()

    # ---------------------------------------------------------------- recovery

    def _recover(self) -> None:
        """Read and check everything first (recovery.py); change files only once all of it
        adds up."""
        names = self.fs.names()
        born_with_log = check_meta(self.fs, self.cluster_id, self.node_id, names)
        if born_with_log:
            names = self.fs.names()  # with the log a new directory was just given
        if HARDSTATE in names:
            self._hard_state, self._hard_state_file_bytes = read_hard_state(self.fs)
        mark, entries, tail = (
            wal.read_log(self.fs.read(WAL), WAL) if WAL in names else (None, [], None)
        )
        if mark is None and born_with_log:
            raise lost_log("is missing" if WAL not in names else "lost its first record")
        mark = mark or SnapshotMeta()
        snap, entries, interrupted = reconcile(mark, entries, read_newest_snapshot(self.fs, names))
        check_terms(entries, snap, self._hard_state if HARDSTATE in names else None)
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
