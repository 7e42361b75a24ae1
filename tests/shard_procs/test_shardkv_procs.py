"""6.824 shardkv tests on real processes: a three-node controller and shard groups of three
nodes behind one router; clerks route each key to its group.

- test_static_shards: two groups, ten keys; one group's nodes are killed: exactly the keys
  on its shards stop answering (the others still do); it restarts and every key reads back.
- test_join_leave: one group, ten keys; a second joins (keys readable and appendable); the
  first leaves; then its nodes are killed and every key still reads its full value (the data
  moved, with the exactly-once tables), once the second group serves them all.
"""

from __future__ import annotations

import concurrent.futures
import random

from harness_shard import GroupProcs, start_controller, start_shard_group

N = 10


def keys_and_values(seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    print(f"values seed={seed}")
    return [str(i) for i in range(N)], [f"v{rng.randrange(10**9)}" for _ in range(N)]


def test_static_shards(procs: GroupProcs) -> None:
    ctl = start_controller(procs)
    admin = procs.ctl_clerk(ctl)
    admin.join({1: start_shard_group(procs, 1, ctl)})
    admin.join({2: start_shard_group(procs, 2, ctl)})
    ck = procs.shard_clerk(ctl)
    keys, values = keys_and_values(procs.seed)
    for k, v in zip(keys, values, strict=True):
        ck.put(k, v)
    for k, v in zip(keys, values, strict=True):
        assert ck.get(k) == v
    config = admin.query(-1)
    for node in (201, 202, 203):
        procs.kill(node)
    down = [k for k in keys if config.owner(k) == 2]
    assert down and len(down) < N, "both groups hold keys"
    with concurrent.futures.ThreadPoolExecutor(N) as pool:
        futures = {}
        for k in keys:
            clerk = procs.shard_clerk(ctl)
            clerk.deadline_s = 2.0  # the lab waits 2 s for the gets of the downed group
            futures[k] = pool.submit(clerk.get, k)
        answered = {k for k, f in futures.items() if f.exception() is None}
    assert answered == set(keys) - set(down)
    for node in (201, 202, 203):
        procs.restart(node)
    for k, v in zip(keys, values, strict=True):
        assert ck.get(k) == v


def test_join_leave(procs: GroupProcs) -> None:
    ctl = start_controller(procs)
    admin = procs.ctl_clerk(ctl)
    admin.join({1: start_shard_group(procs, 1, ctl)})
    ck = procs.shard_clerk(ctl)
    keys, values = keys_and_values(procs.seed)
    for k, v in zip(keys, values, strict=True):
        ck.put(k, v)
    g2 = start_shard_group(procs, 2, ctl)
    admin.join({2: g2})
    for i, k in enumerate(keys):
        assert ck.get(k) == values[i]
        ck.append(k, "x")
        values[i] += "x"
    admin.leave([1])
    for i, k in enumerate(keys):
        assert ck.get(k) == values[i]
        ck.append(k, "y")
        values[i] += "y"
    # The lab pauses for the shards to move before it shuts the first group down; here we
    # wait for the condition itself: the second group serves every key.
    procs.wait_served(g2, keys)
    for node in (101, 102, 103):
        procs.kill(node)
    for i, k in enumerate(keys):
        assert ck.get(k) == values[i]
