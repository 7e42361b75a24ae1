"""sentinel.sim: the deterministic simulator. Whole clusters of the raft core on a virtual
clock, the seeded in-process network, a crashable disk per node, seeded fault schedules,
and raft's safety invariants checked after every step. One seed = one reproducible run.

    from sentinel.sim import SimOptions, run_seed, sweep
    result = run_seed(42)                      # RunResult; result.failure is None when safe
    summary = sweep(range(100), SimOptions(nodes=5, sim_seconds=10))

Command line: `python -m sentinel.sim --seeds 200 --nodes 5` (a sweep), or
`python -m sentinel.sim --seed 17 --verbose` (replay one seed with its whole trace).

Key/value runs: `SimOptions(workload="kv")` (or `--workload kv`) runs the production kv
server (`KVServerApp`, through kvserve.py) on every node, with `KVWorkload` clients that are
the production client state machine (`kvraft.attempts.Operation`) calling the servers' RPCs
over the virtual network; gets are served by ReadIndex and leases (counted in the summary
line), and the history is checked with `sentinel.lin`. The raft workload runs the 6.824
recorder (`sentinel.host.recorder`). Any other `raft.app.Application` plugs in with
`SimOptions(app_factory=...)`: the node driver runs it as in a node process, with a
`SimContext` as its node; clients are `Timer`s (next_us/fire) that propose through a leader
and `ApplyListener`s that hear of each applied entry in on_apply.

Sharded stores: `shards.ShardSim(seed).run()` (or `--workload shards`) runs a controller
group and shard groups, each a `SimCluster` of real raft nodes with its own fault schedule,
running the production controller and group servers, with joins and leaves among the
faults (shards.py).
"""

from sentinel.sim.cluster import NEVER, TICK_US, ApplyListener, SimCluster, Timer
from sentinel.sim.disk import DiskCrash, SimDisk
from sentinel.sim.invariants import (
    DurableLog,
    InvariantChecker,
    InvariantViolation,
    check_log_matching,
)
from sentinel.sim.kv import KVWorkload
from sentinel.sim.node import SimNode
from sentinel.sim.runner import (
    RunResult,
    SimOptions,
    SimulationFailure,
    SweepSummary,
    build,
    check_seed,
    run_seed,
    seed_raft_config,
    sweep,
)
from sentinel.sim.schedule import PROFILES, Action, Schedule, generate, heal_all
from sentinel.sim.trace import Trace, format_event
from sentinel.sim.workload import LivenessProbe, ProposalWorkload

__all__ = [
    "NEVER",
    "PROFILES",
    "TICK_US",
    "Action",
    "ApplyListener",
    "DiskCrash",
    "DurableLog",
    "InvariantChecker",
    "InvariantViolation",
    "KVWorkload",
    "LivenessProbe",
    "ProposalWorkload",
    "RunResult",
    "Schedule",
    "SimCluster",
    "SimDisk",
    "SimNode",
    "SimOptions",
    "SimulationFailure",
    "SweepSummary",
    "Timer",
    "Trace",
    "build",
    "check_log_matching",
    "check_seed",
    "format_event",
    "generate",
    "heal_all",
    "run_seed",
    "seed_raft_config",
    "sweep",
]
