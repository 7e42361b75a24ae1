"""sentinel.host: what runs a raft node on a real machine around the pure core.

Storage on disk (`storage` saves, `recovery` reads back and checks, `layout` names the
files, `wal` frames their records, `fs` holds them; the simulator runs them on
`MemFileSystem`), a full disk's stall (`stall`), background snapshots (`bgsnap`), the node
process (`node`, its loop `runtime`, its client inbox `inbox`, `lowprio`), what it is told
and tells (`nodespec`, `nodestatus`), the small cluster CLI (`python -m
sentinel.host.nodecli`) and the 6.824 test application (`recorder`). The loop's Ready
handling is raft's `NodeDriver`; this package gives it a disk and a socket.
"""

from sentinel.host.fs import FileSystem, MemFileSystem, OsFileSystem
from sentinel.host.nodespec import NodeSpec
from sentinel.host.recovery import holds_state
from sentinel.host.stall import StallingSaver
from sentinel.host.storage import Storage

__all__ = [
    "FileSystem",
    "MemFileSystem",
    "NodeSpec",
    "OsFileSystem",
    "StallingSaver",
    "Storage",
    "holds_state",
]
