"""sentinel.shard: sharding across raft groups.

The shard controller (`ctl`, `ctlserver`, `ctlclient`) keeps the numbered configurations
(which groups exist, which group owns each of `NSHARDS` shards) as its own raft group's
state machine; `config` holds the configurations and the deterministic rebalancing, and
`key_shard`, the stable hash that puts a key in a shard. `replicated` is the request
plumbing (propose, defer, answer on apply; ReadIndex reads) its servers share.
"""

from sentinel.shard.config import NSHARDS, ConfigError, ShardConfig, key_shard, rebalance
from sentinel.shard.ctl import CtlReply, ShardCtlMachine

__all__ = [
    "NSHARDS",
    "ConfigError",
    "CtlReply",
    "ShardConfig",
    "ShardCtlMachine",
    "key_shard",
    "rebalance",
]
