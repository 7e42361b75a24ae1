"""Storage on a real disk: round trips, group commit, torn tails, corruption, size bounds."""

from __future__ import annotations

import hashlib
import json
import logging
import random
import struct
from pathlib import Path

import pytest
from raft_harness import Cluster

from sentinel.host import MemFileSystem, Storage, nodecli, wal
from sentinel.host.recovery import lost_disk
from sentinel.raft import (
    ClusterMismatchError,
    Config,
    CorruptLogError,
    CorruptSnapshotError,
    CorruptStateError,
    Entry,
    HardState,
    MissingSnapshotError,
    Raft,
    Ready,
    Snapshot,
    SnapshotMeta,
)
from sentinel.sim.disk import DiskCrash, SimDisk

CLUSTER = "test-cluster"


def ready(
    entries=(), hard_state=None, snapshot=None, apply_snapshot=None, must_sync=True, kept=None
) -> Ready:
    """A Ready as the core makes it; with a snapshot, `kept` are the log's entries after it."""
    kept = None if kept is None else tuple(kept)
    return Ready(hard_state, tuple(entries), snapshot, (), apply_snapshot, (), (), must_sync, kept)


def ents(lo: int, hi: int, term: int = 1, size: int = 8) -> list[Entry]:
    return [Entry(term, i, b"%0*d" % (size, i)) for i in range(lo, hi + 1)]


def digest(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_round_trip_across_reopen(tmp_path: Path) -> None:
    st = Storage.open(tmp_path, CLUSTER, 1)
    assert st.recovered.entries == () and st.recovered.snapshot is None
    st.save(ready(ents(1, 5), HardState(1, 1, 0)))
    st.save(ready(ents(6, 8), HardState(1, 1, 5)))
    st.close()
    st = Storage.open(tmp_path, CLUSTER, 1)
    rec = st.recovered
    assert [e.index for e in rec.entries] == list(range(1, 9))
    assert rec.entries[4] == Entry(1, 5, b"00000005")
    assert (rec.hard_state.term, rec.hard_state.vote) == (1, 1)
    st.close()


def test_an_entry_at_an_existing_index_replaces_the_suffix(tmp_path: Path) -> None:
    st = Storage.open(tmp_path, CLUSTER, 1)
    st.save(ready(ents(1, 6), HardState(1, 1, 0)))
    st.save(ready(ents(4, 5, term=2), HardState(2, 0, 0)))
    st.close()
    rec = Storage.open(tmp_path, CLUSTER, 1).recovered
    assert [(e.index, e.term) for e in rec.entries] == [(1, 1), (2, 1), (3, 1), (4, 2), (5, 2)]


def test_group_commit_one_fsync_per_ready_and_none_for_a_commit_only_change(
    tmp_path: Path,
) -> None:
    st = Storage.open(tmp_path, CLUSTER, 1)
    st.save(ready(ents(1, 1), HardState(1, 1, 0)))  # new term: hard state + log
    before = st.fs.fsyncs
    st.save(ready(ents(2, 50), HardState(1, 1, 1)))  # 49 entries, commit moved
    assert st.fs.fsyncs - before == 1
    before = st.fs.fsyncs
    st.save(ready((), HardState(1, 1, 50), must_sync=False))
    assert st.fs.fsyncs == before
    st.close()


def test_raft_state_bytes_is_the_log_and_hard_state_files_data(tmp_path: Path) -> None:
    """`raft_state_bytes` (asked after every apply, so kept without a stat of the hard
    state file) is the WAL's data plus the hard state file, through writes, a compaction
    and a reopen."""

    def on_disk(st: Storage) -> int:
        hard_state = tmp_path / "hardstate"
        return st.fs.size("wal") + (hard_state.stat().st_size if hard_state.exists() else 0)

    st = Storage.open(tmp_path, CLUSTER, 1)
    assert st.raft_state_bytes() == on_disk(st)
    st.save(ready(ents(1, 20), None))  # entries, no hard state file yet
    assert st.raft_state_bytes() == on_disk(st) == st.fs.size("wal")
    st.save(ready(ents(21, 30), HardState(2, 1, 25)))
    assert st.raft_state_bytes() == on_disk(st) > st.fs.size("wal")
    snap = Snapshot(SnapshotMeta(25, 1), b"state at 25")
    st.save(ready((), HardState(2, 1, 30), snapshot=snap, kept=ents(26, 30)))
    assert st.raft_state_bytes() == on_disk(st)
    st.close()
    st = Storage.open(tmp_path, CLUSTER, 1)
    assert st.raft_state_bytes() == on_disk(st) > 0
    st.close()


def test_snapshot_compaction_rewrites_the_log_and_bounds_raft_state_size(tmp_path: Path) -> None:
    """6.824 3D: raft state (log + hard state) stays < 2000 bytes with small commands."""
    st = Storage.open(tmp_path, CLUSTER, 1)
    st.save(ready(ents(1, 200), HardState(1, 1, 0)))
    assert st.raft_state_bytes() > 2000
    snap = Snapshot(SnapshotMeta(195, 1), b"state machine at 195")
    st.save(ready((), HardState(1, 1, 200), snapshot=snap, kept=ents(196, 200)))
    assert st.raft_state_bytes() < 2000
    assert st.snapshot_bytes() > len(snap.data)
    assert st.disk_bytes() >= st.raft_state_bytes() + st.snapshot_bytes()
    st.save(ready(ents(201, 210), None))
    st.close()
    st = Storage.open(tmp_path, CLUSTER, 1)
    rec = st.recovered
    assert rec.snapshot == snap
    assert [e.index for e in rec.entries] == list(range(196, 211))
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("snap-")) == [
        "snap-00000000000000000195-00000000000000000001"
    ]


