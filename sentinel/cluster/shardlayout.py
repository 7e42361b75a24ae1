"""A sharded cluster's layout on disk: `<dir>/shards.json` holds its id, its shard groups
and their size. The controller runs on nodes ctl.1-ctl.3 (ids 1-3), shard group g on nodes
g<g>.1.. (ids 100 * g + i). Light: the command line reads it without starting anything.
"""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

from sentinel.cluster.settings import (
    SETTINGS_NAME,
    Identity,
    SettingsError,
    load_identity,
    read_json,
    write_json,
)
from sentinel.shard.config import LAYOUT_NAME, group_names, node_id_of

__all__ = ["LAYOUT_NAME", "ShardLayout", "load_cluster", "load_layout", "open_layout"]
CTL_NODES = 3
GROUPS_MAX = 9  # node ids 100 * gid + i stay within 1..999
NODES_PER_GROUP_MAX = 9


@dataclasses.dataclass(frozen=True, slots=True)
class ShardLayout:
    """A sharded cluster's identity: its id, its groups and their size."""

    cluster_id: str
    groups: int
    nodes: int  # per group

    def __post_init__(self) -> None:
        if not 1 <= self.groups <= GROUPS_MAX:
            raise SettingsError(f"--groups must be 1 to {GROUPS_MAX}, not {self.groups}")
        if not 1 <= self.nodes <= NODES_PER_GROUP_MAX:
            raise SettingsError(f"-n with --groups must be 1 to {NODES_PER_GROUP_MAX}")

    @property
    def ctl_ids(self) -> tuple[int, ...]:
        return tuple(range(1, CTL_NODES + 1))

    def group_ids(self, gid: int) -> tuple[int, ...]:
        """The node ids of shard group `gid`."""
        return tuple(node_id_of(name) for name in group_names(gid, self.nodes))

    @property
    def node_ids(self) -> tuple[int, ...]:
        """The controller's nodes, then each group's."""
        ids = list(self.ctl_ids)
        for gid in range(1, self.groups + 1):
            ids.extend(self.group_ids(gid))
        return tuple(ids)

    def peers(self, node_id: int) -> tuple[int, ...]:
        """The raft group node `node_id` belongs to."""
        return self.ctl_ids if node_id < 100 else self.group_ids(node_id // 100)


def load_layout(directory: Path) -> ShardLayout | None:
    """The layout stored in `directory`, or None when it holds no sharded cluster."""
    path = directory / LAYOUT_NAME
    data = read_json(path, "a sharded cluster's layout")
    if data is None:
        return None
    try:
        return ShardLayout(str(data["cluster_id"]), int(data["groups"]), int(data["nodes"]))
    except (ValueError, KeyError, TypeError) as e:
        raise SettingsError(f"{path} is not a sharded cluster's layout ({e})") from None


def load_cluster(directory: Path) -> Identity | ShardLayout | None:
    """What `directory` holds: a plain cluster's identity (cluster.json), a sharded
    store's layout (shards.json), or None. Both have `cluster_id` and `node_ids`; `nodes`
    is the cluster's size for one, each group's for the other. SettingsError for a file
    that is not what its name says."""
    return load_identity(directory) or load_layout(directory)


def open_layout(directory: Path, groups: int | None, nodes: int | None) -> tuple[ShardLayout, bool]:
    """The sharded cluster in `directory` (recovered: True) or a new one (False)."""
    layout = load_layout(directory)
    if layout is not None:
        asked = (groups or layout.groups, nodes or layout.nodes)
        if asked != (layout.groups, layout.nodes):
            raise SettingsError(
                f"{directory} holds {layout.groups} groups of {layout.nodes} nodes; use another"
                " --dir for another layout"
            )
        return layout, True
    if (directory / SETTINGS_NAME).exists():
        raise SettingsError(f"{directory} holds an unsharded cluster; use another --dir")
    layout = ShardLayout(f"sentinel-{uuid.uuid4().hex[:12]}", groups or 3, nodes or 3)
    write_json(directory / LAYOUT_NAME, dataclasses.asdict(layout))
    return layout, False
