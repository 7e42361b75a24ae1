"""`up` on an existing directory takes the membership from the nodes' disks: the newest
configuration (by the term, then the index, of the entry that set it) any node directory
holds, whatever members.json says; members.json alone only when no disk holds one."""

from __future__ import annotations

import json
from pathlib import Path

from sentinel.cluster import members
from sentinel.host import diskconf
from sentinel.host.storage import Storage
from sentinel.raft import Entry, EntryKind, HardState, Membership, Ready, Snapshot, SnapshotMeta
from sentinel.raft.membership import wrap_snapshot

CLUSTER = "c-restore"


def store(cluster_dir: Path, node_id: int, entries: list[Entry], snap: Snapshot | None = None):  # type: ignore[no-untyped-def]
    """Write a node directory holding `entries` (after `snap`), as a node would."""
    storage = Storage.open(cluster_dir / f"node-{node_id}", CLUSTER, node_id)
    term = max([e.term for e in entries] + [snap.meta.term if snap else 0])
    kept = tuple(entries) if snap else None
    storage.save(Ready(HardState(term, 0, 0), tuple(entries), snap, (), None, (), (), True, kept))
    storage.close()


def conf_entry(index: int, term: int, voters: tuple[int, ...], id_max: int) -> Entry:
    return Entry(term, index, Membership(voters, (), index, id_max).encode(), EntryKind.CONFIG)


def plain(index: int, term: int) -> Entry:
    return Entry(term, index, b"x", EntryKind.NORMAL)


def test_the_disks_win_over_members_json(tmp_path: Path) -> None:
    # 1-3 founded the cluster; 4 replaced 1 (add at 3, promote at 4, remove 1 at 5).
    log = [plain(1, 1), plain(2, 1), conf_entry(3, 1, (1, 2, 3), 4)]
    log += [conf_entry(4, 2, (1, 2, 3, 4), 4), conf_entry(5, 2, (2, 3, 4), 4), plain(6, 2)]
    store(tmp_path, 2, log)
    store(tmp_path, 3, log[:4])  # it missed the removal
    snap = Snapshot(SnapshotMeta(5, 2), wrap_snapshot(Membership((2, 3, 4), (), 5, 4), b"app"))
    store(tmp_path, 4, [plain(6, 2)], snap)
    members.save(tmp_path, (1, 2, 3), id_max=3, conf_index=0)  # stale: an edited file
    (tmp_path / "node-1").mkdir()  # the replaced node's directory, emptied
    found = diskconf.stored_confs(tmp_path, CLUSTER)
    assert sorted((c.node_id, c.conf.index) for c in found) == [(2, 5), (3, 4), (4, 5)]
    restored = members.restore(tmp_path, CLUSTER, (1, 2, 3))
    assert restored == {"members": [2, 3, 4], "id_max": 4, "conf_index": 5}
    assert json.loads((tmp_path / members.MEMBERS_NAME).read_text()) == restored
    (tmp_path / members.MEMBERS_NAME).unlink()  # deleted: the same from the disks
    assert members.restore(tmp_path, CLUSTER, (1, 2, 3))["members"] == [2, 3, 4]


def test_a_later_term_beats_a_higher_index_of_an_older_one(tmp_path: Path) -> None:
    # Node 1 led term 1 and appended a change at 4 nobody else got; node 2 led term 2
    # and committed another at 3: node 1's entry will be cut, node 2's stands.
    base = [plain(1, 1), plain(2, 1)]
    store(tmp_path, 1, [*base, plain(3, 1), conf_entry(4, 1, (1, 2, 3, 4), 4)])
    store(tmp_path, 2, [*base, conf_entry(3, 2, (2, 3), 3)])
    best = diskconf.newest(diskconf.stored_confs(tmp_path, CLUSTER))
    assert best is not None and best.node_id == 2 and best.conf.voters == (2, 3)


def test_without_a_change_on_disk_members_json_then_the_founders(tmp_path: Path) -> None:
    store(tmp_path, 1, [plain(1, 1)])
    snap = Snapshot(SnapshotMeta(1, 1), wrap_snapshot(Membership.bootstrap((1, 2, 3)), b""))
    store(tmp_path, 2, [], snap)  # a snapshot of the bootstrap configuration: no change
    assert diskconf.stored_confs(tmp_path, CLUSTER) == []
    assert members.restore(tmp_path, CLUSTER, (1, 2, 3))["members"] == [1, 2, 3]
    members.save(tmp_path, (1, 2, 3, 4), id_max=4, conf_index=0)
    assert members.restore(tmp_path, CLUSTER, (1, 2, 3))["members"] == [1, 2, 3, 4]