def test_snapshot_survives_later_saves_and_restarts(tmp_path: Path) -> None:
    """6.824 TestSnapshotInit: later persists must not wipe the snapshot."""
    st = Storage.open(tmp_path, CLUSTER, 1)
    st.save(ready(ents(1, 12), HardState(1, 1, 12)))
    st.save(ready((), None, snapshot=Snapshot(SnapshotMeta(9, 1), b"nine"), kept=ents(10, 12)))
    for round_ in range(3):
        st.close()
        st = Storage.open(tmp_path, CLUSTER, 1)
        assert st.recovered.snapshot == Snapshot(SnapshotMeta(9, 1), b"nine")
        term = 2 + round_
        st.save(ready(ents(13 + round_, 13 + round_, term=term), HardState(term, 0, 12)))
    st.close()


def test_a_received_snapshot_that_our_log_does_not_lead_to_replaces_the_log(
    tmp_path: Path,
) -> None:
    st = Storage.open(tmp_path, CLUSTER, 1)
    st.save(ready(ents(1, 10), HardState(1, 1, 3)))
    snap = Snapshot(SnapshotMeta(20, 3), b"leader state")
    rd = ready(ents(21, 22, term=3), HardState(3, 0, 20), snap, snap, kept=ents(21, 22, term=3))
    st.save(rd)
    st.close()
    rec = Storage.open(tmp_path, CLUSTER, 1).recovered
    assert rec.snapshot == snap and [e.index for e in rec.entries] == [21, 22]


@pytest.mark.parametrize("cut", [1, 5, 12, 30])
def test_torn_tail_is_cut_off_with_a_warning(
    tmp_path: Path, cut: int, caplog: pytest.LogCaptureFixture
) -> None:
    st = Storage.open(tmp_path, CLUSTER, 1)
    st.save(ready(ents(1, 3), HardState(1, 1, 0)))
    st.save(ready(ents(4, 6), None))
    st.close()
    wal = tmp_path / "wal"
    data = wal.read_bytes()
    wal.write_bytes(data[:-cut])
    with caplog.at_level(logging.WARNING):
        rec = Storage.open(tmp_path, CLUSTER, 1).recovered
    assert [e.index for e in rec.entries] == [1, 2, 3]  # never a partly written batch
    assert "torn tail" in caplog.text
    assert len(wal.read_bytes()) < len(data) - cut  # cut back to the last whole record
    assert [e.index for e in Storage.open(tmp_path, CLUSTER, 1).recovered.entries] == [1, 2, 3]


