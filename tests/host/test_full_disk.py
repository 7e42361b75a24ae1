"""A full disk (a directory quota, see OsFileSystem): a clear ENOSPC, nothing half-done, and
the same Ready saved again once there is room."""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

import pytest
from raft_harness import Cluster
from test_storage import CLUSTER, digest, ents, ready

from sentinel.host import Storage, fs
from sentinel.host.fs import OsFileSystem
from sentinel.host.stall import DISK_RETRY_S, StallingSaver
from sentinel.raft import Entry, HardState, Message, MessageType, Snapshot, SnapshotMeta

QUOTA_BYTES = 256 * 1024


def used_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.iterdir())


def leave_room(directory: Path, room_bytes: int) -> Path:
    """Fill the directory with a ballast file until `room_bytes` are left of the quota."""
    ballast = directory / "ballast"
    ballast.unlink(missing_ok=True)
    ballast.write_bytes(bytes(QUOTA_BYTES - used_bytes(directory) - room_bytes))
    return ballast


def test_an_append_past_the_quota_fails_with_enospc_and_writes_nothing(tmp_path: Path) -> None:
    disk = OsFileSystem(tmp_path, quota_bytes=QUOTA_BYTES)
    disk.append("log", b"x" * 100)
    disk.sync("log")
    leave_room(tmp_path, 0)
    before = digest(tmp_path)
    with pytest.raises(OSError, match="No space left on device") as caught:
        disk.append("log", b"y" * (fs.ALLOCATE_AHEAD_BYTES_MIN + 1))
    assert caught.value.errno == errno.ENOSPC
    assert digest(tmp_path) == before and disk.size("log") == 100


def test_a_nearly_full_disk_allocates_only_what_an_append_needs(tmp_path: Path) -> None:
    disk = OsFileSystem(tmp_path, quota_bytes=QUOTA_BYTES)
    disk.append("log", b"x" * 100)
    allocated = (tmp_path / "log").stat().st_size
    leave_room(tmp_path, 1000)  # far less than the space it would allocate ahead
    disk.append("log", b"y" * (allocated - 100 + 500))
    disk.sync("log")
    assert disk.size("log") == allocated + 500 == (tmp_path / "log").stat().st_size
    assert disk.read("log") == b"x" * 100 + b"y" * (allocated + 400)


def test_a_replace_past_the_quota_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path,
) -> None:
    disk = OsFileSystem(tmp_path, quota_bytes=QUOTA_BYTES)
    disk.write_atomic("state", b"old")
    leave_room(tmp_path, 10)
    with pytest.raises(OSError) as caught:
        disk.write_atomic("state", b"n" * 100)
    assert caught.value.errno == errno.ENOSPC
    assert disk.read("state") == b"old" and not list(tmp_path.glob("*.tmp"))


def test_a_hard_state_the_disk_had_no_room_for_is_written_when_saved_again(
    tmp_path: Path,
) -> None:
    st = Storage.open(tmp_path, CLUSTER, 1, quota_bytes=QUOTA_BYTES)
    st.save(ready(ents(1, 3), HardState(1, 1, 0)))
    ballast = leave_room(tmp_path, 0)
    vote = ready(ents(4, 4, term=2), HardState(2, 3, 3))
    with pytest.raises(OSError) as caught:
        st.save(vote)
    assert caught.value.errno == errno.ENOSPC
    ballast.unlink()
    st.save(vote)  # the same Ready: its new term and vote must reach the disk this time
    st.close()
    rec = Storage.open(tmp_path, CLUSTER, 1).recovered
    assert (rec.hard_state.term, rec.hard_state.vote) == (2, 3)
    assert [(e.index, e.term) for e in rec.entries] == [(1, 1), (2, 1), (3, 1), (4, 2)]


def test_a_snapshot_saved_again_after_its_log_rewrite_failed_keeps_the_later_entries(
    tmp_path: Path,
) -> None:
    st = Storage.open(tmp_path, CLUSTER, 1, quota_bytes=QUOTA_BYTES)
    st.save(ready(ents(1, 10, size=2000), HardState(1, 1, 0)))
    st.close()  # (gives back the space allocated ahead, so the arithmetic below is exact)
    st = Storage.open(tmp_path, CLUSTER, 1, quota_bytes=QUOTA_BYTES)
    snap = Snapshot(SnapshotMeta(5, 1), b"s" * 100)
    # Room for the snapshot file but not for the log rewritten after it (entries 6-10).
    ballast = leave_room(tmp_path, 1000)
    compaction = ready(snapshot=snap, kept=ents(6, 10, size=2000))
    with pytest.raises(OSError) as caught:
        st.save(compaction)
    assert caught.value.errno == errno.ENOSPC
    assert any(p.name.startswith("snap-") for p in tmp_path.iterdir())  # it got that far
    ballast.unlink()
    st.save(compaction)
    st.close()
    rec = Storage.open(tmp_path, CLUSTER, 1).recovered
    assert rec.snapshot is not None and rec.snapshot.meta == SnapshotMeta(5, 1)
    assert [e.index for e in rec.entries] == [6, 7, 8, 9, 10]


