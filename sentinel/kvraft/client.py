"""The public Python client: `sentinel.connect(cluster_dir)`.

    import sentinel
    with sentinel.connect("/tmp/cluster") as kv:
        kv.put("k", "v", timeout_s=5)
        kv.get("k")                 # "v"; None for a missing key
        kv.append("k", "w")
        kv.cas("k", "vw", "x")      # True if it swapped
        kv.delete("k")              # True if the key was there

A `Client` is thread-safe: it keeps a pool of clerks (each its own exactly-once session,
registered on its first write) and lends one to each call, so concurrent calls run
concurrently over one router connection. Every call has a deadline (`timeout_s`, default
`TIMEOUT_S_DEFAULT`); when it passes, a write raises `OutcomeUnknown` (it may have been
applied) and a read raises `Unavailable`. Bad input raises `InvalidRequest` before anything
is sent. See clerk.py for the retry rules and errors.py for the errors.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from sentinel.kvraft.clerk import RPC_TIMEOUT_S, Clerk
from sentinel.netsim.client import Network
from sentinel.netsim.client import connect as connect_network
from sentinel.netsim.protocol import NODE_ID_MAX

TIMEOUT_S_DEFAULT = 10.0
#: Clerks (sessions) one Client keeps; calls beyond this many at once wait for one.
CLERKS_MAX_DEFAULT = 64
_NODE_DIR = re.compile(r"^node-(\d+)$")


class Client:
    """A thread-safe kv client over one router connection (see the module docstring)."""

    def __init__(
        self,
        network: Network,
        servers: Sequence[int],
        clerks_max: int = CLERKS_MAX_DEFAULT,
        rpc_timeout_s: float = RPC_TIMEOUT_S,
        owns_network: bool = True,
    ) -> None:
        assert servers, "a client needs at least one server"
        assert clerks_max >= 1, "clerks_max must be at least 1"
        self.network = network
        self.servers = tuple(servers)
        self.clerks_max = clerks_max
        self.rpc_timeout_s = rpc_timeout_s
        self._owns_network = owns_network
        self._idle: list[Clerk] = []
        self._made = 0
        self._leader = self.servers[0]  # the last leader any clerk found
        self._cond = threading.Condition()
        self._closed = False

    # -- the operations --------------------------------------------------------------------

    def get(self, key: str, timeout_s: float = TIMEOUT_S_DEFAULT) -> str | None:
        """The value of `key`, or None when it is absent."""
        return self._run(lambda ck, dl: ck.get(key, dl), timeout_s)

    def put(self, key: str, value: str, timeout_s: float = TIMEOUT_S_DEFAULT) -> None:
        """Set `key` to `value`."""
        self._run(lambda ck, dl: ck.put(key, value, dl), timeout_s)

    def append(self, key: str, value: str, timeout_s: float = TIMEOUT_S_DEFAULT) -> None:
        """Append `value` to the value of `key` (a missing key counts as "")."""
        self._run(lambda ck, dl: ck.append(key, value, dl), timeout_s)

    def delete(self, key: str, timeout_s: float = TIMEOUT_S_DEFAULT) -> bool:
        """Remove `key`; True if it was there."""
        return self._run(lambda ck, dl: ck.delete(key, dl), timeout_s)

    def cas(
        self, key: str, expected: str | None, new: str, timeout_s: float = TIMEOUT_S_DEFAULT
    ) -> bool:
        """Set `key` to `new` if its value is `expected` (None: absent); True if it did."""
        return self._run(lambda ck, dl: ck.cas(key, expected, new, dl), timeout_s)

    # -- the pool --------------------------------------------------------------------------

    def _run(self, op, timeout_s: float):  # type: ignore[no-untyped-def]
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, not {timeout_s!r}")
        deadline = time.monotonic() + timeout_s
        clerk = self._checkout()
        try:
            return op(clerk, deadline)
        finally:
            self._checkin(clerk)

    def _checkout(self) -> Clerk:
        with self._cond:
            while True:
                if self._closed:
                    raise RuntimeError("the client is closed")
                if self._idle:
                    clerk = self._idle.pop()
                    break
                if self._made < self.clerks_max:
                    self._made += 1
                    clerk = Clerk(self.network, self.servers, self.rpc_timeout_s)
                    break
                self._cond.wait()
            leader = self._leader
        clerk.leader = self.servers.index(leader)
        return clerk

    def _checkin(self, clerk: Clerk) -> None:
        with self._cond:
            self._leader = clerk.servers[clerk.leader % len(clerk.servers)]
            self._idle.append(clerk)
            self._cond.notify()

    def close(self) -> None:
        """Close the router connection (if this client opened it)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._owns_network:
            self.network.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def node_ids(cluster_dir: str | os.PathLike[str]) -> list[int]:
    """The node ids of a cluster directory (its `node-<id>` subdirectories)."""
    ids = []
    for path in Path(cluster_dir).iterdir():
        match = _NODE_DIR.match(path.name)
        if match and path.is_dir():
            ids.append(int(match.group(1)))
    return sorted(ids)


def connect(
    cluster_dir: str | os.PathLike[str],
    servers: Sequence[int] | None = None,
    clerks_max: int = CLERKS_MAX_DEFAULT,
) -> Client:
    """A thread-safe client of the cluster in `cluster_dir` (its router socket and auth key).
    `servers` are the node ids to use; by default every node the router knows of or that
    has a `node-<id>` directory there."""
    network = connect_network(cluster_dir)
    try:
        ids = list(servers) if servers is not None else _discover(network, cluster_dir)
        if not ids:
            raise ValueError(f"no servers: the cluster in {cluster_dir} has no nodes")
        return Client(network, ids, clerks_max=clerks_max)
    except BaseException:
        network.close()
        raise


def _discover(network: Network, cluster_dir: str | os.PathLike[str]) -> list[int]:
    ids = set(node_ids(cluster_dir))
    report = network.report()
    if report is not None:
        ids.update(s.endpoint_id for s in report.stats if 0 < s.endpoint_id <= NODE_ID_MAX)
    return sorted(ids)
