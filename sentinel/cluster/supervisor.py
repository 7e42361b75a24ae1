"""The supervisor: the router, one process per node, their states, and the actions on them.

It starts every process from the main thread (see `jobs`), knows every pid it started and
signals only those (netsim's ProcessGroup). A sampler thread asks the router for its report a
few times a second and builds the next ClusterView; the dashboard and `status` read the
latest one. Actions (kill, pause, resume, restart, partition, heal, network preset) are
methods that raise `ActionError` with a clear message when they do not apply; nothing changes
then.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from sentinel.cluster import members, redisproc
from sentinel.cluster.apps import default_app
from sentinel.cluster.jobs import MainThreadJobs
from sentinel.cluster.settings import (
    TICK_MS,
    Identity,
    RunOptions,
    last_line,
    node_log_path,
    preset_name,
)
from sentinel.cluster.views import ProcessInfo, ViewBuilder
from sentinel.dashboard import ClusterView, EventKind, EventLog, NodeView, ProcessState
from sentinel.host.node import NodeSpec, node_name, spawn_node
from sentinel.host.recovery import lost_disk
from sentinel.netsim.control import RouterHandle
from sentinel.netsim.faults import FaultConfig
from sentinel.netsim.procs import ProcessGroup
from sentinel.redis.session import Options as RedisOptions

log = logging.getLogger(__name__)

SAMPLE_INTERVAL_S = 0.2
NODE_EXIT_WAIT_S = 3.0
#: How often `wait_started` looks at a restarted node.
STARTED_POLL_S = 0.1
EXIT_LINE_CHARS_MAX = 300


class ActionError(RuntimeError):
    """An action that does not apply (wrong node, wrong state); nothing was changed."""


class Supervisor:
    """One running cluster (see the module docstring). Create, `start`, then `shutdown`."""

    def __init__(
        self,
        directory: Path,
        identity: Identity,
        options: RunOptions,
        start_method: str = "spawn",
    ) -> None:
        """`start_method` ("spawn" or "forkserver") starts the router and the nodes; a fork
        server with the node modules preloaded (`multiprocessing.set_forkserver_preload`)
        restarts a node without importing them again."""
        if start_method not in ("spawn", "forkserver"):
            raise ValueError(f"start_method must be spawn or forkserver, not {start_method!r}")
        self.directory = directory
        self.identity = identity
        self.options = options
        #: The nodes that founded the cluster, and the members this supervisor runs now
        #: (from the nodes' disks once the membership changed; see members.restore).
        self.founders = identity.node_ids
        restored = members.restore(directory, identity.cluster_id, identity.node_ids)
        self.node_ids = tuple(restored["members"])
        self.group = ProcessGroup(start_method=start_method)
        self.router: RouterHandle | None = None
        self.faults = options.faults
        self.states = dict.fromkeys(self.node_ids, ProcessState.KILLED)
        #: Why a node this supervisor did not stop ended (until it is started again).
        self.exit_reasons: dict[int, str] = {}
        #: The pid each node was last started with (it may have ended since).
        self.started_pids: dict[int, int] = {}
        self.jobs = MainThreadJobs()
        self.events = EventLog()
        self.builder = ViewBuilder(str(directory), self.node_ids, self.events)
        self.rng = random.Random(options.seed)
        self.app = options.app or default_app()
        self.stop_event = threading.Event()
        self._lock = threading.RLock()  # process states and the group's bookkeeping
        self._view: ClusterView | None = None
        self._view_lock = threading.Lock()
        self._sampler: threading.Thread | None = None
        self._logged_seq = 0
        self._redis_keeper = redisproc.Keeper()
        self.members = members.Membership(self, restored)

    # -- life cycle --------------------------------------------------------------------

    def start(self) -> None:
        """Start the router and every node (main thread), then the sampler thread."""
        seed = self.options.seed if self.options.seed is not None else random.randrange(1 << 32)
        self.router = RouterHandle.start(self.directory, self.group, seed=seed)
        self.router.set_faults(self.faults)
        lost = {i: why for i in self.node_ids if (why := self.lost_state(i)) is not None}
        for node_id in self.node_ids:
            if node_id in lost:
                self._not_started(node_id, lost[node_id])
            else:
                self._spawn(node_id)
        self.events.record(
            0.0,
            EventKind.INFO,
            f"cluster up: {len(self.node_ids)} nodes, network {preset_name(self.faults)}",
        )
        for node_id, why in lost.items():
            self.events.record(0.0, EventKind.ERROR, f"node {node_id} not started: {why}")
        with self._lock:  # before the first sample: an exit from here on is an event
            self.builder.as_started = {
                i: ProcessInfo(self.states[i], self.started_pids.get(i), self.exit_reasons.get(i))
                for i in self.node_ids
            }
        self._start_redis()
        log.info("cluster %s up in %s, app %s", self.identity.cluster_id, self.directory, self.app)
        self._sampler = threading.Thread(target=self._sample_loop, name="sampler", daemon=True)
        self._sampler.start()

    def shutdown(self) -> None:
        """Stop every process the cluster started; the data stays on disk."""
        self.stop_event.set()
        if self._sampler is not None:
            self._sampler.join(5.0)
        with self._lock:
            for node_id in self.node_ids:  # a paused node must run to notice the router is gone
                if self.states[node_id] == ProcessState.PAUSED:
                    self.group.resume(node_name(node_id))
            if self.options.redis_port:
                redisproc.stop(self.group)  # before the router: it closes its clients itself
            if self.router is not None:
                self.router.shutdown()  # nodes see their connection close and exit
            deadline = time.monotonic() + NODE_EXIT_WAIT_S
            for node_id in self.node_ids:
                self.group.wait(node_name(node_id), max(0.0, deadline - time.monotonic()))
            self.group.stop_all()  # SIGKILL whatever is left, and reap
        self.members.close()
        log.info("cluster %s down", self.identity.cluster_id)

    def _start_redis(self) -> None:
        """The Redis front door, when `redis_port` asks for one (RedisStartError if it does
        not listen)."""
        opts = self.options
        if not opts.redis_port:
            return
        options = RedisOptions(bind=opts.redis_bind, port=opts.redis_port,
                               password=opts.redis_password)  # fmt: skip
        pid = redisproc.start(self.group, self.directory, options)
        self.events.record(
            0.0, EventKind.INFO, f"redis on {opts.redis_bind}:{opts.redis_port} (pid {pid})"
        )

    def spec(self, node_id: int) -> NodeSpec:
        """The NodeSpec of node `node_id` for this run."""
        maxraftstate = self.options.maxraftstate
        return NodeSpec(
            cluster_dir=str(self.directory),
            node_id=node_id,
            peer_ids=self.founders,
            joining=node_id not in self.founders,
            cluster_id=self.identity.cluster_id,
            app=self.app,
            app_options={"maxraftstate": maxraftstate, "snapshots": maxraftstate > 0},
            tick_ms=TICK_MS,
            heartbeat_ticks=self.options.heartbeat_ticks,
            election_ticks=self.options.election_ticks,
            disk_quota_bytes=self.options.disk_quota_mb * 1024 * 1024,
        )

    def lost_state(self, node_id: int) -> str | None:
        """Why node `node_id` must not start, or None: it lost its disk (see `lost_disk`),
        unless its log tells of a run that failed before it wrote any state (a full disk)."""
        if node_log_path(self.directory, node_id).exists():
            return None  # a node that ran but could not write its meta file never voted
        return lost_disk({i: self.spec(i).directory for i in self.node_ids}, node_id)

    def _not_started(self, node_id: int, why: str) -> None:
        log.error("node %d not started: %s", node_id, why)
        with self._lock:
            self.states[node_id] = ProcessState.EXITED
            self.exit_reasons[node_id] = f"not started: {why}"

    def _spawn(self, node_id: int) -> int:
        assert self.router is not None
        with self._lock:
            self.states[node_id] = ProcessState.RESTARTING
            self.exit_reasons.pop(node_id, None)
            pid = spawn_node(self.spec(node_id), self.router, self.group)
            self.states[node_id] = ProcessState.RUNNING
            self.started_pids[node_id] = pid
            log.info("node %d started, pid %d", node_id, pid)
            return pid

    # -- views -------------------------------------------------------------------------

    def process_info(self) -> dict[int, ProcessInfo]:
        """State and pid of every node, and why a node this supervisor did not stop ended."""
        with self._lock:
            out = {}
            for node_id in self.node_ids:
                name = node_name(node_id)
                state = self.states[node_id]
                if state in (ProcessState.RUNNING, ProcessState.PAUSED) and not (
                    self.group.is_alive(name)
                ):
                    state = self._note_exit(node_id, self.group.exitcode(name))
                out[node_id] = ProcessInfo(
                    state, self.group.pid(name), self.exit_reasons.get(node_id)
                )
            return out

    def _note_exit(self, node_id: int, code: int | None) -> ProcessState:
        """A node ended without being told to: KILLED if a signal did it (someone outside
        this supervisor), else EXITED; either way with the reason, for the events."""
        if code is not None and code < 0:
            state, reason = ProcessState.KILLED, f"by {_signal_name(-code)}, from outside"
        else:
            state, reason = ProcessState.EXITED, f"exit status {code}"
            last = last_line(node_log_path(self.directory, node_id), EXIT_LINE_CHARS_MAX)
            if last:
                reason += f"; its log ends: {last}"
            elif not self.spec(node_id).directory.exists():  # its log went with it
                reason += (
                    f"; its directory {node_name(node_id)} is gone (a lost disk): "
                    f"`replace {node_id}` brings a fresh node in its place"
                )
        log.warning("node %d ended (%s)", node_id, reason)
        self.states[node_id] = state
        self.exit_reasons[node_id] = reason
        return state

    def _sample_loop(self) -> None:
        failing = False
        while not self.stop_event.wait(SAMPLE_INTERVAL_S):
            try:
                self.refresh()
                failing = False
            except Exception:
                if not failing:
                    log.exception("sampling the cluster failed")
                failing = True

    def refresh(self) -> ClusterView:
        """Build a fresh view now (the sampler thread does this 5 times a second)."""
        assert self.router is not None
        report = self.router.report(self.node_ids)  # not every connected client
        self._note_redis_exit()
        with self._view_lock:
            view = self.builder.build(report, self.process_info())
            for event in self.events.since(self._logged_seq):
                log.info("event: %s", event.text)
                self._logged_seq = event.seq
            self._view = view
        return view

    def _note_redis_exit(self) -> None:
        """When the Redis front door ended while the cluster runs: an event, and a fresh
        one on the same port (`redisproc.Keeper`)."""
        if not self.options.redis_port or self.stop_event.is_set():
            return
        with self._lock:
            text = self._redis_keeper.check(self.group)
        if text is not None:
            log.error(text)
            self.events.record(time.monotonic() - self.builder.started, EventKind.ERROR, text)

    def view(self) -> ClusterView:
        """The latest view (a placeholder before the first sample)."""
        with self._view_lock:
            if self._view is not None:
                return self._view
        info = self.process_info()
        nodes = tuple(
            NodeView(i, info[i].state, pid=info[i].pid, exit_reason=info[i].exit_reason)
            for i in self.node_ids
        )
        return ClusterView(
            nodes=nodes,
            preset=preset_name(self.faults),
            cluster_dir=str(self.directory),
            events=self.events.recent(),
        )

    def dashboard_view(self) -> ClusterView:
        """For the dashboard loop (main thread): run queued actions, then the latest view."""
        self.jobs.run_pending()
        self.members.reap()
        return self.view()

    # -- actions (main thread) ---------------------------------------------------------

    def check_node(self, node_id: object) -> int:
        """`node_id` as a valid node number, or ActionError."""
        if isinstance(node_id, bool) or not isinstance(node_id, int):
            raise ActionError(f"node must be a number, not {node_id!r}")
        if node_id not in self.node_ids:
            if node_id <= self.members.id_max:
                raise ActionError(f"node {node_id} is no longer a member: it is not started")
            raise ActionError(f"no node {node_id}: nodes are {_id_list(self.node_ids)}")
        return node_id

    def start_member(self, node_id: int) -> int:
        """Start a new member's process on a fresh directory (main thread; members.py)."""
        with self._lock:
            self.node_ids = tuple(sorted({*self.node_ids, node_id}))
            self.builder.node_ids = self.node_ids
        pid = self._spawn(node_id)
        self.members.record()
        return pid

    def forget_member(self, node_id: int, kill_now: bool = False) -> None:
        """Stop running a removed member: it stops by itself, or is killed (main thread);
        `kill_now`: at once (a node whose add was refused)."""
        with self._lock:
            self.node_ids = tuple(i for i in self.node_ids if i != node_id)
            self.builder.node_ids = self.node_ids
            self.states.pop(node_id, None)
            self.members.retiring[node_id] = time.monotonic() + members.REMOVED_EXIT_S
            if kill_now:
                self.group.kill(node_name(node_id))

    def kill(self, node_id: int) -> str:
        """SIGKILL node `node_id` (its disk stays)."""
        node_id = self.check_node(node_id)
        with self._lock:
            if self.states[node_id] == ProcessState.KILLED:
                raise ActionError(f"node {node_id} is already killed")
            if self.states[node_id] == ProcessState.EXITED:
                raise ActionError(f"node {node_id} already exited by itself: restart it")
            pid = self.group.pid(node_name(node_id))
            self.group.kill(node_name(node_id))
            self.states[node_id] = ProcessState.KILLED
        log.info("node %d killed (pid %s)", node_id, pid)
        return f"node {node_id} killed (pid {pid})"

    def pause(self, node_id: int) -> str:
        """SIGSTOP node `node_id`."""
        node_id = self.check_node(node_id)
        with self._lock:
            if self.states[node_id] != ProcessState.RUNNING:
                raise ActionError(f"node {node_id} is {self.states[node_id]}, not running")
            self.group.pause(node_name(node_id))
            self.states[node_id] = ProcessState.PAUSED
        log.info("node %d paused", node_id)
        return f"node {node_id} paused"

    def resume(self, node_id: int) -> str:
        """SIGCONT node `node_id`."""
        node_id = self.check_node(node_id)
        with self._lock:
            if self.states[node_id] != ProcessState.PAUSED:
                raise ActionError(f"node {node_id} is {self.states[node_id]}, not paused")
            self.group.resume(node_name(node_id))
            self.states[node_id] = ProcessState.RUNNING
        log.info("node %d resumed", node_id)
        return f"node {node_id} resumed"

    def restart(self, node_id: int) -> str:
        """Kill node `node_id` if it runs, then start a fresh process on its directory."""
        node_id = self.check_node(node_id)
        why = self.lost_state(node_id)
        if why is not None:
            raise ActionError(f"node {node_id} not restarted: {why}")
        pid = self._spawn(node_id)
        return f"node {node_id} restarted (pid {pid})"

    def partition(self, groups: Sequence[Iterable[int]]) -> str:
        """Cut the network into `groups`; nodes named in no group form one more group."""
        clean = [[self.check_node(i) for i in g] for g in groups]
        if not clean or any(not g for g in clean):
            raise ActionError("a partition needs non-empty groups of node numbers")
        named = [i for g in clean for i in g]
        if len(named) != len(set(named)):
            raise ActionError("a node appears in two groups")
        rest = [i for i in self.node_ids if i not in set(named)]
        if rest:
            clean.append(rest)
        if len(clean) < 2:
            raise ActionError("a partition needs at least two groups")
        assert self.router is not None
        self.router.partition(clean)
        text = " | ".join(",".join(map(str, g)) for g in clean)
        log.info("partition %s", text)
        return f"partitioned {text}"

    def heal(self) -> str:
        """Remove every partition."""
        assert self.router is not None
        self.router.heal()
        log.info("healed")
        return "network healed"

    def set_net(self, config: FaultConfig) -> str:
        """Switch the fault preset."""
        assert self.router is not None
        self.router.set_faults(config)
        self.faults = config
        log.info("network %s", preset_name(config))
        return f"network {preset_name(config)}"

    def toggle_unreliable(self) -> str:
        """Flip reliable/unreliable, keeping the other flags."""
        return self.set_net(self.faults.with_(reliable=not self.faults.reliable))

    def isolate_leader(self) -> str:
        """Put the current leader alone on one side of a partition."""
        leader = self.view().leader
        if leader is None:
            raise ActionError("no leader to isolate")
        if len(self.node_ids) < 2:
            raise ActionError("a single node cannot be isolated")
        return self.partition([[leader]])

    def partition_random(self) -> str:
        """A random split: a minority of at least one node against the rest."""
        n = len(self.node_ids)
        if n < 2:
            raise ActionError("a single node cannot be partitioned")
        ids = list(self.node_ids)
        self.rng.shuffle(ids)
        minority = self.rng.randint(1, max(1, (n - 1) // 2))
        return self.partition([sorted(ids[:minority]), sorted(ids[minority:])])

    def down(self) -> str:
        """Ask the main loop to stop the cluster."""
        self.stop_event.set()
        return "cluster stopping"


def _id_list(ids: Sequence[int]) -> str:
    if tuple(ids) == tuple(range(1, len(ids) + 1)):
        return f"1-{len(ids)}"
    return ", ".join(map(str, ids))


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
