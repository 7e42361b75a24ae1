"""Checks shared by the fake-backend and real-cluster Redis tests."""

from __future__ import annotations

from typing import Any

import pytest
import redis


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
