"""Snapshots written by a forked child (bgsnap.SnapshotFork) with a real Storage on disk:
the child sees the state as of the fork, the parent adopts the file without writing it
again, failures and overtaken snapshots leave nothing behind, and no child outlives stop()."""

from __future__ import annotations

import contextlib
import os
import random
import select
import signal
import time
from pathlib import Path

import psutil
import pytest

from sentinel.host import OsFileSystem, Storage
from sentinel.host.bgsnap import SnapshotFork
from sentinel.host.layout import snap_name
from sentinel.host.storage import SNAPSHOT_SYNC_BYTES
from sentinel.raft import CorruptSnapshotError, Entry, HardState, Ready, Snapshot, SnapshotMeta

CLUSTER = "test-cluster"
WAIT_S = 30.0


def ready(entries=(), hard_state=None, snapshot=None, kept=None) -> Ready:
    kept = None if kept is None else tuple(kept)
    return Ready(hard_state, tuple(entries), snapshot, (), None, (), (), True, kept)


def ents(lo: int, hi: int, term: int = 1) -> list[Entry]:
    return [Entry(term, i, b"cmd-%d" % i) for i in range(lo, hi + 1)]


def storage_with_log(path: Path, last: int = 20) -> Storage:
    st = Storage.open(path, CLUSTER, 1)
    st.save(ready(ents(1, last), HardState(1, 1, last)))
    return st


def recovered(path: Path) -> tuple[Snapshot | None, list[int]]:
    """What a restart finds: the snapshot and the indexes of the entries after it."""
    st = Storage.open(path, CLUSTER, 1)
    try:
        return st.recovered.snapshot, [e.index for e in st.recovered.entries]
    finally:
        st.close()


def sleeping() -> bytes:
    """A snapshot maker that outlives any test (the test stops or kills its child)."""
    time.sleep(120)
    return b""


def collect(fork: SnapshotFork, snapshot_index: int = 0) -> tuple[int, bytes] | None:
    """Poll like the node's loop does (once per tick) until the child is gone."""
    deadline = time.monotonic() + WAIT_S
    while fork.running:
        done = fork.collect(snapshot_index)
        if done is not None:
            return done
        assert time.monotonic() < deadline, "the snapshot child did not finish"
        time.sleep(0.005)
    return None


def test_the_child_writes_the_state_as_of_the_fork(tmp_path: Path) -> None:
    st = storage_with_log(tmp_path)
    state = {"items": [b"a", b"b"]}
    fork = SnapshotFork(st)
    fork.start(SnapshotMeta(15, 1), lambda: b"|".join(state["items"]))
    state["items"].append(b"changed after the fork")  # the child's copy does not see it
    assert collect(fork) == (15, b"a|b")
    assert fork.forks == 1 and fork.failures == 0
    assert (tmp_path / snap_name(SnapshotMeta(15, 1))).exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_an_adopted_file_is_not_written_again_and_the_log_is_compacted(tmp_path: Path) -> None:
    st = storage_with_log(tmp_path)
    fork = SnapshotFork(st)
    fork.start(SnapshotMeta(15, 1), lambda: b"state at 15")
    done = collect(fork)
    assert done == (15, b"state at 15")
    path = tmp_path / snap_name(SnapshotMeta(15, 1))
    inode = path.stat().st_ino
    st.save(ready(snapshot=Snapshot(SnapshotMeta(15, 1), done[1]), kept=ents(16, 20)))
    assert path.stat().st_ino == inode  # the child's file, not a second copy
    st.close()
    assert recovered(tmp_path) == (Snapshot(SnapshotMeta(15, 1), b"state at 15"), [*range(16, 21)])


def test_a_crash_before_the_log_is_compacted_recovers_the_childs_snapshot(tmp_path: Path) -> None:
    st = storage_with_log(tmp_path)
    fork = SnapshotFork(st)
    fork.start(SnapshotMeta(12, 1), lambda: b"state at 12")
    assert collect(fork) is not None
    st.close()  # the node dies before its next save: an interrupted compaction
    assert recovered(tmp_path) == (Snapshot(SnapshotMeta(12, 1), b"state at 12"), [*range(13, 21)])


def test_a_failing_snapshot_maker_leaves_no_file_and_is_counted(tmp_path: Path) -> None:
    st = storage_with_log(tmp_path)
    fork = SnapshotFork(st)

    def broken() -> bytes:
        raise RuntimeError("cannot encode")

    fork.start(SnapshotMeta(15, 1), broken)
    assert collect(fork) is None
    assert not fork.can_start()  # no fork storm: the next try waits RETRY_AFTER_FAILURE_S
    assert not fork.running and fork.failures == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hardstate", "meta", "wal"]


def test_a_snapshot_overtaken_by_a_newer_one_is_discarded(tmp_path: Path) -> None:
    st = storage_with_log(tmp_path)
    fork = SnapshotFork(st)
    fork.start(SnapshotMeta(10, 1), lambda: b"old")
    # meanwhile the node installed a leader's snapshot at 18
    st.save(ready(snapshot=Snapshot(SnapshotMeta(18, 1), b"leader's"), kept=ents(19, 20)))
    assert collect(fork, snapshot_index=18) is None
    assert not (tmp_path / snap_name(SnapshotMeta(10, 1))).exists()
    assert (tmp_path / snap_name(SnapshotMeta(18, 1))).exists()


