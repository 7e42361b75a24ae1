"""The sharding tests' harness: `GroupProcs` (sentinel/cluster/shardprocs.py) with a wait
for a group to serve keys, and the test time limit."""

from __future__ import annotations

import time
from collections.abc import Sequence

from sentinel.cluster import shardprocs
from sentinel.cluster.shardprocs import start_controller, start_forkserver, start_shard_group
from sentinel.kvraft.codec import encode_command
from sentinel.kvraft.commands import Get
from sentinel.shard.config import key_shard, node_id_of
from sentinel.shard.group import ShardOp

TEST_LIMIT_S = 120.0

__all__ = ["TEST_LIMIT_S", "GroupProcs", "start_controller", "start_forkserver",
           "start_shard_group"]  # fmt: skip


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
