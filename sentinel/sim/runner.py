"""Run one seed (or a sweep of seeds): cluster + schedule + workload + invariants.

`run_seed` never raises for a violation: it returns a `RunResult` whose `failure` carries
the seed, what broke and the tail of the trace. `check_seed` raises it instead.
"""

from __future__ import annotations

import random
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sentinel.host.recorder import Recorder
from sentinel.kvraft import Get, encode_command
from sentinel.kvraft.server import KVServerApp
from sentinel.raft import Application, InvariantError, StorageError
from sentinel.sim import kvserve
from sentinel.sim.cluster import SimCluster
from sentinel.sim.invariants import InvariantViolation
from sentinel.sim.kv import KVWorkload
from sentinel.sim.schedule import generate
from sentinel.sim.trace import Trace
from sentinel.sim.workload import LivenessProbe, ProposalWorkload

US_PER_S = 1_000_000


@dataclass(frozen=True)
class SimOptions:
    """How one run goes. `raft_config=None` lets each seed pick flow-control limits."""

    nodes: int = 5
    sim_seconds: float = 10.0
    profile: str = "mixed"
    liveness_seconds: float = 3.0
    #: The kv server compacts once the raft state on disk reaches this many bytes (the
    #: recorder of the raft workload compacts every 10 commands).
    maxraftstate: int = 2000
    proposal_gap_ms_max: int = 100
    raft_config: dict[str, Any] | None = None
    #: None: the 6.824 recorder for the raft workload, the kv server for the kv one.
    app_factory: Callable[[], Application] | None = None
    #: "raft": proposals acknowledged when applied; "kv": key/value clients checked by lin.
    workload: str = "raft"
    kv_clients: int = 3
    #: The kv servers' session table size; None lets each seed pick (seed_sessions_max).
    sessions_max: int | None = None
    keep_trace: bool = False
    ring_events: int = 200


class SimulationFailure(AssertionError):
    """A seed broke an invariant (or the core broke its own); replay it with `--seed`."""

    def __init__(self, seed: int, what: str, trace_tail: list[str], options: SimOptions) -> None:
        self.seed = seed
        self.what = what
        self.trace_tail = trace_tail
        self.options = options
        tail = "\n".join(trace_tail[-40:])
        super().__init__(
            f"seed {seed}: {what}\nreplay: python -m sentinel.sim --seed {seed} "
            f"--nodes {options.nodes} --sim-seconds {options.sim_seconds:g} "
            f"--profile {options.profile} --workload {options.workload}"
            f"{_sessions_flag(options)}\nlast events:\n{tail}"
        )


def _sessions_flag(options: SimOptions) -> str:
    """The replay command's --sessions-max, when the run did not let the seed pick."""
    return f" --sessions-max {options.sessions_max}" if options.sessions_max else ""


@dataclass
class RunResult:
    """What one seed did."""

    seed: int
    failure: SimulationFailure | None
    digest: str
    sim_seconds: float
    wall_seconds: float
    counts: dict[str, int]
    commits: int
    acked: int
    trace: Trace = field(repr=False)

    @property
    def ok(self) -> bool:
        """Whether every invariant held."""
        return self.failure is None


#: Snapshot chunk sizes a seed may pick: small ones split the simulator's snapshots (a few
#: hundred bytes to a few KiB) into many chunks, the node processes' default does not.
SNAPSHOT_CHUNK_BYTES_CHOICES = (32, 256, 1024 * 1024)


def seed_raft_config(seed: int, profile: str = "mixed") -> dict[str, Any]:
    """Flow-control limits picked per seed: tiny batches make partial replication (and so
    Figure 8 situations) common, big ones exercise the fast paths. The figure8 profile
    always replicates one entry per round trip. Lazy followers (what node processes run)
    on two seeds in three (figure8: one in two). Snapshots in many chunks on two seeds in
    three (figure8: whole)."""
    rng = random.Random(f"{seed}/config")
    if profile == "figure8":  # (whole snapshots: the profile is tuned to the commit rules)
        return {"max_msg_entries": 1, "max_inflight_msgs": 1, "lazy_followers": rng.random() < 0.5}
    config: dict[str, Any] = {
        "max_msg_entries": rng.choice([1, 1, 2, 3, 64, 4096]),
        "max_inflight_msgs": rng.choice([1, 2, 4, 64]),
        "lazy_followers": rng.random() < 2 / 3,
    }
    config["max_snapshot_chunk_bytes"] = rng.choice(SNAPSHOT_CHUNK_BYTES_CHOICES)
    return config