def test_a_snapshot_that_does_not_fit_is_discarded_unread(tmp_path: Path) -> None:
    """The driver's bound is asked with the file's data size, before the file is read: a
    refused snapshot (up to the 1 GiB a record holds) never comes into the node's memory."""
    st = storage_with_log(tmp_path)
    fork = SnapshotFork(st)
    asked: list[int] = []

    def unread(meta: SnapshotMeta) -> bytes:
        raise AssertionError("a refused snapshot file was read")

    st.read_snapshot_file = unread  # type: ignore[method-assign]
    fork.start(SnapshotMeta(15, 1), lambda: b"0123456789")
    deadline = time.monotonic() + WAIT_S
    while fork.running:
        assert fork.collect(0, lambda size: asked.append(size) or size <= 5) is None
        assert time.monotonic() < deadline, "the snapshot child did not finish"
        time.sleep(0.005)
    assert asked == [10]  # the data's bytes, without the file's headers
    assert not (tmp_path / snap_name(SnapshotMeta(15, 1))).exists()
    st.close()
    assert recovered(tmp_path) == (None, [*range(1, 21)])  # nothing lost: the log is whole


def test_stop_kills_and_reaps_a_running_child(tmp_path: Path) -> None:
    st = storage_with_log(tmp_path)
    fork = SnapshotFork(st)
    fork.start(SnapshotMeta(15, 1), sleeping)
    pid = fork.pid
    assert psutil.pid_exists(pid)
    fork.stop()
    assert not fork.running
    assert pid not in {c.pid for c in psutil.Process().children()}
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_the_child_closes_the_descriptors_it_is_given(tmp_path: Path) -> None:
    """The node's router connection: the router must see EOF when the node dies, not when
    a snapshot child that inherited it exits."""
    st = storage_with_log(tmp_path)
    read_end, write_end = os.pipe()
    fork = SnapshotFork(st, close_in_child=(write_end,))
    fork.start(SnapshotMeta(15, 1), sleeping)
    try:
        os.close(write_end)  # now only a child that kept its copy holds the pipe open
        readable, _, _ = select.select([read_end], [], [], WAIT_S)
        assert readable and os.read(read_end, 1) == b"", "the child kept the descriptor"
        assert fork.running  # EOF came while the child lives
    finally:
        fork.stop()
        os.close(read_end)


def test_a_damaged_file_is_refused_when_read_back(tmp_path: Path) -> None:
    st = storage_with_log(tmp_path)
    meta = SnapshotMeta(15, 1)
    st.write_snapshot_file(meta, b"0123456789")
    assert st.read_snapshot_file(meta) == b"0123456789"
    path = tmp_path / snap_name(meta)
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(CorruptSnapshotError):
        st.read_snapshot_file(meta)


def test_the_child_dies_with_its_node(tmp_path: Path) -> None:
    """A SIGKILLed node leaves no snapshot child behind (and so no late snapshot file)."""
    report_r, report_w = os.pipe()
    node = os.fork()
    if node == 0:  # the "node": starts a slow snapshot child, reports its pid, waits
        try:
            os.close(report_r)
            st = storage_with_log(tmp_path)
            fork = SnapshotFork(st)
            fork.start(SnapshotMeta(15, 1), sleeping)
            os.write(report_w, str(fork.pid).encode())
            time.sleep(120)
        finally:
            os._exit(0)
    os.close(report_w)
    try:
        child = int(os.read(report_r, 64))
        os.kill(node, signal.SIGKILL)
        os.waitpid(node, 0)
        deadline = time.monotonic() + WAIT_S
        while psutil.pid_exists(child) and psutil.Process(child).status() != "zombie":
            assert time.monotonic() < deadline, "the snapshot child outlived its node"
            time.sleep(0.01)
    finally:
        os.close(report_r)
        with contextlib.suppress(ProcessLookupError):
            os.kill(node, signal.SIGKILL)
    assert not (tmp_path / snap_name(SnapshotMeta(15, 1))).exists()


def test_a_snapshot_bigger_than_a_sync_piece_round_trips(tmp_path: Path) -> None:
    st = storage_with_log(tmp_path)
    data = random.Random(5).randbytes(2 * SNAPSHOT_SYNC_BYTES + 12345)  # three uneven pieces
    fork = SnapshotFork(st)
    fork.start(SnapshotMeta(15, 1), lambda: data)
    assert collect(fork) == (15, data)
    st.close()
    assert recovered(tmp_path)[0] == Snapshot(SnapshotMeta(15, 1), data)  # CRC checked too


def test_write_atomic_in_pieces_writes_every_byte(tmp_path: Path) -> None:
    fs = OsFileSystem(tmp_path)
    for size in (0, 1, 6, 7, 8, 100):
        data = bytes(range(size))
        fs.write_atomic("f", data, sync_every_bytes=7)
        assert fs.read("f") == data
    fs.close()
