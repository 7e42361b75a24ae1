"""What `Storage.save` refuses before writing anything: entries that do not follow the
stored log, and a compaction whose kept entries are not what the stored log keeps."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_storage import CLUSTER, digest, ents, ready

from sentinel.host import Storage
from sentinel.raft import HardState, Snapshot, SnapshotMeta, StorageError


@pytest.mark.parametrize(
    ("kept", "said"),
    [
        (None, "must carry the entries kept"),
        ([], "not the stored log's"),
        (ents(4, 5), "not the stored log's: entry 4 leaves a gap"),
        (ents(3, 5, term=2), "not the stored log's"),
        ([*ents(3, 4), *ents(6, 6)], "not the stored log's: batch at entry 3 is not contiguous"),
    ],
    ids=["missing", "dropped", "short", "other terms", "gap"],
)
def test_a_snapshot_whose_kept_entries_are_not_the_stored_log_is_refused_unwritten(
    tmp_path: Path, kept, said: str
) -> None:
    """What a compaction keeps comes with its Ready; kept entries that are not what the
    stored log holds after the snapshot would rewrite the log wrong: refused, nothing written."""
    st = Storage.open(tmp_path, CLUSTER, 1)
    st.save(ready(ents(1, 5), HardState(1, 1, 5)))
    before = digest(tmp_path)
    with pytest.raises(StorageError, match=said):
        st.save(ready((), HardState(2, 0, 5), Snapshot(SnapshotMeta(2, 1), b"two"), kept=kept))
    assert digest(tmp_path) == before and st.stored_term(5) == 1
    st.save(ready((), None, Snapshot(SnapshotMeta(2, 1), b"two"), kept=ents(3, 5)))
    assert [st.stored_term(i) for i in range(1, 7)] == [None, 1, 1, 1, 1, None]


def test_entries_that_leave_a_gap_are_refused_unwritten(tmp_path: Path) -> None:
    st = Storage.open(tmp_path, CLUSTER, 1)
    st.save(ready(ents(1, 3), HardState(1, 1, 0)))
    before = digest(tmp_path)
    for bad, said in ((ents(5, 6), "leaves a gap"), ([*ents(4, 4), *ents(6, 6)], "not contig")):
        with pytest.raises(StorageError, match=said):
            st.save(ready(bad, HardState(2, 0, 0)))
    assert digest(tmp_path) == before


def test_the_recovered_state_is_handed_over_once_and_kept_no_longer(tmp_path: Path) -> None:
    st = Storage.open(tmp_path, CLUSTER, 1)
    st.save(ready(ents(1, 3), HardState(1, 1, 0)))
    st.close()
    st = Storage.open(tmp_path, CLUSTER, 1)
    state = st.take_recovered()
    assert [e.index for e in state.entries] == [1, 2, 3]
    with pytest.raises(RuntimeError, match="handed over"):
        st.recovered  # noqa: B018 (the storage keeps no copy; a late reader is told so)
    with pytest.raises(RuntimeError, match="handed over"):
        st.take_recovered()
    st.save(ready(ents(4, 4), HardState(1, 1, 3)))  # saving goes on without it
    st.close()
    assert [e.index for e in Storage.open(tmp_path, CLUSTER, 1).recovered.entries] == [1, 2, 3, 4]
