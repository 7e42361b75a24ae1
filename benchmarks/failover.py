"""Leader failover time and spurious elections on a real 5-node kv cluster.

    python benchmarks/failover.py                 # a readable summary
    python benchmarks/failover.py --json          # one JSON object
    python benchmarks/failover.py --idle-s 5 --load-s 5 --rounds 5   # a quick try

A router and 5 kv node processes (`sentinel.kvraft.server:KVServerApp`, fsync on: every Ready
batch is fsynced) with the timing defaults of `NodeSpec` unless --tick-ms / --heartbeat-ms /
--election-ms say otherwise. Writers (threads of this process, each its own clerk session)
do sequential puts of 100-byte values the whole time except during the idle period.

1. Spurious elections: the cluster runs `--idle-s` with no client, then `--load-s` under the
   write load; nobody kills anything, so every term the cluster moves through is an election
   nobody caused (with pre-vote a term only moves when a pre-vote was won).
2. `--rounds` times: SIGKILL the leader; `new_leader_ms` is the kill to the first status blob
   of another node reporting LEADER in a later term (status blobs are posted every
   `--status-ms`, and polled every POLL_S: that is the resolution); `failover_ms` is the kill to
   the first put acknowledged by another node (a committed write). Then the killed node is
   restarted and the round waits until it has applied what the leader had committed.

Every process started here is stopped on every exit path (ProcessGroup, finally, SIGTERM).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sentinel.kvraft.client import Client
from sentinel.netsim.client import Network, connect
from sentinel.netsim.control import RouterHandle
from sentinel.netsim.procs import ProcessGroup, install_sigterm_handler
from sentinel.raft.node import NodeSpec, node_name, spawn_node
from sentinel.raft.nodestatus import NodeStatus, decode_status

NODES = 5
VALUE = "v" * 100
KEYS = 1000
#: How often status blobs are read from the router while timing a round.
POLL_S = 0.005
#: How often they are read while counting spurious elections.
WATCH_POLL_S = 0.05
#: Upper bounds on each wait; a wait that passes one fails the benchmark loudly.
LEADER_WAIT_S = 30.0
CATCH_UP_WAIT_S = 60.0
#: One clerk RPC attempt (shorter than the clerk's default: a put stuck on a node that just
#: lost its leadership is retried elsewhere sooner; exactly-once makes retries safe).
RPC_TIMEOUT_S = 0.5
ACKS_MAX = 1_000_000


class BenchError(RuntimeError):
    """A wait passed its deadline or the cluster misbehaved."""


@dataclass(frozen=True)
class Timing:
    tick_ms: int
    heartbeat_ms: int
    election_ms: int
    status_ms: int


class Cluster:
    """A router and NODES kv nodes in `directory` (stopped by `stop`, on every path)."""

    def __init__(self, directory: Path, timing: Timing, group: ProcessGroup) -> None:
        self.group = group
        self.router = RouterHandle.start(directory, group, seed=1)
        ids = tuple(range(1, NODES + 1))
        ticks = {"tick_ms": timing.tick_ms, "status_interval_ms": timing.status_ms,
                 "heartbeat_ticks": timing.heartbeat_ms // timing.tick_ms,
                 "election_ticks": timing.election_ms // timing.tick_ms}  # fmt: skip
        app = "sentinel.kvraft.server:KVServerApp"
        self.specs = {
            i: NodeSpec(
                str(directory),
                i,
                ids,
                "failover",
                app,
                {"maxraftstate": -1},
                seed=i,
                log_level="WARNING",
                **ticks,
            )
            for i in ids
        }
        for spec in self.specs.values():
            spawn_node(spec, self.router, group)

    def statuses(self) -> dict[int, NodeStatus]:
        out = {}
        for node_id, blob in self.router.statuses().items():
            st = decode_status(blob)
            if st is not None and self.group.pid(node_name(node_id)) == st.pid:
                out[node_id] = st  # only blobs of the process running now (not a dead one's)
        return out

    def leader(self, statuses: dict[int, NodeStatus] | None = None) -> NodeStatus | None:
        """The LEADER of the highest term among `statuses`, if any."""
        leaders = [s for s in (statuses or self.statuses()).values() if s.role == "LEADER"]
        return max(leaders, key=lambda s: s.term) if leaders else None

    def wait(self, what: str, cond, timeout_s: float, poll_s: float = POLL_S):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = cond(self.statuses())
            if found:
                return found
            time.sleep(poll_s)
        raise BenchError(f"no {what} within {timeout_s} s: {self.statuses()}")

    def stop(self) -> None:
        self.router.shutdown()


class Writers:
    """`n` threads doing sequential puts; each ack is recorded as (monotonic time, node)."""

    def __init__(self, network: Network, n: int) -> None:
        self.acks: list[tuple[float, int]] = []
        self.errors = 0
        self.lock = threading.Lock()
        self.running = threading.Event()
        self.stop_flag = threading.Event()
        servers = list(range(1, NODES + 1))
        self.clerks = [Client(network, servers, 1, RPC_TIMEOUT_S, owns_network=False,
                              coalesce=False) for _ in range(n)]  # fmt: skip
        self.threads = [threading.Thread(target=self._run, args=(c, i), daemon=True)
                        for i, c in enumerate(self.clerks)]  # fmt: skip
        for t in self.threads:
            t.start()

    def _run(self, clerk: Client, me: int) -> None:
        n = me
        while not self.stop_flag.is_set():
            if not self.running.wait(0.1):
                continue
            n += len(self.clerks)
            try:
                clerk.put(f"k{n % KEYS}", VALUE, timeout_s=30)
            except Exception:  # counted and reported (write_errors)
                with self.lock:
                    self.errors += 1
                continue
            node = clerk.leader
            with self.lock:
                if len(self.acks) < ACKS_MAX:
                    self.acks.append((time.monotonic(), node))

    def first_ack(self, after: float, not_node: int, timeout_s: float) -> float:
        """The time of the first ack after `after` from a node other than `not_node`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = []
            with self.lock:
                for t, node in reversed(self.acks):
                    if t <= after:
                        break
                    if node != not_node:
                        found.append(t)
            if found:
                return min(found)
            time.sleep(POLL_S)
        raise BenchError(f"no write acknowledged within {timeout_s} s of the kill")

    def count(self) -> int:
        with self.lock:
            return len(self.acks)

    def close(self) -> None:
        self.stop_flag.set()
        for t in self.threads:
            t.join(35)


