"""`python -m sentinel.netsim demo`: the router and three echo nodes under every fault.

Starts the router and echo endpoint processes in a temporary cluster directory, sends RPC
traffic under each fault preset, cuts a partition, kills one node and pauses another, and
prints what was answered, dropped, delayed and unreachable; then stops everything.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sentinel.netsim.client import Network
from sentinel.netsim.procs import install_sigterm_handler
from sentinel.netsim.testing import EchoCluster, start_echo_cluster

CALL_S = 2.5
COUNTER_NAMES = ("dropped_msgs", "delayed_msgs", "unreachable_msgs")


@dataclass(frozen=True)
class Row:
    """One scenario's outcome."""

    scenario: str
    calls: int
    answered: int
    latencies_ms: tuple[float, ...]
    counters: dict[str, int]


def _calls(network: Network, dst: int, method: str, args_of, count: int, threads: int):
    """`count` calls from `threads` threads; [(answer, ms)]."""
    results: list = [None] * count

    def worker(first: int) -> None:
        end = network.end(dst)
        for index in range(first, count, threads):
            start = time.monotonic()
            answer = end.call(method, args_of(index), CALL_S)
            results[index] = (answer, (time.monotonic() - start) * 1000)

    pool = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(60)
    return [item for item in results if item is not None]


def _same(index: int) -> int:
    return index


def _pair(dst: int, index: int) -> tuple[int, int]:
    return (dst, index)


def _scenario(cluster: EchoCluster, network: Network, name: str, run) -> Row:
    before = cluster.router.report().totals
    results = run()
    after = cluster.router.report().totals
    counters = {key: getattr(after, key) - getattr(before, key) for key in COUNTER_NAMES}
    answered = [ms for answer, ms in results if answer is not None and answer != "unreachable"]
    return Row(name, len(results), len(answered), tuple(answered), counters)


def run_demo(console: Console) -> list[Row]:
    """Run every scenario and return the rows (also printed)."""
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="sentinel-demo-") as directory:
        started = time.monotonic()
        cluster = start_echo_cluster(Path(directory), nodes=3, seed=6824)
        try:
            network = cluster.client()
            cluster.wait_ready(network)
            console.print(
                f"router pid {cluster.router.pid}, nodes "
                f"{[cluster.group.pid(f'node{n}') for n in cluster.nodes]}, "
                f"client id {network.endpoint_id}, started in {time.monotonic() - started:.1f} s"
            )

            def scenario(name: str, dst: int, method: str, args_of, count: int, threads: int):
                run = partial(_calls, network, dst, method, args_of, count, threads)
                rows.append(_scenario(cluster, network, name, run))

            for preset, count, threads in (
                ("reliable", 200, 4),
                ("unreliable", 200, 8),
                ("long_reordering", 24, 12),
            ):
                cluster.router.set_faults(preset)
                scenario(preset, 1, "Echo.echo", _same, count, threads)
            cluster.router.set_faults("reliable")
            cluster.router.partition([[1], [2, 3]])
            scenario("cut {1}|{2,3}: relay 2->1", 2, "Echo.relay", partial(_pair, 1), 20, 4)
            scenario("cut {1}|{2,3}: relay 2->3", 2, "Echo.relay", partial(_pair, 3), 20, 4)
            cluster.router.heal()
            scenario("healed: relay 2->1", 2, "Echo.relay", partial(_pair, 1), 20, 4)
            cluster.group.kill("node3")
            scenario("node 3 killed (SIGKILL)", 3, "Echo.echo", _same, 5, 5)
            cluster.group.pause("node2")
            scenario("node 2 paused (SIGSTOP)", 2, "Echo.echo", _same, 5, 5)
            cluster.group.resume("node2")
            scenario("node 2 resumed (SIGCONT)", 2, "Echo.echo", _same, 5, 5)
        finally:
            cluster.stop()
        console.print(_table(rows))
        console.print(f"all processes stopped; demo took {time.monotonic() - started:.1f} s")
    return rows


def _table(rows: list[Row]) -> Table:
    table = Table(title="sentinel.netsim: RPCs through the router")
    for column in ("scenario", "calls", "answered", "failed", "median ms", "max ms"):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for column in ("dropped", "delayed", "unreachable"):
        table.add_column(column, justify="right")
    for row in rows:
        latencies = row.latencies_ms
        table.add_row(
            row.scenario,
            str(row.calls),
            str(row.answered),
            str(row.calls - row.answered),
            f"{statistics.median(latencies):.1f}" if latencies else "-",
            f"{max(latencies):.1f}" if latencies else "-",
            *(str(row.counters[name]) for name in COUNTER_NAMES),
        )
    return table


def main() -> int:
    """Entry point of the demo command."""
    install_sigterm_handler()
    console = Console(width=max(Console().width, 112))  # the table needs the room in a pipe
    try:
        run_demo(console)
    except KeyboardInterrupt:  # every child is already stopped by the finally clauses
        console.print("interrupted; all processes stopped")
        return 130
    return 0
