"""Membership changes under write load on a real 3-node cluster (`python -m sentinel.cluster`).

    python benchmarks/membership.py                # a readable summary
    python benchmarks/membership.py --json         # one JSON object
    python benchmarks/membership.py --rounds 2 --data-mb 2   # a quick try

The cluster is started with `up -n 3 --no-dashboard` in a temporary directory and first
filled with `--data-mb` of 10 KiB values. Then 8 client threads (one thread-safe client)
write 100-byte values to keys of their own the whole time, and each of `--rounds` rounds
does, through the CLI, what an operator would:

    add                 time to voter: the `add` command's wall time (it returns once the
                        learner was promoted and that committed): `add_ms`
    remove <follower>   the node the add brought in
    add                 (another add, so the leader's removal leaves three voters)
    remove <leader>     the leader removes itself, hands over, and stops

`gap_ms` for each kind of change is the longest time between two successful writes (any
thread) from the command's start to the first write after it ended; p50 and p99 over the
rounds. `lost_writes`: acknowledged puts whose value is not read back at the end (must be 0).
Every process is stopped on every exit path (`down`, then SIGKILL of the supervisor).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import sentinel

CLI = [sys.executable, "-m", "sentinel.cluster"]
THREADS = 8
VALUE = "v" * 100
FILL_VALUE_BYTES = 10 * 1024
START_WAIT_S = 60.0
COMMAND_WAIT_S = 240.0
#: Acknowledged puts kept for the final read-back (a bound on memory).
ACKED_MAX = 2_000_000


class BenchError(RuntimeError):
    """The cluster did not do what the benchmark asked."""


def cli(directory: Path, *args: str) -> str:
    """One CLI command; its output (BenchError on failure)."""
    env = dict(os.environ, SENTINEL_REDIS_PORT="0")
    done = subprocess.run([*CLI, *args, "--dir", str(directory)], capture_output=True,
                          text=True, timeout=COMMAND_WAIT_S, env=env)  # fmt: skip
    if done.returncode != 0:
        raise BenchError(f"{' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def status(directory: Path) -> dict:
    """`status --json`."""
    return json.loads(cli(directory, "status", "--json"))


def members(directory: Path) -> dict:
    """`members --json`."""
    return json.loads(cli(directory, "members", "--json"))


class Writers:
    """THREADS threads writing their own keys; every success's time and (key, value)."""

    def __init__(self, client: sentinel.kvraft.client.Client) -> None:  # type: ignore[name-defined]
        self.client = client
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.times: list[float] = []
        self.acked: dict[str, str] = {}
        self.threads = [threading.Thread(target=self.run, args=(k,)) for k in range(THREADS)]

    def run(self, k: int) -> None:
        n = 0
        while not self.stop.is_set():
            key, value = f"w{k}-{n % 500}", f"{n}-{VALUE}"
            try:
                self.client.put(key, value, timeout_s=10.0)
            except Exception:  # unavailable or unknown: not acknowledged, not counted
                continue
            with self.lock:
                self.times.append(time.monotonic())
                if len(self.acked) < ACKED_MAX:
                    self.acked[key] = value
            n += 1

    def gap_ms(self, t0: float, t1: float) -> float:
        """The longest time between successes from t0 to the first success after t1."""
        with self.lock:
            times = sorted(self.times)
        inside = [t for t in times if t0 <= t <= t1]
        after = next((t for t in times if t > t1), None)
        before = max((t for t in times if t < t0), default=t0)
        points = [before, *inside] + ([after] if after is not None else [t1])
        return max((b - a) * 1000.0 for a, b in itertools.pairwise(points))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1) if ordered else 0.0


def timed(directory: Path, writers: Writers, *args: str) -> tuple[float, float]:
    """Run one command under the load: (its wall time, the gap) in ms."""
    t0 = time.monotonic()
    cli(directory, *args)
    t1 = time.monotonic()
    time.sleep(0.3)  # let the first writes after it land
    return (t1 - t0) * 1000.0, writers.gap_ms(t0, t1)


def run(directory: Path, rounds: int, data_mb: float) -> dict:
    """The benchmark on a cluster already up in `directory`."""
    client = sentinel.connect(directory, servers=(1, 2, 3))
    try:
        fill = "f" * FILL_VALUE_BYTES
        for k in range(int(data_mb * 1024 * 1024 / FILL_VALUE_BYTES)):
            client.put(f"fill{k}", fill, timeout_s=30.0)
        writers = Writers(client)
        for t in writers.threads:
            t.start()
        add_ms: list[float] = []
        gaps: dict[str, list[float]] = {"add": [], "remove_follower": [], "remove_leader": []}
        try:
            for _ in range(rounds):
                took, gap = timed(directory, writers, "add")
                add_ms.append(took)
                gaps["add"].append(gap)
                ids = [m["id"] for m in members(directory)["members"]]
                client.set_servers(ids)
                leader = status(directory)["leader"]
                newest = max(ids)
                target = newest if newest != leader else min(i for i in ids if i != leader)
                gaps["remove_follower"].append(timed(directory, writers, "remove", str(target))[1])
                took, gap = timed(directory, writers, "add")
                add_ms.append(took)
                gaps["add"].append(gap)
                client.set_servers([m["id"] for m in members(directory)["members"]])
                leader = status(directory)["leader"]
                gaps["remove_leader"].append(timed(directory, writers, "remove", str(leader))[1])
                client.set_servers([m["id"] for m in members(directory)["members"]])
        finally:
            writers.stop.set()
            for t in writers.threads:
                t.join(30)
        lost = sum(1 for k, v in writers.acked.items() if client.get(k, timeout_s=30.0) != v)
    finally:
        client.close()
    return {
        "rounds": rounds,
        "data_mb": data_mb,
        "writes": len(writers.times),
        "add_ms": {"p50": percentile(add_ms, 0.5), "p99": percentile(add_ms, 0.99)},
        "gap_ms": {
            kind: {"p50": percentile(v, 0.5), "p99": percentile(v, 0.99)}
            for kind, v in gaps.items()
        },
        "lost_writes": lost,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--data-mb", type=float, default=10.0)
    parser.add_argument("--json", action="store_true", help="one JSON object")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sentinel-membership-") as tmp:
        directory = Path(tmp) / "c"
        env = dict(os.environ, SENTINEL_REDIS_PORT="0")
        up = subprocess.Popen([*CLI, "up", "-n", "3", "--no-dashboard", "--dir", str(directory)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                              start_new_session=True)  # fmt: skip
        try:
            deadline = time.monotonic() + START_WAIT_S
            while True:
                try:
                    if status(directory)["leader"] is not None:
                        break
                except (BenchError, ValueError):
                    pass
                if time.monotonic() > deadline:
                    raise BenchError("the cluster did not elect a leader")
                time.sleep(0.2)
            result = run(directory, args.rounds, args.data_mb)
        finally:
            try:
                cli(directory, "down")
                up.wait(60)
            except (BenchError, subprocess.TimeoutExpired):
                pass
            if up.poll() is None:
                os.killpg(up.pid, signal.SIGKILL)
                up.wait(30)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"add (command to voter): p50 {result['add_ms']['p50']} ms, "
              f"p99 {result['add_ms']['p99']} ms with {args.data_mb:g} MB")  # fmt: skip
        for kind, v in result["gap_ms"].items():
            print(f"longest gap during {kind}: p50 {v['p50']} ms, p99 {v['p99']} ms")
        print(f"writes {result['writes']}, lost {result['lost_writes']}")
    return 0 if result["lost_writes"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
