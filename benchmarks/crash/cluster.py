"""The cluster under test: a `sentinel.cluster.Supervisor` plus fast probes.

Leaders and applied indexes are asked directly with the "KVServer.State" RPC (answered in
milliseconds), not read from the status blobs, which nodes post only every 200 ms: a
failover target of 350 ms cannot be measured with a 200 ms ruler. Status blobs are still
used for what only they carry (snapshot index, last log index, snapshot bytes).
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import multiprocessing.forkserver
import shutil
import time
from pathlib import Path

from sentinel.cluster import Supervisor
from sentinel.cluster.settings import RunOptions, create_identity
from sentinel.dashboard import ProcessState
from sentinel.host.node import node_name
from sentinel.host.nodestatus import NodeStatus, decode_status
from sentinel.kvraft.client import Client
from sentinel.kvraft.protocol import ServerState
from sentinel.netsim.client import Network, connect
from sentinel.netsim.rpc import RpcError

#: What the fork server imports once, so (re)started nodes start warm (as in the tests).
#: A forked child also runs the main script again (as __mp_main__: CPython 3.11's fork
#: server never preloads "__main__" itself, it looks for a "main_path" key that
#: get_preparation_data does not produce, and it ignores the sys.path it is given, so the
#: `crash` helpers cannot be preloaded), so what the script imports is preloaded too: without
#: it every node restart imported rich, psutil and the dashboard again before the node even
#: opened its storage, and that import was counted in its recovery time.
PRELOAD = [
    "sentinel.host.node",
    "sentinel.kvraft.server",
    "sentinel.netsim.router",
    "sentinel.cluster.supervisor",
    "sentinel.cluster.settings",
    "sentinel.kvraft.client",
    "sentinel.lin",
    "concurrent.futures",
]
STATE_TIMEOUT_S = 0.25
POLL_S = 0.01


class BenchCluster:
    """A fresh cluster of `nodes` kv nodes in `directory` (create, `start`, `stop`)."""

    def __init__(
        self, directory: Path, nodes: int, maxraftstate: int, seed: int, start_method: str
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        identity = create_identity(directory, nodes)
        options = RunOptions(maxraftstate=maxraftstate, seed=seed)
        self.directory = directory
        if start_method == "forkserver":
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)
            multiprocessing.forkserver.ensure_running()
        self.sup = Supervisor(directory, identity, options, start_method=start_method)
        self.node_ids = self.sup.node_ids
        self.net: Network | None = None
        self.client: Client | None = None
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=len(self.node_ids))

    def start(self, clients: int) -> None:
        """Router and nodes (this must be the main thread), then one shared client."""
        self.sup.start()
        self.net = connect(self.directory)
        self.client = Client(
            self.net, list(self.node_ids), clerks_max=clients + 72, owns_network=False
        )

    def stop(self) -> None:
        """Stop every process this cluster started (safe to call twice, on any path)."""
        try:
            if self.client is not None:
                self.client.close()
            if self.net is not None:
                self.net.close()
        finally:
            self.client = self.net = None
            self._pool.shutdown(wait=False, cancel_futures=True)
            self.sup.shutdown()

    def remove_data(self) -> None:
        """Delete the cluster's disks (call after `stop`)."""
        shutil.rmtree(self.directory, ignore_errors=True)

    # -- probes ----------------------------------------------------------------------------

    def running(self) -> list[int]:
        """Nodes whose process runs (not killed, not paused)."""
        info = self.sup.process_info()
        return [i for i in self.node_ids if info[i].state == ProcessState.RUNNING]

    def state(self, node_id: int, timeout_s: float = STATE_TIMEOUT_S) -> ServerState | None:
        """Node's own view of itself, or None if it does not answer in time."""
        assert self.net is not None
        try:
            reply = self.net.end(node_id).call("KVServer.State", None, timeout_s)
        except RpcError:
            return None
        return reply if isinstance(reply, ServerState) else None

    def states(self, nodes: list[int]) -> dict[int, ServerState]:
        """States of `nodes`, asked in parallel; the silent ones left out."""
        answers = self._pool.map(self.state, nodes)
        return {n: st for n, st in zip(nodes, answers, strict=True) if st is not None}

    def leader(self, nodes: list[int] | None = None) -> ServerState | None:
        """The leader with the highest term among `nodes` (default: running nodes)."""
        found = [s for s in self.states(nodes or self.running()).values() if s.is_leader]
        return max(found, key=lambda s: s.term, default=None)

    def wait_leader(
        self, deadline_s: float, exclude: frozenset[int] = frozenset(), above_term: int = 0
    ) -> tuple[ServerState, float]:
        """A leader outside `exclude` with a term above `above_term`, and when it was seen."""
        deadline = time.monotonic() + deadline_s
        while True:
            nodes = [i for i in self.running() if i not in exclude]
            st = self.leader(nodes) if nodes else None
            if st is not None and st.term > above_term:
                return st, time.monotonic()
            if time.monotonic() > deadline:
                raise TimeoutError(f"no new leader (term > {above_term}) within {deadline_s} s")
            time.sleep(POLL_S)

    def wait_caught_up(self, node_id: int, deadline_s: float) -> float:
        """When `node_id` has applied as far as the leader: its applied index reaches the
        leader's (asked just before; the leader applies an entry right after committing it,
        so this is the leader's commit index up to one batch), or it is the leader itself
        (a restarted node may win the election, e.g. after kill-majority)."""
        deadline = time.monotonic() + deadline_s
        while True:
            lead = self.leader([i for i in self.running() if i != node_id])
            mine = self.state(node_id)
            if mine is not None and mine.is_leader and (lead is None or mine.term > lead.term):
                # it leads: it holds every committed entry (Leader Completeness) and is
                # the reference the others catch up to
                return time.monotonic()
            if lead is not None and mine is not None and mine.applied >= lead.applied:
                return time.monotonic()
            if time.monotonic() > deadline:
                raise TimeoutError(f"node {node_id} did not catch up within {deadline_s} s")
            time.sleep(POLL_S)

    def statuses(self) -> dict[int, NodeStatus]:
        """The latest status blob of each node, trusted only if it is the current process's."""
        assert self.net is not None
        report = self.net.report()
        out: dict[int, NodeStatus] = {}
        if report is None:
            return out
        for node_id, blob in report.statuses.items():
            st = decode_status(blob)
            pid = self.sup.group.pid(node_name(node_id)) if node_id in self.node_ids else None
            if st is not None and st.pid == pid:
                out[node_id] = st
        return out

    def last_status(self, node_id: int) -> NodeStatus | None:
        """The last blob node posted, whichever process posted it (a killed node's stays)."""
        assert self.net is not None
        report = self.net.report()
        blob = report.statuses.get(node_id) if report is not None else None
        return decode_status(blob) if blob is not None else None
