"""The files of a node's directory and their records: one place for the names and formats
that the save path (storage.py) writes and the recovery (recovery.py) reads back.

See storage.py for what each file holds and in which order they are written.
"""

from __future__ import annotations

import re
import struct

from sentinel.host import wal
from sentinel.raft.messages import SnapshotMeta

META, HARDSTATE, WAL = "meta", "hardstate", "wal"
SNAP_NAME = re.compile(r"^snap-(\d{20})-(\d{20})$")
#: A hard state record: term, vote, commit.
HS = struct.Struct(">QQQ")
#: The head of a snapshot file's record: the snapshot's index and term.
SNAP_HEADER = struct.Struct(">QQ")
#: The format new directories get; `open` reads both.
FORMAT = 2
FORMATS = (1, 2)
#: A new directory's log: the MARK of "no snapshot" and nothing else.
BIRTH_LOG = wal.frame(wal.encode_mark(SnapshotMeta()))


def snap_name(meta: SnapshotMeta) -> str:
    """The file name of the snapshot at `meta`."""
    return f"snap-{meta.index:020d}-{meta.term:020d}"