def test_a_held_compaction_is_saved_as_made_though_the_core_took_a_newer_term_meanwhile(
    tmp_path: Path,
) -> None:
    """While a Ready that stores a snapshot waits for room, the core steps a new leader's
    APPEND: a newer term and an entry of it. The Ready keeps the entries of its making, so
    the disk never holds an entry of a term past its hard state (recovery would refuse it)."""
    c = Cluster(3, seed=5)
    c.elect(1)
    for k in range(12):
        c.propose(1, b"c%d" % k)
    c.deliver_all()
    c.process_all()
    follower = c.nodes[2]
    st = Storage.open(tmp_path, CLUSTER, 2, quota_bytes=QUOTA_BYTES)
    st.save(ready(follower.log.retained_entries(), follower.hard_state()))  # its disk so far
    assert follower.log.applied == 13 and follower.compact(9, c.snapshot_of(2, 9))
    held = follower.ready()
    assert held.snapshot is not None and held.kept_entries == follower.log.retained_entries()
    ballast = leave_room(tmp_path, 0)
    with pytest.raises(OSError):
        st.save(held)
    last, term = follower.log.last_index, follower.term
    new_term_entry = Entry(term + 1, last + 1, b"new leader's")
    follower.step(
        Message(MessageType.APPEND, 3, 2, term + 1, term, last, entries=(new_term_entry,))
    )
    assert follower.log.last_term == term + 1  # the core moved on past the held Ready
    ballast.unlink()
    st.save(held)
    st.close()
    rec = Storage.open(tmp_path, CLUSTER, 2).recovered
    assert rec.snapshot == held.snapshot and rec.entries == held.kept_entries != ()
    assert max(e.term for e in rec.entries) <= rec.hard_state.term == term


class _Disk:
    """A Storage stand-in whose saves fail with the errno it is given, until told otherwise."""

    def __init__(self) -> None:
        self.fail_with: int | None = None
        self.saved: list = []

    def save(self, rd) -> None:
        if self.fail_with is not None:
            raise OSError(self.fail_with, os.strerror(self.fail_with))
        self.saved.append(rd)


def test_a_stalled_ready_is_saved_again_when_due(
    caplog: pytest.LogCaptureFixture,
) -> None:
    disk, now = _Disk(), [100.0]
    saver = StallingSaver(disk, 3, clock=lambda: now[0])  # type: ignore[arg-type]
    rd = ready(ents(1, 1))
    disk.fail_with = errno.ENOSPC
    with caplog.at_level(logging.WARNING):
        assert not saver.save(rd)
        assert saver.stalled is rd and saver.error.startswith("disk full")
        assert not saver.save(rd) and saver.failures == 1  # not due: no second try yet
        now[0] += DISK_RETRY_S
        assert not saver.save(rd) and saver.failures == 2  # due, but still no room
        disk.fail_with = errno.EDQUOT  # a quota is a full disk too
        now[0] += DISK_RETRY_S
        assert not saver.save(rd) and saver.failures == 3
        disk.fail_with = None
        now[0] += DISK_RETRY_S
        assert saver.save(rd)
    assert disk.saved == [rd] and saver.stalled is None and saver.error == ""
    assert caplog.text.count("disk full, cannot persist its log") == 1  # not every 100 ms
    assert "the disk has room again" in caplog.text


def test_other_disk_errors_still_stop_the_node() -> None:
    disk = _Disk()
    saver = StallingSaver(disk, 3)  # type: ignore[arg-type]
    disk.fail_with = errno.EIO  # the disk's state is unknown: no retrying over it
    with pytest.raises(OSError) as caught:
        saver.save(ready(ents(1, 1)))
    assert caught.value.errno == errno.EIO and saver.stalled is None


def test_a_node_whose_ready_is_held_keeps_only_the_newest_messages_it_made_meanwhile() -> None:
    """A follower whose save is stalled keeps stepping heartbeats: what it would answer is
    bounded (the oldest go, as the network may lose any message), not a leak per heartbeat."""
    c = Cluster(3, seed=4, max_queued_msgs=8)
    c.elect(1)
    c.deliver_all()
    leader, follower = c.nodes[1], c.nodes[2]

    def heartbeat(context: bytes) -> Message:
        return Message(
            MessageType.HEARTBEAT, 1, 2, leader.term, commit=leader.log.committed, context=context
        )

    follower.step(heartbeat(b"before"))
    held = follower.ready()  # its save stalls: the Ready stays outstanding
    assert [m.context for m in held.messages] == [b"before"]
    for k in range(100):
        follower.step(heartbeat(b"beat-%d" % k))
    follower.advance(held)  # saved at last
    answers = follower.ready().messages
    assert [m.context for m in answers] == [b"beat-%d" % k for k in range(92, 100)]
