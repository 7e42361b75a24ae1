"""A snapshot bigger than one wire frame (64 MiB) on real processes.

The majority compacts a state of about 68 MB while a follower is cut off; when the
follower is needed again it gets that snapshot in 1 MiB chunks (no message carries it
whole), installs it and serves every value. Before chunking this state could not be
snapshotted at all: compaction refused it and the nodes stopped.
"""

from __future__ import annotations

import random
import time

import pytest

from sentinel.wire import FRAME_BYTES_MAX

pytestmark = pytest.mark.processes

VALUE_CHARS = 1_000_000  # under the 1 MiB value limit
VALUES = 70  # 70 MB of values: over FRAME_BYTES_MAX (67.1 MB)
MAXRAFTSTATE = 68_000_000  # the first compaction holds more than a frame's worth
TIMEOUT_S = 60.0
SNAPSHOT_DEADLINE_S = 60.0


def _value(rng: random.Random, i: int) -> str:
    head = f"{i}:{rng.randrange(10**9)}:"
    return head + "v" * (VALUE_CHARS - len(head))


def test_a_snapshot_over_a_frame_reaches_a_lagging_follower_in_chunks(make_cluster):
    cfg = make_cluster(3, maxraftstate=MAXRAFTSTATE)
    print(f"values seed={cfg.seed}")
    rng = random.Random(cfg.seed)
    cfg.partition([0, 1], [2])
    ck = cfg.make_client([0, 1])
    values = {f"big{i}": _value(rng, i) for i in range(VALUES)}
    for key, value in values.items():
        ck.put(key, value, timeout_s=TIMEOUT_S)

    deadline = time.monotonic() + SNAPSHOT_DEADLINE_S
    while cfg.snapshot_size() <= FRAME_BYTES_MAX:  # compacted in the background
        assert time.monotonic() < deadline, f"no snapshot over a frame: {cfg.snapshot_size()}"
        time.sleep(0.2)
    assert cfg.alive[0] and cfg.alive[1]

    # Node 3 is needed now: it must install the big snapshot to hold the new entry.
    cfg.partition([0, 2], [1])
    ck2 = cfg.make_client([0, 2])
    ck2.put("after", "yes", timeout_s=TIMEOUT_S)
    # Without node 1: node 3 alone holds "after", so it leads, and serves from the state
    # it installed (node 2 catches up from it).
    cfg.partition([1, 2], [0])
    ck3 = cfg.make_client([1, 2])
    for key in ("big0", f"big{VALUES // 2}", f"big{VALUES - 1}"):
        assert ck3.get(key, timeout_s=TIMEOUT_S) == values[key], key
    assert ck3.get("after", timeout_s=TIMEOUT_S) == "yes"