def test_bit_flip_in_the_last_record_is_a_torn_tail(tmp_path: Path) -> None:
    st = Storage.open(tmp_path, CLUSTER, 1)
    st.save(ready(ents(1, 3), HardState(1, 1, 0)))
    st.save(ready(ents(4, 6), None))
    st.close()
    wal = tmp_path / "wal"
    data = bytearray(wal.read_bytes())
    data[-3] ^= 0x10
    wal.write_bytes(bytes(data))
    assert [e.index for e in Storage.open(tmp_path, CLUSTER, 1).recovered.entries] == [1, 2, 3]


@pytest.mark.parametrize("where", ["payload", "length", "magic"])
def test_corrupt_record_in_the_middle_stops_the_node_and_leaves_files_alone(
    tmp_path: Path, where: str
) -> None:
    st = Storage.open(tmp_path, CLUSTER, 1)
    st.save(ready(ents(1, 3), HardState(1, 1, 0)))
    st.save(ready(ents(4, 6), None))
    st.save(ready(ents(7, 9), None))
    st.close()
    wal = tmp_path / "wal"
    data = bytearray(wal.read_bytes())
    offset = {"payload": 40, "length": 5, "magic": 0}[where]
    data[offset] ^= 0x41
    wal.write_bytes(bytes(data))
    before = digest(tmp_path)
    with pytest.raises(CorruptLogError, match="middle"):
        Storage.open(tmp_path, CLUSTER, 1)
    assert digest(tmp_path) == before


def test_corrupt_hard_state_file_stops_the_node(tmp_path: Path) -> None:
    st = Storage.open(tmp_path, CLUSTER, 1)
    st.save(ready(ents(1, 3), HardState(4, 2, 0)))
    st.close()
    hs = tmp_path / "hardstate"
    data = bytearray(hs.read_bytes())
    data[-1] ^= 1
    hs.write_bytes(bytes(data))
    before = digest(tmp_path)
    with pytest.raises(CorruptStateError, match="hard state"):
        Storage.open(tmp_path, CLUSTER, 1)
    assert digest(tmp_path) == before


def test_corrupt_or_missing_snapshot_stops_the_node(tmp_path: Path) -> None:
    st = Storage.open(tmp_path, CLUSTER, 1)
    st.save(ready(ents(1, 20), HardState(1, 1, 20)))
    st.save(ready((), None, snapshot=Snapshot(SnapshotMeta(15, 1), b"x" * 100), kept=ents(16, 20)))
    st.close()
    (snap,) = [p for p in tmp_path.iterdir() if p.name.startswith("snap-")]
    good = snap.read_bytes()
    bad = bytearray(good)
    bad[50] ^= 0xFF
    snap.write_bytes(bytes(bad))
    before = digest(tmp_path)
    with pytest.raises(CorruptSnapshotError):
        Storage.open(tmp_path, CLUSTER, 1)
    assert digest(tmp_path) == before
    snap.unlink()
    with pytest.raises(MissingSnapshotError):
        Storage.open(tmp_path, CLUSTER, 1)
    snap.write_bytes(good)
    assert Storage.open(tmp_path, CLUSTER, 1).recovered.snapshot.meta.index == 15


