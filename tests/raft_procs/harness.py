"""A Python equivalent of 6.824's raft `config.go`, over real processes.

A `RaftCluster` is a router and n node processes (sentinel.host.node running the Recorder
application) in a temporary directory. Servers are numbered 0..n-1 as in 6.824 (node id =
i + 1). The tester talks to the nodes through the router as a client: `start`, `state` and
`applied` are Recorder RPCs.

How 6.824's model maps onto processes:
- disconnect(i)/connect(i): the router's partition matrix. Connected nodes form one group,
  each disconnected node a group of its own. Clients are in no group, so the tester still
  reaches a disconnected node (6.824's tester calls its Rafts directly).
- crash1(i) = SIGKILL (and disconnect); start1(i) = a fresh process on the same directory,
  left disconnected until connect(i), as in 6.824.
- The tester's calls cross the router, so on an unreliable network they can be lost: every
  call is retried until answered (start carries a token, so a retried Start is not proposed
  twice), with a deadline after which the test fails.
- RPC counts and bytes: raft messages received by nodes from nodes (the nodes' own counters;
  requests only for the count, like labrpc's per-server count); the tester's calls are not
  included.
"""

from __future__ import annotations

import concurrent.futures
import os
import random
import threading
import time
from pathlib import Path
from typing import Any

from sentinel.host import wal
from sentinel.host.layout import HARDSTATE, WAL
from sentinel.host.node import NodeSpec, node_name, spawn_node
from sentinel.host.nodespec import RECORDER_APP
from sentinel.netsim.client import Network, connect
from sentinel.netsim.control import RouterHandle
from sentinel.netsim.faults import FaultConfig
from sentinel.netsim.procs import ProcessGroup

#: Our election timeout is 150-300 ms (15-30 ticks of 10 ms), against 6.824's ~1 s; the
#: tests' sleeps in units of 6.824's RaftElectionTimeout use this (twice our top) instead.
ELECTION_TIMEOUT_S = 0.6
#: 6.824 checkOneLeader gives up after ~5 s.
LEADER_DEADLINE_S = 5.0
#: 6.824's per-test limit.
TEST_LIMIT_S = 120.0
#: One tester call: long enough for a reply held by long reordering (200-2200 ms).
CALL_TIMEOUT_S = 3.0
#: A node that has not answered the tester by then is stuck: the test fails.
CALL_DEADLINE_S = 30.0


