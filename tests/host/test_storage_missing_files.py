"""A node directory that lost its hard state file is refused, and the error says so."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from sentinel.host import Storage
from sentinel.raft import CorruptStateError, Entry, HardState, Ready, Snapshot, SnapshotMeta

CLUSTER = "test-cluster"


def _ready(entries=(), hard_state=None, snapshot=None) -> Ready:
    kept = () if snapshot else None  # (these Readys' snapshots cover the whole log)
    return Ready(hard_state, tuple(entries), snapshot, (), None, (), (), True, kept)


def _digest(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def _entries(lo: int, hi: int, term: int) -> list[Entry]:
    return [Entry(term, i, b"e%d" % i) for i in range(lo, hi + 1)]


@pytest.mark.parametrize("compacted", [False, True], ids=["entries", "snapshot only"])
def test_a_deleted_hard_state_file_is_named_as_missing(tmp_path: Path, compacted: bool) -> None:
    st = Storage.open(tmp_path, CLUSTER, 1)
    st.save(_ready(_entries(1, 3, term=3), HardState(3, 2, 0)))
    if compacted:  # every entry in the snapshot: the log holds its MARK alone
        st.save(_ready(snapshot=Snapshot(SnapshotMeta(3, 3), b"state")))
    st.close()
    (tmp_path / "hardstate").unlink()
    before = _digest(tmp_path)
    with pytest.raises(CorruptStateError) as caught:
        Storage.open(tmp_path, CLUSTER, 1)
    said = str(caught.value)
    assert said.startswith("hardstate: the hard state file is missing"), said
    assert "term 3" in said and "Restore the node's directory" in said, said
    assert _digest(tmp_path) == before  # nothing was changed on the way


def test_a_node_that_never_changed_term_needs_no_hard_state_file(tmp_path: Path) -> None:
    Storage.open(tmp_path, CLUSTER, 1).close()
    assert not (tmp_path / "hardstate").exists()
    st = Storage.open(tmp_path, CLUSTER, 1)
    assert st.recovered.hard_state == HardState() and st.recovered.entries == ()
    st.close()


def test_a_hard_state_behind_the_log_is_still_reported_as_behind(tmp_path: Path) -> None:
    st = Storage.open(tmp_path, CLUSTER, 1)
    st.save(_ready(_entries(1, 2, term=4), HardState(4, 1, 0)))
    st.save(_ready(hard_state=HardState(2, 1, 0)))  # a damaged (older) hard state, by hand
    st.close()
    with pytest.raises(CorruptStateError, match="log holds term 4 but the hard state is at term 2"):
        Storage.open(tmp_path, CLUSTER, 1)
