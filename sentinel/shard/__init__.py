"""sentinel.shard: sharding across raft groups.

The shard controller (`ctl`, `ctlserver`, `ctlclient`) keeps the numbered configurations
(which groups exist, which group owns each of `NSHARDS` shards) as its own raft group's
state machine; `config` holds the configurations and the deterministic rebalancing, and
`key_shard`, the stable hash that puts a key in a shard. Shard groups (`group`,
`groupwork`, `groupserver`) run kvraft's state machine per shard; `keys` finds a command's
shard (CROSSSLOT); `client` and `pool` route by key (sentinel.sim.shards simulates it all
on real raft). `replicated` is the request plumbing (propose, defer, answer on apply;
ReadIndex reads) the servers share.

Importing the package loads only `config` (the command line reads node names with it);
import the other modules by name.
"""

from sentinel.shard.config import NSHARDS, ConfigError, ShardConfig, key_shard, rebalance

__all__ = ["NSHARDS", "ConfigError", "ShardConfig", "key_shard", "rebalance"]