class RaftCluster:
    """6.824's `config`: n Recorder nodes behind a router (see the module docstring)."""

    def __init__(
        self,
        directory: Path,
        n: int,
        unreliable: bool = False,
        snapshot: bool = False,
        seed: int | None = None,
        app: str = RECORDER_APP,
        node_options: dict[str, Any] | None = None,
    ) -> None:
        self.seed = seed if seed is not None else int.from_bytes(os.urandom(4), "little")
        print(f"RaftCluster seed={self.seed} n={n} unreliable={unreliable} snapshot={snapshot}")
        self.rng = random.Random(self.seed)
        self.directory = directory
        self.n = n
        self.snapshot = snapshot
        self.app = app
        self.node_options = dict(node_options or {})  # more NodeSpec fields
        self.started = time.monotonic()
        self.group = ProcessGroup()
        self.alive = [False] * n
        self.connected = [False] * n
        self.logs: list[dict[int, Any]] = [{} for _ in range(n)]
        self.max_index = 0
        self.errors: list[str] = []
        self._cursor = [1] * n
        self._incarnation: list[int | None] = [None] * n
        self._retired = {"raft_requests_received": 0, "raft_bytes_received": 0}
        self._lock = threading.RLock()
        self._pull_lock = threading.Lock()
        self._last_pull = 0.0
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=n)
        self._faults = FaultConfig(reliable=not unreliable)
        self._starts = 0
        self.net: Network | None = None
        try:
            self.router = RouterHandle.start(directory, self.group, seed=self.seed)
            self.router.set_faults(self._faults)
            self.net = connect(directory)
            for i in range(n):
                self.start1(i, wait=False)
            self._map(self._wait_serving, list(range(n)))
            for i in range(n):
                self.connect(i)
        except BaseException:
            self.cleanup()
            raise

    # -- processes and the network -------------------------------------------------------

    def spec(self, i: int) -> NodeSpec:
        return NodeSpec(
            cluster_dir=str(self.directory),
            node_id=i + 1,
            peer_ids=tuple(range(1, self.n + 1)),
            cluster_id=f"raft-procs-{self.seed}",
            app=self.app,
            app_options={"snapshots": self.snapshot},
            seed=self.rng.randrange(1 << 62),
            **self.node_options,
        )

    def start1(self, i: int, wait: bool = True) -> None:
        """6.824 start1: (crash and) start server i from its directory; not connected.
        6.824's Make returns a running Raft, so this waits until the process answers."""
        self.crash1(i)
        spawn_node(self.spec(i), self.router, self.group)
        self.alive[i] = True
        if wait:
            self._wait_serving(i)

    def _wait_serving(self, i: int) -> None:
        """Wait until server i's process answers a call (any answer, even an error)."""
        assert self.net is not None
        deadline = time.monotonic() + CALL_DEADLINE_S
        while self.net.call(i + 1, "Raft.state", None, CALL_TIMEOUT_S) is None:
            assert time.monotonic() < deadline, f"server {i} does not serve calls"
            time.sleep(0.01)

    def crash1(self, i: int) -> None:
        """6.824 crash1: disconnect and SIGKILL server i (its disk survives)."""
        self.disconnect(i)
        if not self.alive[i]:
            return
        try:  # what it applied and counted so far (6.824's applier records synchronously)
            self._pull(i, deadline_s=1.0)
            counters = self._call(i, "Raft.counters", None, deadline_s=1.0)
            if counters:
                for key in self._retired:
                    self._retired[key] += counters[key]
        except AssertionError:
            pass
        self.group.kill(node_name(i + 1))
        self.alive[i] = False

    def connect(self, i: int) -> None:
        self.connected[i] = True
        self._apply_topology()

    def disconnect(self, i: int) -> None:
        self.connected[i] = False
        self._apply_topology()

    def _apply_topology(self) -> None:
        if all(self.connected):
            self.router.heal()
            return
        inside = tuple(i + 1 for i in range(self.n) if self.connected[i])
        alone = [(i + 1,) for i in range(self.n) if not self.connected[i]]
        self.router.partition(([inside] if inside else []) + alone)

    def set_unreliable(self, unreliable: bool) -> None:
        self._faults = self._faults.with_(reliable=not unreliable)
        self.router.set_faults(self._faults)

    def set_long_reordering(self, on: bool) -> None:
        self._faults = self._faults.with_(long_reordering=on)
        self.router.set_faults(self._faults)

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

    # -- tester calls --------------------------------------------------------------------

    def _call(self, i: int, method: str, args: Any, deadline_s: float = CALL_DEADLINE_S) -> Any:
        """A Recorder RPC on server i, retried until answered; None if i is dead."""
        assert self.net is not None
        end = self.net.end(i + 1)
        deadline = time.monotonic() + deadline_s
        while self.alive[i]:
            timeout = min(CALL_TIMEOUT_S, max(0.05, deadline - time.monotonic()))
            reply = end.call(method, args, timeout)
            if reply is not None:
                return reply
            if time.monotonic() > deadline:
                raise AssertionError(f"server {i} did not answer {method} in {deadline_s} s")
            time.sleep(0.005)
        return None

    def start(self, i: int, cmd: Any) -> tuple[int, int, bool]:
        """6.824 rf.Start(cmd) on server i: (index, term, is_leader); (0,0,False) if dead."""
        token = self.rng.randrange(1 << 62)
        reply = self._call(i, "Raft.start", (token, cmd))
        return tuple(reply) if reply is not None else (0, 0, False)  # type: ignore[return-value]

    def start_many(self, i: int, cmds: list[Any]) -> list[tuple[int, int, bool]]:
        """Start each of `cmds` on server i, in order, in one call (6.824's tester calls
        Start in a tight loop; one RPC per command would spread them over many batches)."""
        items = [(self.rng.randrange(1 << 62), cmd) for cmd in cmds]
        reply = self._call(i, "Raft.start_many", items)
        return [tuple(r) for r in reply] if reply is not None else [(0, 0, False)] * len(cmds)

    def start_all(self, cmd: Any, deadline_s: float) -> list[bool]:
        """Start(cmd) on every live server at once, one try each within `deadline_s`:
        whether each accepted as leader (False for a dead server or an unanswered call)."""
        assert self.net is not None
        net = self.net

        def one_try(i: int) -> bool:
            if not self.alive[i]:
                return False
            token = self.rng.randrange(1 << 62)
            reply = net.end(i + 1).call("Raft.start", (token, cmd), deadline_s)
            return bool(reply and reply[2])

        return self._map(one_try, list(range(self.n)))

    def get_state(self, i: int) -> tuple[int, bool] | None:
        """6.824 GetState: (term, is_leader), None for a dead server."""
        reply = self._call(i, "Raft.state", None)
        return tuple(reply) if reply is not None else None  # type: ignore[return-value]

    def _live(self) -> list[int]:
        return [i for i in range(self.n) if self.alive[i]]

    def _map(self, fn: Any, servers: list[int]) -> list[Any]:
        return list(self._pool.map(fn, servers))

    # -- 6.824 checks --------------------------------------------------------------------

    def check_one_leader(self) -> int:
        """The leader of the highest term among connected servers; fails if a term has two
        leaders, or if there is none within LEADER_DEADLINE_S."""
        deadline = time.monotonic() + LEADER_DEADLINE_S
        while True:
            servers = [i for i in self._live() if self.connected[i]]
            leaders: dict[int, list[int]] = {}
            for i, st in zip(servers, self._map(self.get_state, servers), strict=True):
                if st is not None and st[1]:
                    leaders.setdefault(st[0], []).append(i)
            for term, ids in leaders.items():
                assert len(ids) <= 1, f"term {term} has {len(ids)} (>1) leaders: {ids}"
            if leaders:
                return leaders[max(leaders)][0]
            assert time.monotonic() < deadline, "expected one leader, got none"
            time.sleep(0.05)

    def check_terms(self) -> int:
        """The term all connected servers agree on."""
        servers = [i for i in self._live() if self.connected[i]]
        terms = {st[0] for st in self._map(self.get_state, servers) if st is not None}
        assert len(terms) <= 1, f"servers disagree on term: {terms}"
        return terms.pop() if terms else -1

    def check_no_leader(self) -> None:
        servers = [i for i in self._live() if self.connected[i]]
        for i, st in zip(servers, self._map(self.get_state, servers), strict=True):
            assert not (st and st[1]), f"expected no leader among connected servers, {i} is"

    def _pull(self, i: int, deadline_s: float = CALL_DEADLINE_S) -> None:
        """Fetch what server i applied since the last pull; check it like 6.824's applier."""
        while self.alive[i]:
            reply = self._call(i, "Raft.applied", (self._cursor[i], 2000), deadline_s)
            if reply is None:
                return
            incarnation, last, errors, pairs = reply
            with self._lock:
                if incarnation != self._incarnation[i]:  # restarted: read it all again
                    self._incarnation[i] = incarnation
                    self._cursor[i] = 1
                    continue
                for text in errors:
                    if f"server {i}: {text}" not in self.errors:
                        self.errors.append(f"server {i}: {text}")
                for index, cmd in pairs:
                    self._record(i, index, cmd)
                    self._cursor[i] = index + 1
            if self._cursor[i] > last:
                return

    def _record(self, i: int, index: int, cmd: Any) -> None:
        for j, log in enumerate(self.logs):
            if index in log and log[index] != cmd:
                self.errors.append(
                    f"commit index={index} server={i} {cmd!r} != server={j} {log[index]!r}"
                )
        self.logs[i][index] = cmd
        self.max_index = max(self.max_index, index)

    def refresh(self) -> None:
        """Pull every live server's applied log (at most one pull at a time; a caller that
        waited for another caller's pull reuses it)."""
        asked = time.monotonic()
        with self._pull_lock:  # not self._lock: the pool's _pull threads take that one
            if self._last_pull >= asked:
                return
            began = time.monotonic()
            self._map(self._pull, self._live())
            self._last_pull = began
        assert not self.errors, f"applier errors: {self.errors[:5]}"

    def n_committed(self, index: int) -> tuple[int, Any]:
        """How many servers applied `index`, and the command there (6.824 nCommitted)."""
        self.refresh()
        count, cmd = 0, None
        with self._lock:
            for log in self.logs:
                if index in log:
                    if count > 0:
                        assert cmd == log[index], f"committed values do not match: index {index}"
                    count, cmd = count + 1, log[index]
        return count, cmd

    def one(self, cmd: Any, expected_servers: int, retry: bool) -> int:
        """6.824 one(): submit `cmd` until a leader takes it and `expected_servers` applied
        it; its index. Fails after 10 s."""
        t0 = time.monotonic()
        starts = 0
        while time.monotonic() - t0 < 10.0:
            index = -1
            for _ in range(self.n):
                starts = (starts + 1) % self.n
                if self.connected[starts] and self.alive[starts]:
                    idx, _term, ok = self.start(starts, cmd)
                    if ok:
                        index = idx
                        break
            if index != -1:
                t1 = time.monotonic()
                while time.monotonic() - t1 < 2.0:
                    nd, cmd1 = self.n_committed(index)
                    if nd > 0 and nd >= expected_servers and cmd1 == cmd:
                        return index
                    time.sleep(0.02)
                if not retry:
                    raise AssertionError(f"one({cmd!r}) failed to reach agreement")
            else:
                time.sleep(0.05)
        raise AssertionError(f"one({cmd!r}) failed to reach agreement")

    def wait(self, index: int, n: int, start_term: int) -> Any:
        """6.824 wait(): the command at `index` once n servers applied it; -1 if some
        server's term moved past `start_term` (> -1) meanwhile."""
        pause = 0.01
        for _ in range(30):
            nd, _ = self.n_committed(index)
            if nd >= n:
                break
            time.sleep(pause)
            pause = min(pause * 2, 1.0)
            if start_term > -1:
                for st in self._map(self.get_state, self._live()):
                    if st is not None and st[0] > start_term:
                        return -1
        nd, cmd = self.n_committed(index)
        assert nd >= n, f"only {nd} decided for index {index}; wanted {n}"
        return cmd

    # -- figures -------------------------------------------------------------------------

    def counters(self) -> list[dict[str, int]]:
        return [c for c in self._map(lambda i: self._call(i, "Raft.counters", None),
                                     self._live()) if c]  # fmt: skip

    def rpc_total(self) -> int:
        """Raft requests received by the nodes from each other (labrpc's per-server counts)."""
        return sum(c["raft_requests_received"] for c in self.counters())

    def bytes_total(self) -> int:
        """Bytes of raft messages (requests and replies) received from peers, crashed
        incarnations included (labrpc's GetTotalBytes)."""
        live = sum(c["raft_bytes_received"] for c in self.counters())
        return live + self._retired["raft_bytes_received"]

    def log_size(self) -> int:
        """6.824 LogSize: the largest raft state on disk (log + hard state) of any server."""
        sizes = []
        for i in range(self.n):
            reply = self._call(i, "Raft.sizes", None) if self.alive[i] else None
            if reply is None:  # a crashed server: its files
                node_dir = self.directory / f"node-{i + 1}"
                reply = (_wal_data_bytes(node_dir / WAL) + _size(node_dir / HARDSTATE), 0)
            sizes.append(reply[0])
        return max(sizes)


def _wal_data_bytes(path: Path) -> int:
    """The bytes of a log's records: not the space allocated after them (zeros)."""
    try:
        return wal.scan(path.read_bytes(), path.name)[1]
    except FileNotFoundError:
        return 0


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
