"""`connect`: a kvraft `Client` of a running cluster, found by its directory.

The cluster directory holds the router's socket and auth key (netsim's `connect`) and one
`node-<id>` directory per node; the servers a client uses are those, plus every node the
router knows of, unless the caller names them. From then on the client follows the
cluster's membership (follow.py): its servers become the committed configuration's voters
and learners, so it keeps working after the nodes it started with were replaced. Options
are checked before the router is contacted, so a bad one costs nothing.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Sequence
from pathlib import Path

from sentinel.kvraft.attempts import RPC_TIMEOUT_S, SILENCE_S
from sentinel.kvraft.client import (
    CLERKS_MAX_DEFAULT,
    QUEUE_MAX_DEFAULT,
    Client,
    check_pool,
    check_waits,
)
from sentinel.kvraft.follow import MembershipFollower
from sentinel.netsim.client import Network
from sentinel.netsim.client import connect as connect_network
from sentinel.netsim.protocol import NODE_ID_MAX

_NODE_DIR = re.compile(r"^node-(\d+)$")


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
    queue_max: int = QUEUE_MAX_DEFAULT,
    coalesce: bool = True,
    rpc_timeout_s: float = RPC_TIMEOUT_S,
    silence_s: float = SILENCE_S,
    loop: asyncio.AbstractEventLoop | None = None,
    follow_members: bool = True,
) -> Client:
    """A thread-safe client of the cluster in `cluster_dir` (its router socket and auth key).
    `servers` are the node ids to use; by default every node the router knows of or that
    has a `node-<id>` directory there. `clerks_max` sessions serve calls at once; up to
    `queue_max` more wait in line; `coalesce` batches concurrent async calls (batching.py);
    an attempt waits `silence_s` for an answer, longer after each silence, up to
    `rpc_timeout_s` (attempts.py). Bad options raise InvalidRequest (or TypeError) before
    the router is contacted. `loop`: read the router connection on that running asyncio
    loop, not a thread (netsim's loopreader.py); connect from another thread then.
    `follow_members`: keep the servers on the cluster's membership (follow.py); False keeps
    the servers given (or found) now, until `set_servers`."""
    check_pool((1,) if servers is None else servers, clerks_max, queue_max)
    check_waits(rpc_timeout_s, silence_s)
    network = connect_network(cluster_dir, loop=loop)
    try:
        ids = list(servers) if servers is not None else _discover(network, cluster_dir)
        if not ids:
            raise ValueError(f"no servers: the cluster in {cluster_dir} has no nodes")
        options = {"clerks_max": clerks_max, "queue_max": queue_max, "coalesce": coalesce}
        client = Client(network, ids, rpc_timeout_s=rpc_timeout_s, silence_s=silence_s, **options)
        if follow_members:
            MembershipFollower(client, lambda: node_ids(cluster_dir)).start()
        return client
    except BaseException:
        network.close()
        raise


def _discover(network: Network, cluster_dir: str | os.PathLike[str]) -> list[int]:
    ids = set(node_ids(cluster_dir))
    report = network.report()
    if report is not None:
        ids.update(s.endpoint_id for s in report.stats if 0 < s.endpoint_id <= NODE_ID_MAX)
    return sorted(ids)
