"""Checks shared by the fake-backend and real-cluster Redis tests."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from sentinel.lin.history import PENDING, UNKNOWN, Operation
from sentinel.lin.models import KvInput


def check_watch_conflict(r: Any, other: Any, key: str) -> None:
    """WATCH `key` on `r`, change it from `other`, then MULTI/SET/EXEC on `r`: the EXEC
    must abort (redis-py's WatchError) and leave `other`'s value."""
    pipe = r.pipeline(transaction=True)
    pipe.watch(key)
    other.set(key, "changed")
    pipe.multi()
    pipe.set(key, "mine")
    with pytest.raises(redis.WatchError):
        pipe.execute()
    assert r.get(key) == b"changed"


#: One operation of a history: its model input and the call that performs it.
Step = tuple[KvInput, Callable[[Any], Any]]


def record_history(
    client: Callable[[int], Any], choose: Callable[[random.Random, int], Step], seed: int,
    workers: int = 4, rounds: int = 50, deadline_s: float = 120.0,
) -> list[Operation]:  # fmt: skip
    """Run `workers` threads, each with its own `client(cid)` and `random.Random(seed + cid)`,
    doing `rounds` operations picked by `choose(rng, round)`; the timed history for
    sentinel.lin. A call that fails with an UNKNOWN error is pending (it may have been
    applied); any other Redis error certainly was not, and leaves no trace."""
    ops: list[Operation] = []
    lock = threading.Lock()
    start = time.monotonic()

    def worker(cid: int) -> None:
        rng, r = random.Random(seed + cid), client(cid)
        for n in range(rounds):
            input, call = choose(rng, n)
            began = time.monotonic() - start
            try:
                out, ended = call(r), time.monotonic() - start
            except redis.ResponseError as exc:
                if not str(exc).startswith("UNKNOWN"):
                    continue
                out, ended = UNKNOWN, PENDING
            with lock:
                ops.append(Operation(cid, input, began, out, ended))

    threads = [threading.Thread(target=worker, args=(cid,)) for cid in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(deadline_s)
    return ops
