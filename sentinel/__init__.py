"""Sentinel: a Raft-replicated key/value store run as a local cluster of real OS processes."""

__version__ = "0.1.0"


def connect(cluster_dir, servers=None, clerks_max=64):  # type: ignore[no-untyped-def]
    """A thread-safe client of the Sentinel cluster in `cluster_dir`: see
    `sentinel.kvraft.client.connect` (imported lazily, so `import sentinel` stays light)."""
    from sentinel.kvraft.client import connect as _connect

    return _connect(cluster_dir, servers=servers, clerks_max=clerks_max)
