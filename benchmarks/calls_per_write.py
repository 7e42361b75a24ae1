"""Python calls per sequential write, process by process: a count the machine's speed does not move.

    python benchmarks/calls_per_write.py [--before TREE] [--rounds 2] [--writes 2000] [--json]

Wall-clock rates on this shared 2-core host drift by up to 2x within minutes, and CPU time
by +-10%; the number of Python calls a write costs hardly moves. So this counts them,
in every process of a 3-node cluster (`up -n 3`, fsync on): the supervisor, the router,
the leader, both followers and the client (the benchmark's own child, writing 100-byte
values over 1,000 keys, one in flight, paced at one per `--interval-ms` so that both trees
see the same ticks and batching per write; after a warm-up that writes each key once).

How: every process of the cluster imports a `sitecustomize` (from a temporary directory
put on PYTHONPATH) that starts `cProfile` on SIGUSR1 and writes its stats on SIGUSR2; the
client counts its own calls (Python and builtin, every thread, as cProfile does) with a
profile hook. The cluster is profiled over `--writes` writes, then over an idle window as
long, and the idle calls are taken off: what remains is the writes' work. The two
followers are told apart by their count: the one on each write's critical path (its ack
makes the majority) does more.

With `--before TREE` (a checkout of older code, e.g. `git worktree add /tmp/old REV`), each
round measures both trees, in alternating order, each with its own client and cluster
code; a tree is run with PYTHONPATH set to it, so it needs no install. The figures: per
tree and process, the median over the rounds of calls per write, and the total.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from clusterup import connect_when_up  # this directory: run as a script

REPO = Path(__file__).resolve().parent.parent
KEYS = 1000
VALUE = "v" * 100
CHILD_TIMEOUT_S = 600.0
DUMP_SETTLE_S = 1.0
#: Paced below the ~200 writes/s a profiled cluster reaches on a slow minute here.
INTERVAL_MS = 8.0

HOOK = """\
import os
if os.environ.get("CALLS_PROF_OUT"):
    import cProfile, signal
    _state = {"prof": None, "seq": 0}
    def _start(signum, frame):
        _state["prof"] = cProfile.Profile()
        _state["prof"].enable()
    def _stop(signum, frame):
        prof, _state["prof"] = _state["prof"], None
        if prof is not None:
            prof.disable()
            _state["seq"] += 1
            name = f"{os.getpid()}.{_state['seq']}.prof"
            prof.dump_stats(os.path.join(os.environ["CALLS_PROF_OUT"], name))
    signal.signal(signal.SIGUSR1, _start)
    signal.signal(signal.SIGUSR2, _stop)