def test_foreign_directory_is_refused(tmp_path: Path) -> None:
    Storage.open(tmp_path, CLUSTER, 1).close()
    before = digest(tmp_path)
    with pytest.raises(ClusterMismatchError):
        Storage.open(tmp_path, "another-cluster", 1)
    with pytest.raises(ClusterMismatchError):
        Storage.open(tmp_path, CLUSTER, 2)
    assert digest(tmp_path) == before
    (tmp_path / "meta").write_bytes(b"garbage")
    with pytest.raises(CorruptStateError):
        Storage.open(tmp_path, CLUSTER, 1)
    other = tmp_path / "other"
    other.mkdir()
    (other / "wal").write_bytes(b"")
    with pytest.raises(CorruptStateError, match="without"):
        Storage.open(other, CLUSTER, 1)


def test_crash_between_snapshot_and_log_rewrite_is_finished_on_open() -> None:
    fs = MemFileSystem()
    st = Storage.open_fs(fs, CLUSTER, 1)
    st.save(ready(ents(1, 12), HardState(1, 1, 12)))
    wal_before = fs.read("wal")
    st.save(ready((), None, snapshot=Snapshot(SnapshotMeta(9, 1), b"nine"), kept=ents(10, 12)))
    fs.write_atomic("wal", wal_before)  # as if the crash came before the rewrite
    rec = Storage.open_fs(fs, CLUSTER, 1).recovered
    assert rec.snapshot.meta.index == 9 and [e.index for e in rec.entries] == [10, 11, 12]


def test_mem_file_system_crash_loses_unsynced_writes() -> None:
    fs = MemFileSystem()
    fs.append("f", b"durable")
    fs.sync("f")
    fs.append("f", b"-lost")
    fs.append("g", b"never synced")
    fs.crash()
    assert fs.read("f") == b"durable" and fs.names() == ["f"]


@pytest.mark.parametrize("seed", range(20))
def test_simulated_crashes_with_torn_writes_recover_whole_batches_only(seed: int) -> None:
    print("seed", seed)
    rng = random.Random(seed)
    fs = MemFileSystem()
    st = Storage.open_fs(fs, CLUSTER, 1)
    saved: list[Entry] = []
    term = 1
    for _ in range(60):
        if rng.random() < 0.2 and saved:  # overwrite a suffix in a new term
            term += 1
            start = rng.randrange(max(1, len(saved) - 3), len(saved) + 1)
        else:
            start = len(saved) + 1
        new = ents(start, start + rng.randrange(1, 4), term=term, size=rng.randrange(1, 30))
        candidate = saved[: start - 1] + new
        if rng.random() < 0.25:
            # The process wrote this batch (after its hard state, as save does) but the crash
            # came before the log's fsync returned.
            st.save(ready((), HardState(term, 0, 0)))
            fs.append("wal", wal.frame(wal.encode_batch(new)))
            fs.crash(rng)
            st = Storage.open_fs(fs, CLUSTER, 1)
            got = list(st.recovered.entries)
            assert got in (saved, candidate), "recovered a partial batch"
            saved = got
            term = max(term, st.recovered.hard_state.term)
            continue
        st.save(ready(new, HardState(term, 0, 0)))
        saved = candidate
    st.close()


def test_storage_drives_a_core_through_restarts(tmp_path: Path) -> None:
    c = Cluster(3, seed=11)
    stores = {i: Storage.open(tmp_path / str(i), CLUSTER, i) for i in c.ids}
    for i in c.ids:
        harness_save = c.disks[i].save

        def save(rd, i=i, harness_save=harness_save):
            stores[i].save(rd)
            harness_save(rd)

        c.disks[i].save = save
    c.elect(1)
    for k in range(25):
        c.propose(1, b"c%d" % k)
        c.deliver_all()
        if (c.nodes[1].log.applied + 1) % 10 == 0:
            c.compact(1)
    c.process_all()
    stores[1].close()
    rec = Storage.open(tmp_path / "1", CLUSTER, 1).recovered
    core = Raft(Config(node_id=1, peer_ids=(1, 2, 3)), random.Random(1), rec)
    st = core.status()
    assert st.snapshot_index == 19 and st.last_index == c.nodes[1].log.last_index
    assert st.term == c.nodes[1].term