def watch(cluster: Cluster, seconds: float) -> dict[str, int]:
    """Elections (terms moved) and leader changes over `seconds` with nobody causing any."""
    first = cluster.statuses()
    term0 = max(s.term for s in first.values())
    last = cluster.leader(first)
    changes = 0
    end = time.monotonic() + seconds
    term = term0
    while time.monotonic() < end:
        now = cluster.statuses()
        term = max([term] + [s.term for s in now.values()])
        lead = cluster.leader(now)
        key = None if lead is None else (lead.node_id, lead.term)
        if key is not None and key != (None if last is None else (last.node_id, last.term)):
            changes += 1
            last = lead
        time.sleep(WATCH_POLL_S)
    return {"elections": term - term0, "leader_changes": changes}


def one_round(cluster: Cluster, writers: Writers) -> dict[str, float]:
    """Kill the leader, time the new leader and the next ack, restart it, wait for catch-up."""
    old = cluster.wait("leader", cluster.leader, LEADER_WAIT_S)
    before = writers.count()
    t_kill = time.monotonic()
    cluster.group.kill(node_name(old.node_id))
    new = cluster.wait(
        "new leader",
        lambda sts: next((s for s in sts.values() if s.role == "LEADER" and s.term > old.term
                          and s.node_id != old.node_id), None),
        LEADER_WAIT_S,
    )  # fmt: skip
    t_leader = time.monotonic()
    t_ack = writers.first_ack(t_kill, old.node_id, LEADER_WAIT_S)
    spawn_node(cluster.specs[old.node_id], cluster.router, cluster.group)
    target = cluster.wait("leader commit", cluster.leader, LEADER_WAIT_S)
    cluster.wait(
        f"catch-up of node {old.node_id}",
        lambda sts: old.node_id in sts and sts[old.node_id].applied >= target.commit,
        CATCH_UP_WAIT_S, 0.02,
    )  # fmt: skip
    if writers.count() <= before:
        raise BenchError("the writers made no progress over a round")
    return {
        "failover_ms": (t_ack - t_kill) * 1000,
        "new_leader_ms": (t_leader - t_kill) * 1000,
        "extra_terms": new.term - old.term - 1,
    }


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, round(q * (len(xs) - 1)))], 1)


