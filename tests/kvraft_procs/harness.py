"""A Python equivalent of 6.824's kvraft `config.go`, over real processes.

A `KVCluster` is a router and n node processes running `sentinel.kvraft.server:KVServerApp`
in a temporary directory. Servers are numbered 0..n-1 as in 6.824 (node id = i + 1).
Clerks run as threads in the test process and share one router connection.

How 6.824's model maps onto processes:
- partition(p1, p2): the router's partition matrix (nodes talk only within their side).
  Clients are in no group, so they reach any server; 6.824's per-clerk reachable set
  (`makeClient(to)`, `ConnectClient`) is emulated by giving the clerk only those servers.
- ShutdownServer(i) = SIGKILL (the disk survives; what was fsynced is what a restart sees);
  StartServer(i) = a fresh process on the same directory.
- LogSize / SnapshotSize: the servers' raft state and snapshot bytes on disk, asked over
  RPC ("KVServer.State"), or read from the files of a server that is down.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import multiprocessing.forkserver
import os
import random
import threading
import time
from pathlib import Path
from typing import Any

from sentinel.host.layout import HARDSTATE, WAL
from sentinel.host.node import NodeSpec, node_name, spawn_node
from sentinel.host.nodespec import KV_SERVER_APP
from sentinel.kvraft.client import Client
from sentinel.kvraft.protocol import ServerState
from sentinel.netsim.client import Network, connect
from sentinel.netsim.control import RouterHandle
from sentinel.netsim.faults import FaultConfig
from sentinel.netsim.procs import ProcessGroup

APP = KV_SERVER_APP
#: What the fork server imports once, so forked nodes start warm (see `start_forkserver`).
PRELOAD = ["sentinel.host.node", "sentinel.kvraft.server", "sentinel.netsim.router"]
#: 6.824's electionTimeout (1 s) is used as a sleep unit; ours is 150-300 ms, so 1 s is
#: always several full election timeouts.
ELECTION_TIMEOUT_S = 1.0
#: 6.824's per-test limit.
TEST_LIMIT_S = 120.0
#: A tester call ("KVServer.State") that is not answered by then fails the test.
CALL_DEADLINE_S = 20.0
#: Every clerk operation in a test must finish within this (6.824 clerks retry forever; a
#: test must fail rather than hang). Far above any election or restart.
OP_DEADLINE_S = 45.0


def start_forkserver() -> None:
    """Start this interpreter's multiprocessing fork server with the node modules preloaded.
    Call it before a test's leak check takes its 'before' picture: the fork server lives as
    long as the interpreter, by design."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    multiprocessing.forkserver.ensure_running()


