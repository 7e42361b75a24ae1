"""6.824's kvraft test_test.go helpers: logged operations, checkClntAppends, GenericTest,
GenericTestSpeed, and the linearizability check of every recorded history.

Deviations from 6.824, all for the suite's time budget on a 2-core machine:
- the GenericTest client phase is CLIENT_PHASE_S = 2 s per iteration (6.824: 5 s);
- 6.824 passes an `unknown` (timed-out) porcupine verdict; here the checker gets a generous
  LIN_TIMEOUT_S and `unknown` fails the test.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

from harness_kv import ELECTION_TIMEOUT_S, OP_DEADLINE_S, KVCluster

from sentinel.kvraft.client import Client
from sentinel.lin import CheckResult, HistoryRecorder, check_operations, kv_model

#: 6.824 runs clients for 5 s per iteration; we run 2 s (time budget; see module docstring).
CLIENT_PHASE_S = 2.0
ITERATIONS = 3
LIN_TIMEOUT_S = 20.0
#: Where a test explains why `unknown` is acceptable, the checker gets this long.
UNKNOWN_OK_TIMEOUT_S = 3.0
#: 6.824 GenericTestSpeed: at least 3 ops per 100 ms heartbeat.
SPEED_OPS = 1000
SPEED_MS_PER_OP_MAX = 100.0 / 3


class Ops:
    """Logged Get/Put/Append wrappers (6.824's Get/Put/Append with porcupine records).
    A call that does not complete within OP_DEADLINE_S fails the test."""

    def __init__(self) -> None:
        self.rec = HistoryRecorder()
        self.count = 0
        self._lock = threading.Lock()

    def _run(self, cid: int, f: str, key: str, value: str | None, fn: Callable[[float], object]):
        token = self.rec.invoke(cid, f, key, value)
        try:
            out = fn(OP_DEADLINE_S)
        except BaseException:
            self.rec.info(token)
            raise
        if f == "get":
            self.rec.ok(token, out if out is not None else "")  # a missing key reads ""
        else:
            self.rec.ok(token)
        with self._lock:
            self.count += 1
        return out

    def get(self, ck: Client, key: str, cid: int) -> str:
        value = self._run(cid, "get", key, None, lambda timeout_s: ck.get(key, timeout_s))
        return value if value is not None else ""

    def put(self, ck: Client, key: str, value: str, cid: int) -> None:
        self._run(cid, "put", key, value, lambda timeout_s: ck.put(key, value, timeout_s))

    def append(self, ck: Client, key: str, value: str, cid: int) -> None:
        self._run(cid, "append", key, value, lambda timeout_s: ck.append(key, value, timeout_s))

    def check_linearizable(self, unknown_ok_because: str = "") -> None:
        """Fail on ILLEGAL; fail on UNKNOWN (checker timeout) unless the caller says why an
        unknown verdict is acceptable for its history."""
        history = self.rec.history()
        timeout_s = UNKNOWN_OK_TIMEOUT_S if unknown_ok_because else LIN_TIMEOUT_S
        result = check_operations(kv_model, history, timeout_s=timeout_s)
        if result is CheckResult.UNKNOWN and unknown_ok_because:
            print(f"linearizability unknown after {timeout_s} s: {unknown_ok_because}")
            return
        assert result is CheckResult.OK, f"history of {len(history)} ops is {result.value}"


def check(ops: Ops, ck: Client, key: str, want: str, cid: int) -> None:
    got = ops.get(ck, key, cid)
    assert got == want, f"Get({key!r}): expected {want!r}, received {got!r}"


def check_clnt_appends(clnt: int, v: str, count: int) -> None:
    """Every "x clnt j y" (j < count) appears exactly once, in order."""
    last = -1
    for j in range(count):
        wanted = f"x {clnt} {j} y"
        off = v.find(wanted)
        assert off >= 0, f"{clnt} missing element {wanted!r} in Append result {v!r}"
        assert v.rfind(wanted) == off, f"duplicate element {wanted!r} in Append result"
        assert off > last, f"wrong order for element {wanted!r} in Append result"
        last = off


def check_concurrent_appends(v: str, counts: list[int]) -> None:
    for i, count in enumerate(counts):
        check_clnt_appends(i, v, count)


def spawn_clients(n: int, body: Callable[[int], object]) -> list[object]:
    """Run body(0..n-1) in threads; their results; re-raises the first failure."""
    results: list[object] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = body(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(OP_DEADLINE_S * 3)
        assert not t.is_alive(), "a client thread is stuck"
    if errors:
        raise errors[0]
    return results


def partitioner(cfg: KVCluster, stop: threading.Event, rng: random.Random) -> None:
    """6.824 partitioner: every ~1 s put each server at random into one of two halves."""
    while not stop.is_set():
        sides: list[list[int]] = [[], []]
        for i in range(cfg.n):
            sides[rng.randrange(2)].append(i)
        cfg.partition(sides[0], sides[1])
        stop.wait(ELECTION_TIMEOUT_S + rng.randrange(200) / 1000.0)


def generic_test(
    cfg: KVCluster,
    nclients: int,
    crash: bool,
    partitions: bool,
    randomkeys: bool,
) -> None:
    """6.824 GenericTest on a started cluster (see the module docstring for the changes)."""
    maxraftstate = cfg.maxraftstate
    rng = random.Random(cfg.seed ^ 0x5EED)
    ops = Ops()
    ck = cfg.make_client(cfg.all())
    ck_id = 10_000
    done_clients = threading.Event()
    restarts_from_snapshot = 0

    for it in range(ITERATIONS):
        done_clients.clear()

        def client(cli: int, it: int = it) -> int:
            myck = cfg.make_client(cfg.all())
            crng = random.Random(cfg.seed * 1000 + it * 100 + cli)
            cid = it * 100 + cli
            j = 0
            last = ""
            if not randomkeys:
                ops.put(myck, str(cli), last, cid)
            while not done_clients.is_set():
                key = str(crng.randrange(nclients)) if randomkeys else str(cli)
                nv = f"x {cli} {j} y"
                if crng.randrange(1000) < 500:
                    ops.append(myck, key, nv, cid)
                    if not randomkeys:
                        last += nv
                    j += 1
                elif randomkeys and crng.randrange(1000) < 100:
                    ops.put(myck, key, nv, cid)
                    j += 1
                else:
                    v = ops.get(myck, key, cid)
                    if not randomkeys:
                        assert v == last, f"get wrong value, key {key!r}: {v!r} != {last!r}"
            return j

        results: list[object] = []
        runner = threading.Thread(
            target=lambda out=results, body=client: out.extend(spawn_clients(nclients, body)),
            daemon=True,
        )
        runner.start()
        stop_partitioner = threading.Event()
        part_thread = None
        if partitions:
            time.sleep(1.0)  # allow the clients to perform some operations first
            part_thread = threading.Thread(
                target=partitioner, args=(cfg, stop_partitioner, rng), daemon=True
            )
            part_thread.start()
        time.sleep(CLIENT_PHASE_S)
        done_clients.set()
        stop_partitioner.set()
        if part_thread is not None:
            part_thread.join()
            cfg.connect_all()
            time.sleep(ELECTION_TIMEOUT_S)  # wait for a while so that we have a new term
        if crash:
            if maxraftstate > 0 and cfg.snapshot_size() > 0:
                restarts_from_snapshot += 1  # these restarts must serve the same data
            for i in range(cfg.n):
                cfg.shutdown_server(i)
            time.sleep(ELECTION_TIMEOUT_S)  # wait for a while so that servers notice
            for i in range(cfg.n):
                cfg.start_server(i)
            cfg.connect_all()
        runner.join(OP_DEADLINE_S * 4)
        assert not runner.is_alive(), "clients did not finish"
        assert len(results) == nclients, "a client failed"
        for i in range(nclients):
            key = str(i)
            v = ops.get(ck, key, ck_id)
            if not randomkeys:  # every acknowledged append, once, in order (across crashes)
                check_clnt_appends(i, v, int(results[i]))  # type: ignore[arg-type]
        if maxraftstate > 0:
            # Check maximum after the servers have processed all client requests.
            size = cfg.log_size()
            assert size <= 8 * maxraftstate, f"logs were not trimmed ({size} > 8*{maxraftstate})"
        if maxraftstate < 0:
            size = cfg.snapshot_size()
            assert size == 0, f"snapshot of {size} bytes with maxraftstate -1"
    if crash and maxraftstate > 0:
        assert restarts_from_snapshot > 0, "no crash happened with a snapshot on disk"
    ops.check_linearizable()


def generic_test_speed(cfg: KVCluster) -> float:
    """6.824 GenericTestSpeed: 1000 sequential appends from one clerk; ms per op."""
    ops = Ops()
    ck = cfg.make_client(cfg.all())
    ops.get(ck, "x", 0)  # wait until the first op completes (a leader exists)
    start = time.monotonic()
    for i in range(SPEED_OPS):
        ops.append(ck, "x", f"x 0 {i} y", 0)
    dur = time.monotonic() - start
    check_clnt_appends(0, ops.get(ck, "x", 0), SPEED_OPS)
    ms_per_op = dur * 1000 / SPEED_OPS
    print(f"speed: {ms_per_op:.2f} ms/op")
    assert ms_per_op <= SPEED_MS_PER_OP_MAX, f"operations completed too slowly {ms_per_op:.1f}"
    ops.check_linearizable()
    return ms_per_op
