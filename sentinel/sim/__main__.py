"""Command line: `python -m sentinel.sim --seeds N --nodes K [--first-seed F] [--sim-seconds S]`
runs seeds F..F+N-1 and prints a summary; `--seed S` replays one seed (the trace tail on
failure, the whole trace with `--verbose`). `--workload shards` runs the sharded simulation
(shards.py: a controller group and three shard groups of three nodes, with joins and
leaves; --nodes and --sim-seconds do not apply). Exit status 1 on any violation."""

from __future__ import annotations

import argparse
import logging
import sys

from sentinel.sim.runner import RunResult, SimOptions, SweepSummary, run_seed
from sentinel.sim.schedule import PROFILES
from sentinel.sim.shards import SHARD_PROFILES, ShardSim, ShardSimFailure


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m sentinel.sim", description=__doc__)
    p.add_argument("--seeds", type=int, default=20, help="how many seeds to sweep")
    p.add_argument("--first-seed", type=int, default=0, help="the first seed of the sweep")
    p.add_argument("--seed", type=int, default=None, help="replay this one seed")
    p.add_argument("--nodes", type=int, default=5, help="cluster size")
    p.add_argument("--sim-seconds", type=float, default=10.0, help="virtual seconds per run")
    p.add_argument("--profile", choices=PROFILES, default="mixed", help="fault schedule kind")
    p.add_argument(
        "--workload",
        choices=("raft", "kv", "shards"),
        default="raft",
        help="raft proposals, key/value clients whose history is checked by sentinel.lin, "
        "or a sharded store (a controller and shard groups) with joins and leaves",
    )
    p.add_argument(
        "--sessions-max",
        type=int,
        default=None,
        help="the kv servers' session table size (default: each seed picks)",
    )
    p.add_argument("--verbose", action="store_true", help="print every event (with --seed)")
    args = p.parse_args(argv)
    if args.seeds < 1 or not 1 <= args.nodes <= 99 or args.sim_seconds <= 0:
        p.error("need --seeds >= 1, 1 <= --nodes <= 99 and --sim-seconds > 0")
    if args.sessions_max is not None and args.sessions_max < 1:
        p.error("need --sessions-max >= 1")
    return args


def replay(seed: int, options: SimOptions, verbose: bool) -> int:
    """Run one seed and print what happened."""
    result = run_seed(seed, options)
    if verbose:
        for line in result.trace.lines():
            print(line)
    print(_describe(result))
    if result.failure is not None:
        print(str(result.failure))
        return 1
    return 0


def _describe(result: RunResult) -> str:
    c = result.counts
    status = "ok" if result.ok else "VIOLATION"
    return (
        f"seed {result.seed}: {status} digest={result.digest} "
        f"simulated={result.sim_seconds:g}s elections={c['elections']} "
        f"commits={result.commits} acked={result.acked} crashes={c['crashes']} "
        f"disk_crashes={c['disk_crashes']} pauses={c['pauses']} compactions={c['compactions']} "
        f"snapshots_installed={c['snapshots_installed']} delivered={c['delivered']} "
        f"dropped={c['dropped']} gets_readindex={c['reads_index']} "
        f"gets_lease={c['reads_lease']} kv_batches={c.get('kv_batches', 0)} "
        f"sessions_expired={c.get('sessions_expired', 0)}"
    )


def run_shards(seeds: range, profile: str) -> int:
    """Sharded runs of `seeds`: a line per seed; 1 when any broke an invariant."""
    if profile not in SHARD_PROFILES:
        print(f"sharded runs take the profiles {', '.join(SHARD_PROFILES)}")
        return 2
    failing = []
    for seed in seeds:
        try:
            counts = ShardSim(seed, profile=profile).run()
        except ShardSimFailure as exc:
            print(f"seed {seed}: VIOLATION {exc}", flush=True)
            failing.append(seed)
            continue
        print(f"seed {seed}: ok " + " ".join(f"{k}={v}" for k, v in counts.items()), flush=True)
    if failing:
        print("failing seeds: " + " ".join(str(seed) for seed in failing))
    return 1 if failing else 0


def main(argv: list[str] | None = None) -> int:
    """Sweep or replay; 1 when any seed broke an invariant."""
    args = parse_args(argv)
    # Torn tails cut at recovery are expected here, not news; so are full disks (the disks
    # profile schedules them; the trace shows each stall).
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("sentinel.host.stall").setLevel(logging.CRITICAL)
    if args.workload == "shards":
        first = args.seed if args.seed is not None else args.first_seed
        return run_shards(
            range(first, first + (1 if args.seed is not None else args.seeds)), args.profile
        )
    options = SimOptions(
        nodes=args.nodes,
        sim_seconds=args.sim_seconds,
        profile=args.profile,
        workload=args.workload,
        sessions_max=args.sessions_max,
        keep_trace=args.verbose and args.seed is not None,
    )
    if args.seed is not None:
        return replay(args.seed, options, args.verbose)
    summary = SweepSummary()
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        result = run_seed(seed, options)
        summary.add(result)
        if result.failure is not None:
            print(f"seed {seed}: VIOLATION {result.failure.what}", flush=True)
    print(summary.line())
    for failure in summary.failures[:1]:
        print(str(failure))
    if summary.failures:
        seeds = " ".join(str(f.seed) for f in summary.failures)
        print(f"failing seeds: {seeds}")
    return 1 if summary.failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `... --verbose | head`: the reader left; that is fine
        sys.stdout = None  # type: ignore[assignment]
        sys.exit(0)
