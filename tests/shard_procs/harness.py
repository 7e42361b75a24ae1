"""The sharding tests' harness: `GroupProcs` (sentinel/cluster/shardprocs.py) with a wait
for a group to serve keys, and the test time limit."""

from __future__ import annotations

import time
from collections.abc import Sequence

from sentinel.cluster import shardprocs
from sentinel.cluster.shardprocs import start_controller, start_forkserver, start_shard_group
from sentinel.kvraft.codec import encode_command
from sentinel.kvraft.commands import Get
from sentinel.shard.config import LAYOUT_NAME, key_shard, node_id_of
from sentinel.shard.group import ShardOp

TEST_LIMIT_S = 120.0

__all__ = ["TEST_LIMIT_S", "GroupProcs", "start_controller", "start_forkserver",
           "start_shard_group", "start_sharded_store"]  # fmt: skip


class GroupProcs(shardprocs.GroupProcs):
    """Raft groups of node processes behind one router, for a test."""

    def wait_served(
        self, names: Sequence[str], keys: Sequence[str], deadline_s: float = 30.0
    ) -> None:
        """Wait until the group of servers `names` answers a get of every key in `keys`
        (its shards have arrived); AssertionError past the deadline."""
        assert self.net is not None
        deadline = time.monotonic() + deadline_s
        left = list(keys)
        while left:
            assert time.monotonic() < deadline, f"{names} still does not serve {left}"
            for name in names:
                op = ShardOp(key_shard(left[0]), encode_command(Get(left[0])))
                reply = self.net.call(node_id_of(name), "ShardKV.Op", op, 0.5)
                if reply is not None and getattr(reply.value, "err", None) == "":
                    left.pop(0)
                    break
            else:
                time.sleep(0.05)


def start_sharded_store(procs: GroupProcs, groups: int = 2) -> list[int]:
    """A controller and `groups` shard groups of three nodes, each joined, with the
    directory marked sharded (shards.json, as `up --groups` writes it) so that
    `sentinel.connect` and the Redis front door route by key; the controller's ids."""
    ctl = start_controller(procs)
    admin = procs.ctl_clerk(ctl)
    for gid in range(1, groups + 1):
        admin.join({gid: start_shard_group(procs, gid, ctl)})
    layout = f'{{"cluster_id": "t", "groups": {groups}, "nodes": 3}}'
    (procs.directory / LAYOUT_NAME).write_text(layout)
    return ctl
