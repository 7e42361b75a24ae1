"""Crash-recovery benchmark: a real cluster of processes under steady client load, with
faults injected round after round by real signals and the router.

    python benchmarks/crash_recovery.py                       # every scenario, 5 nodes
    python benchmarks/crash_recovery.py --scenarios kill-leader,pause-leader --rounds 5
    python benchmarks/crash_recovery.py --json                # the summary as one JSON object

Per round it measures the time to a new leader, the longest client-visible gap between
successful operations, the restarted node's catch-up time (log replay or snapshot install)
and, for kill-all, the cold-restart time to the first committed write. After every round it
reads back every acknowledged write and checks the round's history with `sentinel.lin`; a
lost write or a non-linearizable history stops the run and keeps the evidence (history, HTML
picture, node logs) in the output directory. See `--help` for the options.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the crash/ helpers

from crash.cluster import BenchCluster
from crash.evidence import check_round, keep_evidence
from crash.load import Load, verify_writes
from crash.preload import preload
from crash.report import (
    latency_p99_ms,
    longest_gap,
    longest_gap_ms,
    percentile,
    plot,
    summarize,
    table,
    targets,
)
from crash.scenarios import SCENARIOS, Ctx, Knobs

log = logging.getLogger("crash_recovery")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nodes", type=int, default=5, help="cluster size (default 5)")
    p.add_argument("--rounds", type=int, default=3, help="rounds per scenario (default 3)")
    p.add_argument("--clients", type=int, default=8, help="client threads (default 8)")
    p.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated, from: {', '.join(SCENARIOS)}",
    )
    p.add_argument("--seed", type=int, default=None, help="seed (default: random, printed)")
    p.add_argument(
        "--output",
        type=Path,
        default=None,
        help="output directory (default: a new one under the temp dir)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument(
        "--snapshot-mb",
        type=float,
        default=10.0,
        help="data loaded before the rounds, in MB (snapshot size; default 10)",
    )
    p.add_argument(
        "--cold-keys",
        type=int,
        default=100_000,
        help="small keys loaded before the rounds (cold restart; default 100000)",
    )
    p.add_argument(
        "--maxraftstate",
        type=int,
        default=2 * 1024 * 1024,
        help="raft state bytes that trigger a snapshot (default 2 MiB)",
    )
    p.add_argument("--baseline-s", type=float, default=3.0, help="fault-free load first")
    p.add_argument("--down-s", type=float, default=1.0, help="a killed node stays down")
    p.add_argument("--hold-s", type=float, default=1.5, help="kill-majority/isolate outage")
    p.add_argument("--pause-s", type=float, default=1.5, help="SIGSTOP length")
    p.add_argument("--op-timeout-s", type=float, default=3.0, help="client call deadline")
    p.add_argument("--lin-timeout-s", type=float, default=30.0, help="checker time per round")
    p.add_argument(
        "--start-method",
        choices=("forkserver", "spawn"),
        default="forkserver",
        help="how node processes start (forkserver: warm, as in the tests)",
    )
    args = p.parse_args(argv)
    args.scenario_list = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    bad = [s for s in args.scenario_list if s not in SCENARIOS]
    if bad or not args.scenario_list:
        p.error(f"unknown scenario(s) {bad}; choose from {', '.join(SCENARIOS)}")
    if args.nodes < 3 or args.rounds < 1 or args.clients < 1:
        p.error("--nodes must be at least 3, --rounds and --clients at least 1")
    return args


def _sigterm(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # the same clean-up path as Ctrl-C


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    args = parse_args(argv)
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(3), "little")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = args.output or Path(tempfile.gettempdir()) / "sentinel-crash-recovery" / stamp
    out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=out / "crash_recovery.log",
        level=logging.INFO,
        format="%(asctime)s %(threadName)s %(name)s %(message)s",
    )
    console = Console(stderr=True)
    console.width = max(console.width, 132)  # the table is unreadable at 80 columns
    console.print(f"crash recovery: seed {seed}, output {out}, load avg {_load()}")
    signal.signal(signal.SIGTERM, _sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    cluster = BenchCluster(out / "cluster", args.nodes, args.maxraftstate, seed, args.start_method)
    result: dict = {
        "config": {
            **{k: v for k, v in vars(args).items() if k != "output"},
            "seed": seed,
            "output": str(out),
        },
        "load_avg_start": _load(),
        "rounds": [],
        "violation": None,
    }
    code = 0
    load: Load | None = None
    t_zero = time.monotonic()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            total = len(args.scenario_list) * args.rounds
            task = progress.add_task("starting cluster", total=total)

            def phase(text: str) -> None:
                progress.update(task, description=text)

            cluster.start(args.clients)
            cluster.wait_leader(30.0)
            assert cluster.client is not None
            result["data"] = preload(cluster.client, args.snapshot_mb, args.cold_keys, phase)
            load = Load(cluster.client, args.clients, seed, args.op_timeout_s)
            t_zero = time.monotonic()  # the timeline starts with the load, after the data
            result["baseline"] = _baseline(cluster, load, args, phase)
            code = _rounds(cluster, load, args, seed, result, progress, task, phase, out)
    except KeyboardInterrupt:
        console.print("interrupted: stopping every process")
        result["violation"] = result["violation"] or "interrupted"
        code = 130
    except Exception as exc:
        log.exception("run failed")
        console.print(f"[red]run failed: {exc!r}[/red] (evidence kept in {out})")
        result["violation"] = result["violation"] or f"error: {exc!r}"
        code = 1
    finally:
        if load is not None:
            load.stop_round_quietly()
        cluster.stop()
    if code == 0:
        cluster.remove_data()  # nothing to keep: the figures are in the JSON file
    else:
        keep_evidence(out, cluster.directory)
    return _finish(args, result, load, t_zero, out, console, code)


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _baseline(cluster: BenchCluster, load: Load, args: argparse.Namespace, phase) -> dict:
    """Fault-free load: throughput, latency, the longest gap (for the kill-follower target)."""
    phase("baseline (no faults)")
    gc.collect()  # as before every round (see _rounds)
    gc.freeze()
    rnd = load.start_round(0)
    t0 = time.monotonic()
    time.sleep(args.baseline_s)
    t1 = time.monotonic()
    load.stop_round()
    lat = [s.latency_s * 1000 for s in load.samples if s.ok and t0 <= s.t_end <= t1]
    assert cluster.client is not None
    check = verify_writes(cluster.client, rnd, args.clients)
    return {
        "ops_per_s": round(len(lat) / (t1 - t0), 1),
        "p50_ms": round(percentile(lat, 50) or 0, 2),
        "p99_ms": latency_p99_ms(load.samples, t0, t1),
        "longest_gap_ms": longest_gap_ms(load.samples, t0, t1),
        "lost_writes": check.lost,
        "load_avg": _load(),
    }


def _rounds(cluster, load, args, seed, result, progress, task, phase, out) -> int:
    import random

    rng = random.Random(seed)
    knobs = Knobs(args.down_s, args.hold_s, args.pause_s)
    round_id = 0
    for name in args.scenario_list:
        for r in range(args.rounds):
            round_id += 1
            phase(f"{name} #{r + 1}: load")
            # This process keeps every sample and history of the run: without this, a full
            # collection of them stops all client threads mid-round for tens of ms and is
            # measured as the cluster's unavailability.
            gc.collect()
            gc.freeze()
            rnd = load.start_round(round_id)
            time.sleep(0.5)  # steady load before the fault
            ctx = Ctx(
                cluster, load, rnd, rng, knobs, lambda t, n=name, r=r: phase(f"{n} #{r + 1}: {t}")
            )
            try:
                m = SCENARIOS[name](ctx)
                time.sleep(knobs.settle_s)
            finally:
                t_end = time.monotonic()
                load.stop_round()
            m.update(scenario=name, round=round_id, load_avg=_load())
            gap = longest_gap(load.samples, m["t_fault"], t_end)
            m["unavailable_ms"], m["unavailable_from_fault_ms"] = gap
            base = result["baseline"].get("p99_ms")
            m["gap_over_base_p99"] = round(m["unavailable_ms"] / base, 2) if base else None
            phase(f"{name} #{r + 1}: checking")
            verdict = check_round(cluster, rnd, args.clients, args.lin_timeout_s, m, out)
            result["rounds"].append(m)
            progress.advance(task)
            if verdict is not None:
                result["violation"] = verdict
                return 1
    return 0


def _finish(args, result, load, t_zero, out, console, code) -> int:
    for m in result["rounds"]:
        for k in ("t_fault", "t_restart"):
            if k in m:
                m[k] = round(m[k] - t_zero, 3)
    summary = {
        "scenarios": summarize(result["rounds"]),
        "baseline": result.get("baseline"),
        "violation": result["violation"],
        "load_avg_end": _load(),
        "output": str(out),
    }
    summary["targets"] = targets(summary["scenarios"], result.get("baseline") or {})
    result["summary"] = summary
    if load is not None:
        rounds = [
            {
                **m,
                "t_fault": m["t_fault"] + t_zero,
                "t_restart": m.get("t_restart", m["t_fault"]) + t_zero,
            }
            for m in result["rounds"]
            if "t_fault" in m
        ]
        summary["picture"] = plot(load.samples, rounds, t_zero, out / "crash_recovery.png")
    (out / "crash_recovery.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    if args.json:
        print(json.dumps(summary, default=str))
    else:
        console.print(table(summary["scenarios"], result.get("baseline") or {}))
        for name, t in summary["targets"].items():
            mark = "[green]met[/green]" if t["met"] else "[red]MISSED[/red]"
            console.print(f"target {name}: {t['value']} (limit {t['limit']}) {mark}")
    console.print(f"{summary.get('picture', '')}\nmeasurements: {out / 'crash_recovery.json'}")
    if result["violation"]:
        console.print(f"[red]stopped: {result['violation']}[/red]; evidence in {out}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