def test_6824_snapcommon_raft_state_stays_under_2000_bytes_across_crashes(tmp_path: Path) -> None:
    """6.824 3D snapcommon: snapshot at 9, 19, ...; crash and restart a follower from its
    directory; the raft state on disk stays < 2000 bytes (MAXLOGSIZE)."""
    c = Cluster(3, seed=12)
    stores: dict[int, Storage] = {}

    def attach(i: int) -> None:
        stores[i] = Storage.open(tmp_path / str(i), CLUSTER, i)
        c.disks[i].save = stores[i].save
        c.disks[i].state = lambda i=i: stores[i].recovered

    for i in c.ids:
        attach(i)
        c.nodes[i] = c._make(i)
    c.elect(1)
    rng = random.Random(12)
    for iteration in range(8):
        leader = c.leader()
        victim = leader % 3 + 1
        c.crash(victim)
        stores[victim].close()
        for _ in range(5 + rng.randrange(10)):
            c.propose(leader, b"%d" % rng.randrange(10**9))
            c.deliver_all()
            for i in c.ids:
                if i not in c.down and (c.nodes[i].log.applied + 1) % 10 == 0:
                    c.compact(i)
            c.process_all()
        assert max(stores[i].raft_state_bytes() for i in c.ids) < 2000, iteration
        attach(victim)
        c.disks[victim].snapshot = stores[victim].recovered.snapshot
        c.restart(victim)
        c.tick_all(20)
        assert c.nodes[victim].log.applied == c.nodes[leader].log.applied
    for store in stores.values():
        store.close()


def test_decoded_entries_are_ordinary_frozen_entries() -> None:
    """wal builds entries without Entry.__init__ (speed): they must be indistinguishable."""
    import dataclasses

    from sentinel.raft import EntryKind

    written = [Entry(3, 7, b"put"), Entry(3, 8, b"", EntryKind.EMPTY), Entry(4, 9, b"x" * 300)]
    decoded = wal.decode_record(wal.encode_batch(written), "wal")
    assert decoded == written
    assert [hash(e) for e in decoded] == [hash(e) for e in written]
    assert all(type(e) is Entry and e.kind is w.kind for e, w in zip(decoded, written, strict=True))
    with pytest.raises(dataclasses.FrozenInstanceError):
        decoded[0].term = 5  # type: ignore[misc]


def test_a_batch_that_is_not_contiguous_stops_the_node(tmp_path: Path) -> None:
    s = Storage.open(tmp_path, CLUSTER, 1)
    s.save(ready(ents(1, 3), HardState(1, 1, 0)))
    s.close()
    bad = [Entry(1, 4, b"a"), Entry(1, 6, b"b")]  # a checked record with a hole inside
    with open(tmp_path / "wal", "ab") as f:
        f.write(wal.frame(wal.encode_batch(bad)))
    before = digest(tmp_path)
    with pytest.raises(CorruptStateError, match="not contiguous"):
        Storage.open(tmp_path, CLUSTER, 1)
    assert digest(tmp_path) == before


def test_the_log_grows_in_space_allocated_ahead_and_a_crash_leaves_only_zeros_after_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    st = Storage.open(tmp_path, CLUSTER, 1)
    st.save(ready(ents(1, 3), HardState(1, 1, 0)))
    st.save(ready(ents(4, 6), None))
    wal_file = tmp_path / "wal"
    data_bytes = st.raft_state_bytes() - (tmp_path / "hardstate").stat().st_size
    on_disk = wal_file.read_bytes()
    assert len(on_disk) > data_bytes and not any(on_disk[data_bytes:])  # zeros ahead
    # A crash (no close): the allocated zeros stay after the last record ...
    with caplog.at_level(logging.INFO):
        rec = Storage.open(tmp_path, CLUSTER, 1).recovered
    assert [e.index for e in rec.entries] == [1, 2, 3, 4, 5, 6]
    assert "torn" not in caplog.text  # ... and they are free space, not a torn write
    assert len(wal_file.read_bytes()) == data_bytes  # cut off before appends go on
    st.close()


