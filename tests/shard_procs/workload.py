"""Clients for the 6.824 shardkv scenarios on real processes, with every call recorded for
`sentinel.lin`.

`Recorder` holds the history; `RecordingClerk` wraps a ShardClerk so that each get, put and
append is an Operation (call and return times in ns; a call that failed has an unknown
outcome: pending). `Appenders` are the lab's concurrent clients: each appends random text to
a key of its own and checks the value read back, until stopped; `wait_ops` waits (with a
deadline) until they have done a number of calls more, the schedule of a scenario being
"change the configuration, let the clients work, change it again". At the end,
`assert_linearizable` checks the whole history.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence

from harness_shard import GroupProcs

from sentinel.kvraft.errors import OutcomeUnknown, Unavailable
from sentinel.lin import (
    PENDING,
    UNKNOWN,
    CheckResult,
    KvInput,
    Operation,
    check_operations,
    kv_model,
)
from sentinel.shard.client import ShardClerk

CHECK_TIMEOUT_S = 60.0
CLIENT_CALLS_MAX = 100_000


class Recorder:
    """The history of every recorded client (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.history: list[Operation] = []
        self._ids = 0

    def new_id(self) -> int:
        with self._lock:
            self._ids += 1
            return self._ids

    def add(self, op: Operation) -> None:
        with self._lock:
            self.history.append(op)

    def assert_linearizable(self) -> None:
        with self._lock:
            history = list(self.history)
        verdict = check_operations(kv_model, history, timeout_s=CHECK_TIMEOUT_S)
        print(f"history of {len(history)} operations: {verdict}")
        assert verdict is CheckResult.OK, f"history of {len(history)} operations is {verdict}"


class RecordingClerk:
    """A ShardClerk whose calls go into a Recorder."""

    def __init__(self, clerk: ShardClerk, recorder: Recorder) -> None:
        self.clerk = clerk
        self.recorder = recorder
        self.cid = recorder.new_id()

    def get(self, key: str) -> str:
        return self._call(KvInput("get", key), lambda: self.clerk.get(key))  # type: ignore[no-any-return]

    def put(self, key: str, value: str) -> None:
        self._call(KvInput("put", key, value), lambda: self.clerk.put(key, value))

    def append(self, key: str, value: str) -> None:
        self._call(KvInput("append", key, value), lambda: self.clerk.append(key, value))

    def _call(self, lin: KvInput, run) -> object:  # type: ignore[no-untyped-def]
        start = time.monotonic_ns()
        try:
            answer = run()
        except (OutcomeUnknown, Unavailable):
            self.recorder.add(Operation(self.cid, lin, start, UNKNOWN, PENDING))
            raise
        output = answer if lin.f == "get" else None
        self.recorder.add(Operation(self.cid, lin, start, output, time.monotonic_ns()))
        return answer


class Appenders:
    """The lab's concurrent clients: client i appends to key `keys[i]`, whose value it knows
    (`values[i]`), and checks each value it reads back."""

    def __init__(
        self, procs: GroupProcs, ctl: Sequence[int], recorder: Recorder, keys: list[str],
        values: list[str], seed: int, clients: int = 0, mixed: bool = False,
    ) -> None:  # fmt: skip
        """`clients` (default: one per key); `mixed`: the unreliable3 clients instead."""
        self.keys, self.values, self.mixed = keys, values, mixed
        clients = clients or len(keys)
        self.stop = threading.Event()
        self.ops = 0
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._clerks = [RecordingClerk(procs.shard_clerk(ctl), recorder) for _ in range(clients)]
        self._threads = [
            threading.Thread(target=self._run, args=(i, random.Random(seed + i)), daemon=True)
            for i in range(clients)
        ]

    def __enter__(self) -> Appenders:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(60.0)
        assert not any(t.is_alive() for t in self._threads), "a client did not stop"

    def _run(self, i: int, rng: random.Random) -> None:
        if self.mixed:
            self._run_mixed(i, rng)
            return
        ck, key = self._clerks[i], self.keys[i]
        for _ in range(CLIENT_CALLS_MAX):
            if self.stop.is_set():
                return
            piece = f"{i}.{rng.randrange(10**6)} "
            try:
                ck.append(key, piece)
                self.values[i] += piece
                got = ck.get(key)
            except (OutcomeUnknown, Unavailable) as exc:
                self.errors.append(f"client {i}: {exc}")
                return
            if got != self.values[i]:
                self.errors.append(f"client {i}: {key!r} reads {got!r}, not {self.values[i]!r}")
                return
            with self._lock:
                self.ops += 2

    def _run_mixed(self, i: int, rng: random.Random) -> None:
        """6.824's unreliable3 clients: random gets, puts and appends on shared keys (only
        the history check can tell whether they were right)."""
        ck = self._clerks[i]
        for n in range(CLIENT_CALLS_MAX):
            if self.stop.is_set():
                return
            key, value = rng.choice(self.keys), f"{i}.{n} "
            try:
                f = rng.choice(("get", "put", "append"))
                if f == "get":
                    ck.get(key)
                else:
                    getattr(ck, f)(key, value)
            except (OutcomeUnknown, Unavailable) as exc:
                self.errors.append(f"client {i}: {exc}")
                return
            with self._lock:
                self.ops += 1

    def wait_ops(self, more: int, deadline_s: float = 60.0) -> None:
        """Wait until the clients have made `more` calls more (AssertionError past the
        deadline or when a client failed)."""
        target = self.ops + more
        deadline = time.monotonic() + deadline_s
        while self.ops < target:
            assert not self.errors, self.errors
            assert time.monotonic() < deadline, f"{self.ops} of {target} calls in {deadline_s} s"
            time.sleep(0.01)
        assert not self.errors, self.errors
