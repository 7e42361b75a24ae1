"""Sentinel: a Raft-replicated key/value store run as a local cluster of real OS processes.

A router process relays frames between node processes, each of which runs the raft core
and the key/value state machine and keeps its state on disk, so a node can be killed
(SIGKILL), paused or restarted and recover like a real server. The packages, from the
bottom up (each imports only the ones before it):

* `wire`: checked frames carrying only registered message types;
* `netsim`: the router, its seeded fault policy (6.824's network), RPC and process control;
* `raft`: the sans-I/O raft core, its write-ahead log and the node process;
* `kvraft`: the exactly-once key/value service and its clients;
* `lin`, `dashboard`: the linearizability checker and the live status view (standalone);
* `sim`: the deterministic simulator (the raft core on a virtual clock, checked);
* `cluster`: the supervisor and command line that run a cluster.

`sentinel.connect(cluster_dir)` returns a client of a running cluster.
"""

__version__ = "0.1.0"


def connect(cluster_dir, **options):  # type: ignore[no-untyped-def]
    """A thread-safe client of the Sentinel cluster in `cluster_dir`. Every option of
    `sentinel.kvraft.connect.connect` (`servers`, `clerks_max`, `queue_max`, `coalesce`,
        `rpc_timeout_s`, `silence_s`) passes through; a sharded cluster's directory (`up
    --groups`) gets a `sentinel.shard.pool.ShardedClient` (`clerks_max`, `queue_max`,
    `rpc_timeout_s`), which routes each call by key. The client modules are imported
    lazily, so `import sentinel` stays light."""
    from pathlib import Path

    from sentinel.shard.config import LAYOUT_NAME

    if (Path(cluster_dir) / LAYOUT_NAME).exists():  # sharded (up --groups): routes by key
        from sentinel.shard.pool import connect as _connect_sharded

        return _connect_sharded(cluster_dir, **options)
    from sentinel.kvraft.connect import connect as _connect

    return _connect(cluster_dir, **options)
