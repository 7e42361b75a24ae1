"""Shard configurations: which replica group owns each shard, and how keys map to shards.

A configuration (`ShardConfig`) is numbered; number 0 is the empty one (no groups, every
shard unassigned: group id 0). The controller (ctl.py) derives each next configuration from
the latest with `joined`, `left` or `moved`, pure functions of their arguments, so every
replica that applies the same log computes the same configurations. Groups are kept as a
tuple sorted by group id, and rebalancing sorts every choice it makes: nothing depends on
the iteration order of a set or dict.

A key's shard (`key_shard`) is CRC-32 of the key's bytes modulo the shard count. As in Redis
Cluster, a key holding a hash tag `{...}` with something between the braces hashes only the
text between the first `{` and the `}` after it, so `{user1}.name` and `{user1}.mail` share
a shard (Redis uses CRC-16 over 16,384 slots; the rule for tags is the same).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence

from sentinel.wire import message

#: The file that marks a sharded store's directory (`up --groups`: cluster/shardlayout.py);
#: a plain cluster's directory holds cluster.json instead.
LAYOUT_NAME = "shards.json"
#: Shards in every configuration (6.824's NShards).
NSHARDS = 10
#: Groups one configuration may hold.
GROUPS_MAX = 100
#: Servers one group may name, and the length of a server name.
SERVERS_PER_GROUP_MAX = 16
SERVER_NAME_BYTES_MAX = 64
#: Group ids are in [1, GID_MAX]; 0 means "no group".
GID_MAX = 2**31 - 1

Groups = tuple[tuple[int, tuple[str, ...]], ...]


class ConfigError(ValueError):
    """A Join, Leave or Move that does not apply to the latest configuration; says why."""


@message
class ShardConfig:
    """Configuration `num`: shard i belongs to group `shards[i]` (0: none yet); `groups`
    holds (group id, server names) sorted by group id."""

    num: int
    shards: tuple[int, ...]
    groups: Groups

    def group_ids(self) -> tuple[int, ...]:
        """The group ids, ascending."""
        return tuple(gid for gid, _ in self.groups)

    def servers(self, gid: int) -> tuple[str, ...]:
        """The server names of group `gid` (empty if it is not in this configuration)."""
        for g, names in self.groups:
            if g == gid:
                return names
        return ()

    def shards_of(self, gid: int) -> tuple[int, ...]:
        """The shards group `gid` owns, ascending."""
        return tuple(s for s, g in enumerate(self.shards) if g == gid)

    def owner(self, key: str | bytes) -> int:
        """The group owning `key`'s shard (0: none)."""
        return self.shards[key_shard(key, len(self.shards))]


def empty_config(nshards: int = NSHARDS) -> ShardConfig:
    """Configuration 0: no groups, no shard assigned."""
    return ShardConfig(0, (0,) * nshards, ())


def key_shard(key: str | bytes, nshards: int = NSHARDS) -> int:
    """The shard of `key` (its hash tag's, if it has one); the same in every process."""
    data = key.encode("utf-8", "surrogateescape") if isinstance(key, str) else bytes(key)
    start = data.find(b"{")
    if start >= 0:
        end = data.find(b"}", start + 1)
        if end > start + 1:
            data = data[start + 1 : end]
    return zlib.crc32(data) % nshards


def rebalance(shards: Sequence[int], gids: Sequence[int]) -> tuple[int, ...]:
    """`shards` reassigned over `gids` so that group sizes differ by at most one, moving as
    few shards as possible: each group keeps min(current, target) of its shards. The groups
    that hold the most now get the larger targets (ties: lower gid), so the most shards stay
    put; freed shards (of groups gone, unassigned, or over target: their highest first) go in
    ascending order to groups under target in ascending gid order."""
    live = sorted(set(gids))
    if not live:
        return (0,) * len(shards)
    owned: dict[int, list[int]] = {g: [] for g in live}
    free: list[int] = []
    for shard, gid in enumerate(shards):
        owned.get(gid, free).append(shard)
    by_size = sorted(live, key=lambda g: (-len(owned[g]), g))
    base, extra = divmod(len(shards), len(live))
    target = {g: base + (1 if rank < extra else 0) for rank, g in enumerate(by_size)}
    for gid in live:
        while len(owned[gid]) > target[gid]:
            free.append(owned[gid].pop())
    free.sort(reverse=True)
    result = [0] * len(shards)
    for gid in live:
        while len(owned[gid]) < target[gid]:
            owned[gid].append(free.pop())
        for shard in owned[gid]:
            result[shard] = gid
    return tuple(result)


