"""The node process: one raft core, its disk storage and an application, over the router.

The loop and its state are runtime.py (`NodeRuntime`). This module is the process around it:
`spawn_node` starts (or restarts) one in a netsim ProcessGroup, `node_main` opens the node's
directory, sets up its log file (`<dir>/node-<id>/node.log`) and runs the loop. The process
exits when the router connection closes; it dies with its parent (ProcessGroup's
die-with-parent guard).

Start nodes with `spawn_node(spec, router, group)`; `python -m sentinel.host.nodecli --help`
runs a small cluster by hand.
"""

from __future__ import annotations

import logging
import logging.handlers
from multiprocessing.connection import Connection
from typing import Any

from sentinel.host.lowprio import run_niced
from sentinel.host.nodespec import DEFAULT_APP, NodeSpec, node_name
from sentinel.host.runtime import NodeRuntime
from sentinel.host.storage import Storage
from sentinel.netsim.endpoint import Endpoint
from sentinel.raft.errors import StorageError

__all__ = ["DEFAULT_APP", "NodeRuntime", "NodeSpec", "node_main", "node_name", "spawn_node"]

log = logging.getLogger(__name__)

#: The node's log file, in its directory (written from the start, before its raft files).
NODE_LOG_NAME = "node.log"
NODE_LOG_BYTES_MAX = 8 * 1024 * 1024


def spawn_node(spec: NodeSpec, router: Any, group: Any) -> int:
    """Start (or restart, on a fresh pipe) the node of `spec` in `group` (a netsim
    ProcessGroup), connected to `router` (a netsim RouterHandle); its pid. A running process
    of the same node is SIGKILLed first (a restart is a crash and a fresh start)."""
    spec.raft_config()  # fail here, not in the child, on a bad configuration
    name = node_name(spec.node_id)
    group.kill(name)
    conn = router.add_node(spec.node_id)
    try:
        if name in group.names():
            return group.restart(name, (conn, spec))
        return group.start(name, node_main, (conn, spec))
    finally:
        conn.close()


def setup_logging(spec: NodeSpec) -> None:
    """Node logs go to `<node dir>/node.log` (bounded by rotation)."""
    spec.directory.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        spec.directory / NODE_LOG_NAME, maxBytes=NODE_LOG_BYTES_MAX, backupCount=1
    )
    handler.setFormatter(
        logging.Formatter(f"%(asctime)s node-{spec.node_id} %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(spec.log_level)


def node_main(conn: Connection, spec: NodeSpec) -> None:
    """Entry point of a node process (see `spawn_node`)."""
    setup_logging(spec)
    endpoint = Endpoint(conn, spec.node_id)
    try:
        storage = run_niced(
            lambda: Storage.open(
                spec.directory, spec.cluster_id, spec.node_id, spec.disk_quota_bytes
            )
        )
    except StorageError:
        log.exception("node %d: cannot recover its directory; stopping", spec.node_id)
        raise SystemExit(2) from None
    except OSError as exc:  # e.g. a new directory on a full disk: no room for its meta file
        log.error("node %d: cannot open its directory (%s); stopping", spec.node_id, exc)
        raise SystemExit(2) from None
    runtime = None
    try:
        runtime = NodeRuntime(spec, endpoint, storage)
        runtime.run()
    except (EOFError, ConnectionError) as exc:
        log.info("node %d: router connection closed (%s); exiting", spec.node_id, exc)
    except BaseException:
        log.exception("node %d: fatal error", spec.node_id)
        raise
    finally:
        if runtime is not None:
            runtime.snapshot_fork.stop()
        storage.close()
        endpoint.close()