def test_a_torn_record_in_the_allocated_space_is_still_a_torn_tail(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    st = Storage.open(tmp_path, CLUSTER, 1)
    st.save(ready(ents(1, 3), HardState(1, 1, 0)))
    mark_bytes = len(wal.frame(wal.encode_mark(SnapshotMeta())))  # the log's first record
    end = mark_bytes + len(wal.frame(wal.encode_batch(ents(1, 3))))
    st.save(ready(ents(4, 6), None))
    wal_file = tmp_path / "wal"
    data = bytearray(wal_file.read_bytes())
    data[end + 20 :] = bytes(len(data) - end - 20)  # the second record only half written
    wal_file.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        rec = Storage.open(tmp_path, CLUSTER, 1).recovered
    assert [e.index for e in rec.entries] == [1, 2, 3]
    assert "torn tail" in caplog.text


def test_close_gives_back_the_space_allocated_ahead(tmp_path: Path) -> None:
    st = Storage.open(tmp_path, CLUSTER, 1)
    st.save(ready(ents(1, 3), HardState(1, 1, 0)))
    st.close()
    data = (tmp_path / "wal").read_bytes()
    assert data == wal.frame(wal.encode_mark(SnapshotMeta())) + wal.frame(
        wal.encode_batch(ents(1, 3))
    )


def _saved_node(tmp_path: Path) -> None:
    st = Storage.open(tmp_path, CLUSTER, 1)
    st.save(ready(ents(1, 6), HardState(3, 2, 4)))
    st.close()


@pytest.mark.parametrize("damage", ["deleted", "emptied", "head cut off"])
def test_a_lost_log_stops_the_node_instead_of_starting_it_without_its_entries(
    tmp_path: Path, damage: str
) -> None:
    """The hard state survives with its term and vote; without the log the node would have
    forgotten entries it acknowledged (a new leader could then lack a committed write)."""
    _saved_node(tmp_path)
    log_file = tmp_path / "wal"
    if damage == "deleted":
        log_file.unlink()
    elif damage == "emptied":
        log_file.write_bytes(b"")
    else:
        mark_bytes = len(wal.frame(wal.encode_mark(SnapshotMeta())))
        log_file.write_bytes(log_file.read_bytes()[mark_bytes:])  # whole batches remain
    before = digest(tmp_path)
    with pytest.raises(CorruptStateError, match=r"write-ahead log .* the node would forget"):
        Storage.open(tmp_path, CLUSTER, 1)
    assert digest(tmp_path) == before


def test_a_new_directory_gets_its_log_before_its_meta_file(tmp_path: Path) -> None:
    fs = MemFileSystem()
    Storage.open_fs(fs, CLUSTER, 1).close()
    assert fs.names() == ["meta", "wal"]
    birth_log = fs.read("wal")
    assert Storage.open_fs(fs, CLUSTER, 1).recovered.entries == ()
    # A crash after the log was written but before meta: the birth is simply done again.
    fs.remove("meta")
    st = Storage.open_fs(fs, CLUSTER, 1)
    assert fs.names() == ["meta", "wal"] and fs.read("wal") == birth_log
    st.save(ready(ents(1, 2), HardState(1, 1, 0)))
    # ... but a log that holds entries is no birth: without meta it is refused.
    fs.remove("meta")
    with pytest.raises(CorruptStateError, match="without a meta file"):
        Storage.open_fs(fs, CLUSTER, 1)


def test_a_format_1_directory_without_a_log_still_opens(tmp_path: Path) -> None:
    """Format 1 made the log at the first save: a node that only voted has none."""
    doc = {"format": 1, "cluster_id": CLUSTER, "node_id": 1}
    (tmp_path / "meta").write_bytes(wal.frame(json.dumps(doc).encode()))
    (tmp_path / "hardstate").write_bytes(wal.frame(struct.pack(">QQQ", 5, 3, 0)))
    st = Storage.open(tmp_path, CLUSTER, 1)
    assert (st.recovered.hard_state.term, st.recovered.hard_state.vote) == (5, 3)
    st.save(ready(ents(1, 2, term=5), HardState(5, 3, 0)))
    st.close()
    assert [e.index for e in Storage.open(tmp_path, CLUSTER, 1).recovered.entries] == [1, 2]


def test_stored_term_is_what_the_disk_holds() -> None:
    fs = MemFileSystem()
    st = Storage.open_fs(fs, CLUSTER, 1)
    assert st.stored_term(0) == 0 and st.stored_term(1) is None
    st.save(ready(ents(1, 4, term=2), HardState(2, 1, 0)))
    assert [st.stored_term(i) for i in range(6)] == [0, 2, 2, 2, 2, None]
    st.save(ready((), None, snapshot=Snapshot(SnapshotMeta(3, 2), b"three"), kept=ents(4, 4, 2)))
    assert [st.stored_term(i) for i in range(1, 6)] == [None, None, 2, 2, None]


def test_a_node_without_state_among_nodes_with_state_has_lost_its_disk(tmp_path, capsys):
    dirs = {i: tmp_path / f"node-{i}" for i in (1, 2, 3)}
    assert [lost_disk(dirs, i) for i in dirs] == [None, None, None]  # a new cluster
    for i in (1, 2, 3):
        Storage.open(dirs[i], CLUSTER, i).close()
    assert [lost_disk(dirs, i) for i in dirs] == [None, None, None]
    for name in (dirs[3] / n for n in list(p.name for p in dirs[3].iterdir())):
        name.unlink()  # emptied: as lost as a missing directory
    why = lost_disk(dirs, 3)
    assert why is not None and why.startswith("node-3 holds no state")
    assert lost_disk(dirs, 1) is None
    # `python -m sentinel.host.nodecli` refuses it too, before it starts any process.
    assert nodecli.main(["--dir", str(tmp_path), "-n", "3", "--seconds", "1"]) == 2
    assert "error: node-3 holds no state" in capsys.readouterr().err
    assert not any(dirs[3].iterdir())


def test_a_crash_in_a_ready_that_overwrites_a_stale_tail_never_commits_the_stale_entries() -> None:
    # A follower holds uncommitted term-1 entries 3..5 on disk. One Ready brings a new term
    # (so the hard state file is rewritten, commit included) and the new leader's entries
    # from index 3 on, which the leader has committed. The hard state is written before the
    # entries: a power cut in between once left commit 5 over the stale 3..5, and the
    # restarted node applied them. Cut the power at every operation of that Ready.
    ops = 0
    while True:
        ops += 1
        disk = SimDisk()
        st = Storage.open_fs(disk, CLUSTER, 1)
        st.save(ready(ents(1, 5), HardState(1, 1, 2)))
        disk.arm(ops)
        try:
            st.save(ready(ents(3, 5, term=2), HardState(2, 0, 5)))
        except DiskCrash:
            disk.crash()
        else:
            break  # the Ready is saved whole: every crash point was tried
        core = Raft(Config(node_id=1, peer_ids=(1, 2, 3)), random.Random(0), Storage.open_fs(
            disk, CLUSTER, 1).recovered)  # fmt: skip
        committed = [(i, core.log.term(i)) for i in range(1, core.log.committed + 1)]
        assert all(term == 1 for index, term in committed if index <= 2), committed
        assert all(term == 2 for index, term in committed if index > 2), (ops, committed)
    assert ops > 2, "the Ready took fewer disk operations than expected"
