"""Data loaded before the rounds: `--snapshot-mb` of 4 KB values (the snapshot a lagging
follower is sent) and `--cold-keys` small keys (what a cold restart reads back)."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable

from sentinel.kvraft.client import Client

BIG_VALUE_BYTES = 4000
SMALL_VALUE = "v" * 16
THREADS = 48
PUT_TIMEOUT_S = 60.0


def preload(
    client: Client, snapshot_mb: float, cold_keys: int, phase: Callable[[str], None]
) -> dict:
    """Put the data; returns what was put."""
    big = int(snapshot_mb * 1_000_000 / BIG_VALUE_BYTES)
    jobs = [(f"data.{i}", "d" * BIG_VALUE_BYTES) for i in range(big)]
    jobs += [(f"cold.{i}", SMALL_VALUE) for i in range(cold_keys)]
    done = 0
    lock = threading.Lock()

    def put(batch: list[tuple[str, str]]) -> None:
        nonlocal done
        for key, value in batch:
            client.put(key, value, timeout_s=PUT_TIMEOUT_S)
            with lock:
                done += 1
                if done % 500 == 0:
                    phase(f"loading data {done}/{len(jobs)}")

    batches = [jobs[i::THREADS] for i in range(THREADS)]
    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        for f in [pool.submit(put, b) for b in batches]:
            f.result()
    data_bytes = big * BIG_VALUE_BYTES + cold_keys * len(SMALL_VALUE)
    return {"big_keys": big, "small_keys": cold_keys, "value_bytes": data_bytes}
