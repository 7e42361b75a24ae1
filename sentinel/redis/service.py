"""Serve a running cluster over RESP: the front door, the cluster backend and the status file.

    asyncio.run(serve(cluster_dir, Options(port=7379)))

`serve` connects a cluster client through the router (as any client does, so partitions and
the unreliable network apply), runs a `RedisServer` over a `ClusterBackend` (a
`ShardedBackend` for a sharded store's directory), and every
STATUS_INTERVAL_S rewrites `<dir>/redis.json` (STATUS_NAME) with its address, connections and
commands so far: the cluster's dashboard and `status --json` read it (`read_status`), as they
read the nodes' status blobs, without a connection to this process. A file older than
STATUS_STALE_S, or of a process that is gone, counts as no Redis port at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentinel.host.nodestatus import decode_status
from sentinel.netsim.client import Network
from sentinel.redis.backend import Backend, RaftStatus
from sentinel.redis.cluster_backend import ClusterBackend
from sentinel.redis.server import RedisServer
from sentinel.redis.session import Options
from sentinel.shard.config import LAYOUT_NAME

log = logging.getLogger(__name__)

STATUS_NAME = "redis.json"
STATUS_INTERVAL_S = 0.5
STATUS_STALE_S = 3.0
#: How long INFO waits for the router's report.
REPORT_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class RedisStatus:
    """What the Redis process tells the cluster's views."""

    address: str  # host:port
    connections: int
    commands_total: int
    pid: int
    at_s: float  # time.time() of the write


def write_status(directory: Path, server: RedisServer) -> None:
    """Replace `<dir>/redis.json` atomically with the server's counters."""
    host, port = server.address
    data = {"address": f"{host}:{port}", "connections": server.connections,
            "commands_total": server.commands_total, "pid": os.getpid(),
            "at_s": time.time()}  # fmt: skip
    tmp = directory / f".{STATUS_NAME}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(data))
    os.replace(tmp, directory / STATUS_NAME)


def read_status(directory: Path | str) -> RedisStatus | None:
    """The Redis process's last status, or None when there is none that is fresh and whole."""
    try:
        data = json.loads((Path(directory) / STATUS_NAME).read_text())
        status = RedisStatus(
            str(data["address"]), int(data["connections"]), int(data["commands_total"]),
            int(data["pid"]), float(data["at_s"]),
        )  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if time.time() - status.at_s > STATUS_STALE_S:
        return None
    return status


def remove_status(directory: Path) -> None:
    """Forget the status file (the server stopped)."""
    with contextlib.suppress(OSError):
        (directory / STATUS_NAME).unlink()


def raft_status(network: Network) -> RaftStatus:
    """INFO's raft section from the nodes' status blobs in the router's report (blocking)."""
    report = network.report(REPORT_TIMEOUT_S)
    if report is None:
        return RaftStatus("none", 0, "", 0, 0, 0, 0)
    statuses = [s for blob in report.statuses.values() if (s := decode_status(blob))]
    leaders = [s for s in statuses if s.role == "LEADER"]
    if not leaders:
        term = max((s.term for s in statuses), default=0)
        return RaftStatus("none", term, "", 0, 0, 0, 0)
    leader = max(leaders, key=lambda s: s.term)
    keys = int(leader.app.get("keys", 0))
    expires = int(leader.app.get("expires", 0))
    return RaftStatus("leader", leader.term, f"n{leader.node_id}", leader.commit,
                      leader.applied, keys, expires)  # fmt: skip


def open_backend(
    directory: Path, loop: asyncio.AbstractEventLoop
) -> tuple[Any, Backend]:  # fmt: skip
    """A client of the cluster in `directory` and the backend over it (blocking). A plain
    cluster's client has its router connection read by `loop` (a call made on the loop is
    answered there, with no reader thread between: netsim's loopreader.py), under a
    ClusterBackend; a sharded store's directory (shards.json) gets the ShardedBackend
    (sharded_backend.py), which routes by key."""
    if (directory / LAYOUT_NAME).exists():
        from sentinel.redis.sharded_backend import open_sharded_backend

        return open_sharded_backend(directory, loop)
    from sentinel.kvraft.connect import connect  # the client pulls in the network stack

    client = connect(directory, loop=loop)
    return client, ClusterBackend(client, raft_status=lambda: raft_status(client.network))


async def serve(
    directory: Path, options: Options, stop: asyncio.Event | None = None,
    opener: Callable[[Path, asyncio.AbstractEventLoop], tuple[Any, Backend]] = open_backend,
) -> None:  # fmt: skip
    """Serve the cluster in `directory` until `stop` is set (or the task is cancelled);
    `opener(directory, loop)` makes the client (closed at the end) and the backend."""
    client, backend = await asyncio.to_thread(opener, directory, asyncio.get_running_loop())
    server = RedisServer(backend, options)
    try:
        await server.start()
        stop = stop or asyncio.Event()
        while True:
            write_status(directory, server)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), STATUS_INTERVAL_S)
                break
    finally:
        remove_status(directory)
        await server.close()
        await asyncio.to_thread(client.close)