def run(args: argparse.Namespace, timing: Timing, directory: Path) -> dict:
    with ProcessGroup() as group:
        cluster = Cluster(directory, timing, group)
        network = connect(directory)
        writers = Writers(network, args.writers)
        try:
            writers.running.set()  # warm-up: a leader exists and every session is registered
            cluster.wait("first ack", lambda _: writers.count() >= 10 * args.writers, 60, 0.05)
            writers.running.clear()
            time.sleep(0.5)
            idle = watch(cluster, args.idle_s)
            writers.running.set()
            n0, t0 = writers.count(), time.monotonic()
            load = watch(cluster, args.load_s)
            load_ops = (writers.count() - n0) / (time.monotonic() - t0)
            rounds = [one_round(cluster, writers) for _ in range(args.rounds)]
        finally:
            writers.close()
            network.close()
            cluster.stop()
            group.stop_all()
    fo = [r["failover_ms"] for r in rounds]
    nl = [r["new_leader_ms"] for r in rounds]
    return {
        "failover_ms_p50": pct(fo, 0.5), "failover_ms_p99": pct(fo, 0.99),
        "failover_ms_max": round(max(fo), 1),
        "new_leader_ms_p50": pct(nl, 0.5), "new_leader_ms_p99": pct(nl, 0.99),
        "spurious_elections": idle["elections"] + load["elections"],
        "spurious_detail": {"idle": idle, "load": load},
        "extra_terms_in_rounds": sum(r["extra_terms"] for r in rounds),
        "write_errors": writers.errors,
        "load_writes_per_s": round(load_ops, 1),
        "rounds": len(rounds), "failover_ms_all": [round(x, 1) for x in fo],
        "settings": {"nodes": NODES, "fsync": True, "writers": args.writers,
                     "idle_s": args.idle_s, "load_s": args.load_s,
                     "tick_ms": timing.tick_ms, "heartbeat_ms": timing.heartbeat_ms,
                     "election_ms": [timing.election_ms, 2 * timing.election_ms],
                     "status_interval_ms": timing.status_ms, "poll_ms": POLL_S * 1000,
                     "pre_vote": True, "check_quorum": True},
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    d = NodeSpec(cluster_dir="", node_id=1, peer_ids=(1,))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--rounds", type=int, default=20, help="leader kills (default 20)")
    parser.add_argument("--idle-s", type=float, default=60.0, help="idle watch (default 60)")
    parser.add_argument("--load-s", type=float, default=60.0, help="loaded watch (default 60)")
    parser.add_argument("--writers", type=int, default=2, help="writer threads (default 2)")
    parser.add_argument("--tick-ms", type=int, default=d.tick_ms)
    parser.add_argument("--heartbeat-ms", type=int, default=d.heartbeat_ticks * d.tick_ms)
    parser.add_argument("--election-ms", type=int, default=d.election_ticks * d.tick_ms,
                        help="election timeout minimum (random in [x, 2x))")  # fmt: skip
    parser.add_argument("--status-ms", type=int, default=20, help="status blob interval")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.writers < 1 or args.idle_s < 0 or args.load_s < 0:
        parser.error("--rounds and --writers must be >= 1, --idle-s and --load-s >= 0")
    install_sigterm_handler()
    timing = Timing(args.tick_ms, args.heartbeat_ms, args.election_ms, args.status_ms)
    with tempfile.TemporaryDirectory(prefix="failover-") as tmp:
        result = run(args, timing, Path(tmp))
    if args.json:
        json.dump(result, sys.stdout)
        print()
        return 0
    s = result["settings"]
    print(
        f"5 nodes, fsync on, tick {s['tick_ms']} ms, heartbeat {s['heartbeat_ms']} ms, "
        f"election {s['election_ms'][0]}-{s['election_ms'][1]} ms, {s['writers']} writers"
    )
    print(
        f"failover (kill -> next acked write): p50 {result['failover_ms_p50']} ms, "
        f"p99 {result['failover_ms_p99']} ms over {result['rounds']} rounds"
    )
    print(
        f"new leader (kill -> status blob):    p50 {result['new_leader_ms_p50']} ms, "
        f"p99 {result['new_leader_ms_p99']} ms"
    )
    print(
        f"spurious elections: {result['spurious_elections']} "
        f"(idle {s['idle_s']} s: {result['spurious_detail']['idle']}, "
        f"load {s['load_s']} s: {result['spurious_detail']['load']})"
    )
    print(f"extra terms in rounds {result['extra_terms_in_rounds']}, write errors "
          f"{result['write_errors']}, load avg {result['load_avg']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
