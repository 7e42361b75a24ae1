"""The membership a cluster's node directories hold on disk, for a supervisor that starts
the cluster again (`up` on an existing directory).

The nodes' logs are the truth about the membership: each node's configuration is the last
CONFIG entry of its log, or the one its snapshot carries (sentinel.raft.membership). Of the
configurations the directories hold, the newest is the one with the highest (term, index)
of the entry that set it: an entry of a later term was appended by a leader that held every
committed configuration, and within one term a higher index is a later change. (An
uncommitted entry of an old term at a higher index may be cut later; ordering by index
alone would pick it.) A snapshot's configuration is committed; its snapshot's term stands
for the entry's, which it is at least.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sentinel.host.recovery import holds_state
from sentinel.host.storage import Storage
from sentinel.raft.errors import StorageError
from sentinel.raft.membership import Membership, unwrap_snapshot
from sentinel.raft.messages import EntryKind
from sentinel.raft.ready import PersistentState

log = logging.getLogger(__name__)

_NODE_DIR = re.compile(r"^node-(\d{1,9})$")
#: Node directories looked at (ids are never reused, so a cluster's count stays small).
NODE_DIRS_MAX = 4096


@dataclass(frozen=True, slots=True)
class StoredConf:
    """A configuration found on a node's disk: the term of the entry (or snapshot) that
    set it, the node whose directory holds it, the configuration."""

    term: int
    node_id: int
    conf: Membership

    @property
    def rank(self) -> tuple[int, int]:
        """Newer configurations rank higher (see the module docstring)."""
        return (self.term, self.conf.index)


def conf_of(state: PersistentState) -> tuple[int, Membership] | None:
    """(term, configuration) of the newest configuration a recovered state holds; None
    when it holds only the bootstrap one (index 0: the founders) or none at all."""
    for entry in reversed(state.entries):
        if entry.kind is EntryKind.CONFIG:
            return entry.term, Membership.decode(entry.data, entry.index)
    if state.snapshot is not None:
        conf = unwrap_snapshot(state.snapshot.data)[0]
        if conf is not None and conf.index > 0:
            return state.snapshot.meta.term, conf
    return None


def node_dirs(cluster_dir: Path) -> dict[int, Path]:
    """The node directories (`node-<id>`) in a cluster directory, by id."""
    found: dict[int, Path] = {}
    for path in sorted(cluster_dir.iterdir())[:NODE_DIRS_MAX] if cluster_dir.is_dir() else ():
        match = _NODE_DIR.match(path.name)
        if match and path.is_dir():
            found[int(match[1])] = path
    return found


def stored_confs(cluster_dir: Path, cluster_id: str) -> list[StoredConf]:
    """Every configuration the node directories hold (one per directory that has one).
    A directory whose storage does not open is left out (its node says why when it starts).
    Opening recovers as the node would (a torn log tail is cut), before the node starts."""
    found: list[StoredConf] = []
    for node_id, path in node_dirs(cluster_dir).items():
        if not holds_state(path):
            continue
        try:
            storage = Storage.open(path, cluster_id, node_id)
        except (StorageError, OSError, ValueError) as exc:
            log.warning("node %d's directory not read for its membership: %s", node_id, exc)
            continue
        try:
            got = conf_of(storage.recovered)
        except ValueError as exc:
            log.warning("node %d's configuration is unreadable: %s", node_id, exc)
            got = None
        finally:
            storage.close()
        if got is not None:
            found.append(StoredConf(got[0], node_id, got[1]))
    return found


def newest(confs: Iterable[StoredConf]) -> StoredConf | None:
    """The newest of `confs` (see StoredConf.rank), or None when there is none."""
    return max(confs, key=lambda c: c.rank, default=None)