#: The session table sizes a kv seed may pick: one seed in three keeps fewer sessions than
#: its clients open, so that sessions expire under their clients (who register again).
SMALL_SESSIONS_MAX = (2, 3, 4)


def seed_sessions_max(seed: int) -> int | None:
    """The kv servers' `sessions_max` for a seed: small on one seed in three, else None
    (the server's default)."""
    rng = random.Random(f"{seed}/sessions")
    return rng.choice(SMALL_SESSIONS_MAX) if rng.random() < 1 / 3 else None


def build(seed: int, options: SimOptions) -> tuple[SimCluster, list[Any], Any]:
    """The cluster and its timers (schedule, workload, liveness probe) for one seed."""
    duration_us = int(options.sim_seconds * US_PER_S)
    live_us = min(int(options.liveness_seconds * US_PER_S), duration_us // 2)
    heal_us = duration_us - live_us
    raft_config = options.raft_config
    if raft_config is None:
        raft_config = seed_raft_config(seed, options.profile)
    if options.workload not in ("raft", "kv"):
        raise ValueError(f"unknown workload {options.workload!r}: raft or kv")
    kv = options.workload == "kv"
    app_factory = options.app_factory or (KVServerApp if kv else Recorder)
    app_options: dict[str, object] = {
        "snapshots": True,  # the recorder's
        "maxraftstate": options.maxraftstate,  # the kv server's
        "reply_timeout_ms": kvserve.REPLY_TIMEOUT_MS,
    }
    if kv:  # the kv server reads through ReadIndex, leased as a node process does
        raft_config = {**raft_config, "lease_reads": True}
        sessions_max = options.sessions_max or seed_sessions_max(seed)
        if sessions_max is not None:
            app_options["sessions_max"] = sessions_max
    trace = Trace(options.ring_events, keep_all=options.keep_trace)
    cluster = SimCluster(
        seed,
        options.nodes,
        app_factory=app_factory,
        raft_config=raft_config,
        trace=trace,
        app_options=app_options,
    )
    schedule = generate(seed, options.nodes, duration_us, heal_us, options.profile)
    gap_ms_max = options.proposal_gap_ms_max
    if options.profile == "figure8":
        gap_ms_max = min(gap_ms_max, 10)  # leaders live ~10 ms: propose to each of them
    workload_rng = random.Random(f"{seed}/workload")
    workload: ProposalWorkload | KVWorkload
    if kv:
        workload = KVWorkload(workload_rng, options.kv_clients, stop_us=duration_us)
    else:
        workload = ProposalWorkload(workload_rng, gap_ms_max, stop_us=duration_us)
    cluster.listeners.append(workload)
    probe = LivenessProbe(heal_us, live_us - 10_000)
    if kv:
        probe.data = encode_command(Get("liveness"))
    return cluster, [schedule, workload, probe], workload


def run_seed(seed: int, options: SimOptions | None = None) -> RunResult:
    """Run one seed to the end (or to the first violation)."""
    options = options or SimOptions()
    started = time.perf_counter()
    cluster, timers, workload = build(seed, options)
    failure = None
    try:
        cluster.run_until(int(options.sim_seconds * US_PER_S), timers)
        cluster.check_cluster()
        workload.check(cluster)
    except InvariantViolation as exc:
        failure = SimulationFailure(seed, str(exc), cluster.trace.tail(), options)
    except InvariantError as exc:
        what = f"the raft core's own invariant: {exc}"
        failure = SimulationFailure(seed, what, cluster.trace.tail(), options)
    except StorageError as exc:
        what = f"a node cannot recover from its disk: {type(exc).__name__}: {exc}"
        failure = SimulationFailure(seed, what, cluster.trace.tail(), options)
    except Exception as exc:  # a crash anywhere is a finding too: keep its seed and trace
        where = "".join(traceback.format_exception(exc)[-6:])
        what = f"unexpected {type(exc).__name__}: {exc}\n{where}"
        failure = SimulationFailure(seed, what, cluster.trace.tail(), options)
    wall = time.perf_counter() - started
    counts = dict(cluster.counts)
    if isinstance(workload, KVWorkload):
        counts.update(kv_batches=workload.batches, sessions_expired=workload.sessions_expired)
    return RunResult(
        seed=seed,
        failure=failure,
        digest=cluster.trace.digest(),
        sim_seconds=cluster.now_us / US_PER_S,
        wall_seconds=wall,
        counts=counts,
        commits=cluster.checker.commit_max,
        acked=workload.acked,
        trace=cluster.trace,
    )


def check_seed(seed: int, options: SimOptions | None = None) -> RunResult:
    """Run one seed; raise its SimulationFailure if it broke an invariant."""
    result = run_seed(seed, options)
    if result.failure is not None:
        raise result.failure
    return result


@dataclass
class SweepSummary:
    """Totals over a sweep of seeds."""

    runs: int = 0
    failures: list[SimulationFailure] = field(default_factory=list)
    elections: int = 0
    commits: int = 0
    acked: int = 0
    crashes: int = 0
    #: Snapshots received by followers from a leader (InstallSnapshot).
    installs: int = 0
    #: Ready batches a full disk held back (the disks profile).
    disk_stalls: int = 0
    #: Gets the kv servers served from a ReadIndex heartbeat round, and from a lease.
    gets_readindex: int = 0
    gets_lease: int = 0
    #: Batch requests the kv clients sent, and sessions that expired under their clients.
    kv_batches: int = 0
    sessions_expired: int = 0
    sim_seconds: float = 0.0
    wall_seconds: float = 0.0

    @property
    def violations(self) -> int:
        """How many seeds broke an invariant."""
        return len(self.failures)

    @property
    def speed(self) -> float:
        """Simulated seconds per wall second."""
        return self.sim_seconds / self.wall_seconds if self.wall_seconds else 0.0

    def add(self, result: RunResult) -> None:
        """Fold one run in."""
        self.runs += 1
        if result.failure is not None:
            self.failures.append(result.failure)
        self.elections += result.counts["elections"]
        self.commits += result.commits
        self.acked += result.acked
        self.crashes += result.counts["crashes"]
        self.installs += result.counts["snapshots_installed"]
        self.disk_stalls += result.counts["disk_full_stalls"]
        self.gets_readindex += result.counts["reads_index"]
        self.gets_lease += result.counts["reads_lease"]
        self.kv_batches += result.counts.get("kv_batches", 0)
        self.sessions_expired += result.counts.get("sessions_expired", 0)
        self.sim_seconds += result.sim_seconds
        self.wall_seconds += result.wall_seconds

    def line(self) -> str:
        """One summary line."""
        return (
            f"runs={self.runs} violations={self.violations} elections={self.elections} "
            f"commits={self.commits} acked={self.acked} crashes={self.crashes} "
            f"installs={self.installs} disk_stalls={self.disk_stalls} "
            f"gets_readindex={self.gets_readindex} gets_lease={self.gets_lease} "
            f"kv_batches={self.kv_batches} sessions_expired={self.sessions_expired} "
            f"simulated={self.sim_seconds:.1f}s wall={self.wall_seconds:.1f}s "
            f"speed={self.speed:.1f} sim-s/wall-s"
        )


def sweep(seeds: Iterable[int], options: SimOptions | None = None) -> SweepSummary:
    """Run many seeds; collect every failure."""
    summary = SweepSummary()
    for seed in seeds:
        summary.add(run_seed(seed, options))
    return summary