class KVCluster:
    """6.824's kvraft `config` (see the module docstring)."""

    def __init__(
        self,
        directory: Path,
        n: int,
        unreliable: bool = False,
        maxraftstate: int = -1,
        seed: int | None = None,
        node_options: dict[str, Any] | None = None,
    ) -> None:
        self.seed = seed if seed is not None else int.from_bytes(os.urandom(4), "little")
        print(f"KVCluster seed={self.seed} n={n} unreliable={unreliable} m={maxraftstate}")
        self.rng = random.Random(self.seed)
        self.rng_lock = threading.Lock()
        self.directory = directory
        self.n = n
        self.maxraftstate = maxraftstate
        self.node_options = dict(node_options or {})  # more NodeSpec fields
        self.started = time.monotonic()
        # forkserver: a node (re)start forks a warm server that has the node's modules
        # loaded, instead of a fresh interpreter importing them (about 1 s each on a loaded
        # 2-core machine, which made every crash-and-restart wait seconds for elections).
        self.group = ProcessGroup(start_method="forkserver")
        self.alive = [False] * n
        self.net: Network | None = None
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=n)
        self._faults = FaultConfig(reliable=True)
        try:
            self.router = RouterHandle.start(directory, self.group, seed=self.seed)
            self.net = connect(directory)
            for i in range(n):
                self.start_server(i)
            self.router.set_faults(FaultConfig(reliable=not unreliable))
        except BaseException:
            self.cleanup()
            raise

    # -- servers -------------------------------------------------------------------------

    def spec(self, i: int) -> NodeSpec:
        with self.rng_lock:
            seed = self.rng.randrange(1 << 62)
        return NodeSpec(
            cluster_dir=str(self.directory),
            node_id=i + 1,
            peer_ids=tuple(range(1, self.n + 1)),
            cluster_id=f"kv-procs-{self.seed}",
            app=APP,
            app_options={"maxraftstate": self.maxraftstate},
            seed=seed,
            **self.node_options,
        )

    def start_server(self, i: int) -> None:
        """6.824 StartServer: a fresh process on server i's directory."""
        spawn_node(self.spec(i), self.router, self.group)
        self.alive[i] = True

    def shutdown_server(self, i: int) -> None:
        """6.824 ShutdownServer: SIGKILL server i (its directory survives)."""
        self.group.kill(node_name(i + 1))
        self.alive[i] = False

    def set_unreliable(self, unreliable: bool) -> None:
        self._faults = self._faults.with_(reliable=not unreliable)
        self.router.set_faults(self._faults)

    def partition(self, p1: list[int], p2: list[int]) -> None:
        """Full connectivity inside each side, none across (servers; clients unaffected)."""
        self.router.partition([tuple(i + 1 for i in p1), tuple(i + 1 for i in p2)])

    def connect_all(self) -> None:
        self.router.heal()

    def cleanup(self) -> None:
        """Stop everything (every exit path of a test goes through here)."""
        try:
            if self.net is not None:
                self.net.close()
            if hasattr(self, "router"):
                self.router.shutdown()
        finally:
            self.group.stop_all()
            self._pool.shutdown(wait=False, cancel_futures=True)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    # -- clients -------------------------------------------------------------------------

    def make_client(self, to: list[int]) -> Client:
        """6.824 makeClient(to): a new clerk (a client of one session, calls in order) that
        may talk to servers `to` only, given in a random order (so position means nothing)."""
        assert self.net is not None
        ids = [i + 1 for i in to]
        with self.rng_lock:
            self.rng.shuffle(ids)
        return Client(self.net, ids, clerks_max=1, owns_network=False, coalesce=False)

    def connect_client(self, clerk: Client, to: list[int]) -> None:
        """6.824 ConnectClient: the clerk may now talk to servers `to`."""
        ids = [i + 1 for i in to]
        with self.rng_lock:
            self.rng.shuffle(ids)
        clerk.set_servers(ids)

    def all(self) -> list[int]:
        return list(range(self.n))

    # -- inspection ----------------------------------------------------------------------

    def state(self, i: int) -> ServerState | None:
        """Server i's ServerState (retried until answered); None if it is down."""
        assert self.net is not None
        end = self.net.end(i + 1)
        deadline = time.monotonic() + CALL_DEADLINE_S
        while self.alive[i]:
            reply = end.call("KVServer.State", None, 1.0)
            if isinstance(reply, ServerState):
                return reply
            assert time.monotonic() < deadline, f"server {i} did not answer State"
            time.sleep(0.01)
        return None

    def states(self) -> list[ServerState | None]:
        return list(self._pool.map(self.state, range(self.n)))

    def leader(self) -> tuple[bool, int]:
        """6.824 Leader(): (True, i) for the first server that says it leads."""
        for i, st in enumerate(self.states()):
            if st is not None and st.is_leader:
                return True, i
        return False, 0

    def wait_leader(self, deadline_s: float = 10.0) -> int:
        """A server that leads, waiting up to `deadline_s`."""
        deadline = time.monotonic() + deadline_s
        while True:
            ok, i = self.leader()
            if ok:
                return i
            assert time.monotonic() < deadline, f"no leader within {deadline_s} s"
            time.sleep(0.05)

    def make_partition(self) -> tuple[list[int], list[int]]:
        """6.824 make_partition: p1 = n//2+1 non-leaders; p2 = the rest, leader last."""
        leader = self.wait_leader()
        others = [i for i in range(self.n) if i != leader]
        p1 = others[: self.n // 2 + 1]
        p2 = [*others[self.n // 2 + 1 :], leader]
        return p1, p2

    def _sizes(self) -> list[tuple[int, int]]:
        sizes = []
        for i, st in enumerate(self.states()):
            if st is not None:
                sizes.append((st.raft_state_bytes, st.snapshot_bytes))
            else:  # a server that is down: its files
                node_dir = self.directory / f"node-{i + 1}"
                raft = sum(_size(node_dir / name) for name in (WAL, HARDSTATE))
                snaps = max((_size(p) for p in node_dir.glob("snap-*")), default=0)
                sizes.append((raft, snaps))
        return sizes

    def log_size(self) -> int:
        """6.824 LogSize: the largest raft state on disk."""
        return max(raft for raft, _ in self._sizes())

    def snapshot_size(self) -> int:
        """6.824 SnapshotSize: the largest snapshot on disk."""
        return max(snap for _, snap in self._sizes())


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