def validate_groups(
    groups: Mapping[int, Sequence[str]] | Iterable[tuple[int, Sequence[str]]],
) -> Groups:
    """Join's argument as sorted `Groups`; ConfigError naming the first problem."""
    items = list(groups.items()) if isinstance(groups, Mapping) else list(groups)
    if not items:
        raise ConfigError("join names no group")
    out: dict[int, tuple[str, ...]] = {}
    for gid, names in items:
        if isinstance(gid, bool) or not isinstance(gid, int) or not 1 <= gid <= GID_MAX:
            raise ConfigError(f"group id {gid!r} is not an int in [1, {GID_MAX}]")
        if gid in out:
            raise ConfigError(f"group {gid} named twice")
        names = tuple(names)
        if not 1 <= len(names) <= SERVERS_PER_GROUP_MAX:
            raise ConfigError(
                f"group {gid} names {len(names)} servers (1..{SERVERS_PER_GROUP_MAX})"
            )
        for name in names:
            if type(name) is not str or not 1 <= len(name.encode()) <= SERVER_NAME_BYTES_MAX:
                raise ConfigError(f"group {gid}: server name {name!r} is not 1..64 bytes of text")
        out[gid] = names
    return tuple(sorted(out.items()))


def joined(config: ShardConfig, groups: Groups) -> ShardConfig:
    """The configuration after `groups` (validated) join `config`."""
    present = set(config.group_ids())
    for gid, _ in groups:
        if gid in present:
            raise ConfigError(f"group {gid} is already in configuration {config.num}")
    if len(present) + len(groups) > GROUPS_MAX:
        raise ConfigError(f"at most {GROUPS_MAX} groups")
    merged = tuple(sorted(config.groups + groups))
    gids = [gid for gid, _ in merged]
    return ShardConfig(config.num + 1, rebalance(config.shards, gids), merged)


def left(config: ShardConfig, gids: Sequence[int]) -> ShardConfig:
    """The configuration after groups `gids` leave `config`."""
    leaving = set()
    for gid in gids:
        if isinstance(gid, bool) or not isinstance(gid, int) or not config.servers(gid):
            raise ConfigError(f"group {gid!r} is not in configuration {config.num}")
        leaving.add(gid)
    if not leaving:
        raise ConfigError("leave names no group")
    kept = tuple((gid, names) for gid, names in config.groups if gid not in leaving)
    rest = [gid for gid, _ in kept]
    return ShardConfig(config.num + 1, rebalance(config.shards, rest), kept)


def moved(config: ShardConfig, shard: int, gid: int) -> ShardConfig:
    """The configuration after shard `shard` is given to group `gid`."""
    if isinstance(shard, bool) or not isinstance(shard, int) or not 0 <= shard < len(config.shards):
        raise ConfigError(f"shard {shard!r} is not in [0, {len(config.shards)})")
    if isinstance(gid, bool) or not isinstance(gid, int) or not config.servers(gid):
        raise ConfigError(f"group {gid!r} is not in configuration {config.num}")
    shards = list(config.shards)
    shards[shard] = gid
    return ShardConfig(config.num + 1, tuple(shards), config.groups)


def node_id_of(name: str) -> int:
    """The node (endpoint) id a server name stands for: "g<gid>.<i>" is 100 * gid + i (the
    nodes of group gid), "ctl.<i>" is i (the controller's), a plain number is itself."""
    try:
        if name.startswith("g") and "." in name:
            gid, i = name[1:].split(".", 1)
            node_id = 100 * int(gid) + int(i)
            assert 1 <= int(i) <= 99
        elif name.startswith("ctl."):
            node_id = int(name[4:])
        else:
            node_id = int(name)
    except (ValueError, AssertionError):
        what = "(g<gid>.<i>, ctl.<i> or a number)"
        raise ConfigError(f"server name {name!r} names no node {what}") from None
    if not 1 <= node_id <= 999:
        raise ConfigError(f"server name {name!r} is node {node_id}, outside 1..999")
    return node_id


def node_name_of(node_id: int) -> str:
    """The server name of node `node_id` (the inverse of `node_id_of` for 1..999)."""
    return f"ctl.{node_id}" if node_id < 100 else f"g{node_id // 100}.{node_id % 100}"


def group_names(gid: int, n: int) -> tuple[str, ...]:
    """The server names of group `gid`'s `n` nodes: g<gid>.1 .. g<gid>.<n>."""
    return tuple(f"g{gid}.{i}" for i in range(1, n + 1))