"""


# -- the child: one tree, one cluster ---------------------------------------------------------


class CallCounter:
    """Counts the calls made while on (Python and builtin, every thread), as cProfile does."""

    def __init__(self) -> None:
        self.on = False
        self.calls = 0

    def hook(self, frame: Any, event: str, arg: Any) -> None:
        if self.on and (event == "call" or event == "c_call"):
            self.calls += 1

    def install(self) -> None:
        sys.setprofile(self.hook)
        threading.setprofile(self.hook)


def paced_writes(client: Any, n: int, interval_s: float) -> None:
    """`n` puts, one in flight, the i-th submitted no earlier than i x `interval_s` from the
    start: a fixed rate below what either tree reaches profiled, so that both see the same
    ticks and the same batching per write."""
    began = time.monotonic()
    for i in range(n):
        delay = began + i * interval_s - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        client.put_async(f"k{i % KEYS}", VALUE).result(timeout=CHILD_TIMEOUT_S)


def cluster_processes(up_pid: int, directory: Path, env: dict[str, str]) -> dict[int, str]:
    """pid -> role for the supervisor, the router and the nodes (by `status --json`)."""
    import psutil

    status = subprocess.run(
        [sys.executable, "-m", "sentinel.cluster", "status", "--dir", str(directory), "--json"],
        env=env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    roles = {n["pid"]: n["role"] for n in json.loads(status.stdout)["nodes"]}
    procs = {up_pid: "supervisor"}
    for child in psutil.Process(up_pid).children(recursive=True):
        if "resource_tracker" in " ".join(child.cmdline()):
            continue
        procs[child.pid] = roles.get(child.pid, "router")
    return procs


def profile_window(procs: dict[int, str], out: Path, seq: int, body: Any) -> tuple[dict, float]:
    """Profile every process over `body()`; their total calls (pid -> count), and its seconds."""
    import pstats

    for pid in procs:
        os.kill(pid, signal.SIGUSR1)
    time.sleep(0.3)  # (every process has taken its signal)
    began = time.monotonic()
    body()
    elapsed = time.monotonic() - began
    for pid in procs:
        os.kill(pid, signal.SIGUSR2)
    deadline = time.monotonic() + 30
    files = {pid: out / f"{pid}.{seq}.prof" for pid in procs}
    while not all(f.exists() for f in files.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(DUMP_SETTLE_S)
    return {pid: pstats.Stats(str(f)).total_calls for pid, f in files.items()}, elapsed


def child(tree: Path, writes: int, interval_s: float) -> dict[str, Any]:
    """Measure `tree` (already first on sys.path): calls per write per process."""
    import sentinel

    assert Path(sentinel.__file__).resolve().is_relative_to(tree.resolve()), sentinel.__file__
    work = Path(tempfile.mkdtemp(prefix="calls-"))
    directory, out = work / "cluster", work / "prof"
    out.mkdir()
    env = dict(os.environ, CALLS_PROF_OUT=str(out))
    up_help = subprocess.run([sys.executable, "-m", "sentinel.cluster", "up", "--help"],
                             env=env, capture_output=True, text=True).stdout  # fmt: skip
    extra = ["--redis-port", "0"] if "--redis-port" in up_help else []
    cmd = [sys.executable, "-m", "sentinel.cluster", "up", "-n", "3", "--dir", str(directory),
           "--no-dashboard", *extra]  # fmt: skip
    with open(work / "up.log", "wb") as log:
        up = subprocess.Popen(cmd, env=env, cwd=tree, stdout=log, stderr=log)
    try:
        counter = CallCounter()
        counter.install()  # (before the client starts its threads: they inherit the hook)
        client = connect_when_up(sentinel.connect, directory, up)
        for i in range(KEYS):
            client.put(f"k{i}", VALUE)
        procs = cluster_processes(up.pid, directory, env)

        def counted_writes() -> None:
            counter.on = True
            paced_writes(client, writes, interval_s)
            counter.on = False

        busy, seconds = profile_window(procs, out, 1, counted_writes)
        idle, _ = profile_window(procs, out, 2, lambda: time.sleep(seconds))
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
        per_write = {pid: (busy[pid] - idle[pid]) / writes for pid in procs}
        figures = {"client": counter.calls / writes}
        followers = sorted((p for p in procs if procs[p] == "follower"), key=per_write.get)
        for pid, role in procs.items():
            if role != "follower":
                figures[role] = per_write[pid]
        if len(followers) == 2:
            figures["follower_lazy"] = per_write[followers[0]]
            figures["follower_on_path"] = per_write[followers[1]]
        figures["total"] = sum(figures.values())
        figures["profiled_writes_per_s"] = writes / seconds
        client.close()
        return figures
    finally:
        subprocess.run([sys.executable, "-m", "sentinel.cluster", "down", "--dir", str(directory)],
                       env=env, cwd=tree, capture_output=True, timeout=60)  # fmt: skip
        try:
            up.wait(timeout=30)
        except subprocess.TimeoutExpired:
            up.kill()
            up.wait()
        subprocess.run(["rm", "-rf", str(work)], check=False)


# -- the parent: rounds over the trees --------------------------------------------------------


def run_tree(tree: Path, hook_dir: Path, writes: int, interval_ms: float) -> dict[str, float]:
    """One measurement of `tree` in a child process with the tree and the hook on its path."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tree), str(hook_dir)]))
    done = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            str(tree),
            "--writes",
            str(writes),
            "--interval-ms",
            str(interval_ms),
        ],
        env=env,
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
    )  # cwd: the tree, so that `-m` in its processes finds it first
    if done.returncode != 0:
        raise RuntimeError(f"measuring {tree} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", type=Path, help="another source tree to measure beside this one")
    p.add_argument("--rounds", type=int, default=2, help="measurements per tree (default 2)")
    p.add_argument("--writes", type=int, default=2000, help="writes per measurement")
    p.add_argument(
        "--interval-ms",
        type=float,
        default=INTERVAL_MS,
        help=f"one write per this many ms at most (default {INTERVAL_MS})",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.writes, args.interval_ms / 1000.0)))
        return 0
    trees = {"this": REPO} | ({"before": args.before.resolve()} if args.before else {})
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory(prefix="calls-hook-") as hook_dir:
        (Path(hook_dir) / "sitecustomize.py").write_text(HOOK)
        for r in range(args.rounds):
            order = list(trees) if r % 2 == 0 else list(reversed(trees))
            for name in order:
                run = run_tree(trees[name], Path(hook_dir), args.writes, args.interval_ms)
                runs[name].append(run)
                if not args.json:
                    print(f"round {r + 1}, {name}: total {runs[name][-1]['total']:.0f} calls/write",
                          file=sys.stderr)  # fmt: skip
    result = {name: summarize(rs) for name, rs in runs.items()}
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)
    return 0


def summarize(runs: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per process: the median over the runs and the range."""
    keys = [k for k in runs[0] if all(k in r for r in runs)]
    return {
        k: {"median": statistics.median(r[k] for r in runs),
            "min": min(r[k] for r in runs), "max": max(r[k] for r in runs)}
        for k in keys
    }  # fmt: skip


def print_table(result: dict[str, dict[str, dict[str, float]]]) -> None:
    names = list(result)
    print("calls per write (median, range)".ljust(28) + "".join(n.rjust(24) for n in names))
    for key in result[names[0]]:
        cells = []
        for n in names:
            f = result[n].get(key)
            if f is None:
                cells.append("-")
                continue
            cells.append(f"{_num(f['median'])} ({_num(f['min'], 0)} to {_num(f['max'], 0)})")
        print(key.ljust(28) + "".join(c.rjust(24) for c in cells))
    if len(names) == 2 and "total" in result[names[1]]:
        ratio = result[names[0]]["total"]["median"] / result[names[1]]["total"]["median"]
        print(f"total, {names[0]} / {names[1]}: {ratio:.3f}")


def _num(value: float, digits: int = 1) -> str:
    """`value` rounded, without the sign of a negative zero (idle noise around 0)."""
    return f"{round(value, digits) + 0.0:.{digits}f}"


if __name__ == "__main__":
    sys.exit(main())
