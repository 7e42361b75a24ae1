"""6.824 shardkv's concurrent and unreliable tests on real processes: a three-node
controller and three shard groups of three nodes; clients work the whole time while the
configuration changes and groups are killed and restarted. Each test records its clients'
history and checks it with sentinel.lin; the appending clients also check every value they
read back. "Let the clients work" is a wait for a number of their calls, with a deadline.
"""

from __future__ import annotations

import random

from harness_shard import GroupProcs, start_controller, start_shard_group
from workload_shard import Appenders, Recorder, RecordingClerk

N = 10


def _cluster(procs: GroupProcs, maxraftstate: int = -1) -> tuple:
    ctl = start_controller(procs)
    groups = {g: start_shard_group(procs, g, ctl, maxraftstate=maxraftstate) for g in (1, 2, 3)}
    return ctl, procs.ctl_clerk(ctl), groups


def _load(procs: GroupProcs, ctl: list[int], recorder: Recorder) -> tuple[list[str], list[str]]:
    rng = random.Random(procs.seed)
    keys = [f"k{i}" for i in range(N)]
    values = [f"v{rng.randrange(10**6)} " for _ in keys]
    ck = RecordingClerk(procs.shard_clerk(ctl), recorder)
    for k, v in zip(keys, values, strict=True):
        ck.put(k, v)
    return keys, values


def _final_check(procs: GroupProcs, ctl: list[int], recorder: Recorder, keys, values) -> None:  # type: ignore[no-untyped-def]
    ck = RecordingClerk(procs.shard_clerk(ctl), recorder)
    if values is not None:
        for k, v in zip(keys, values, strict=True):
            assert ck.get(k) == v
    else:
        for k in keys:
            ck.get(k)
    recorder.assert_linearizable()


def test_concurrent1(procs: GroupProcs) -> None:
    """Appending clients on every key while groups 2 and 3 join and 1 leaves; then all
    three groups are killed, group 3 leaves while they are down, all restart; group 1
    rejoins, group 2 leaves and rejoins. No append is lost or doubled."""
    ctl, admin, groups = _cluster(procs)
    admin.join({1: groups[1]})
    recorder = Recorder()
    keys, values = _load(procs, ctl, recorder)
    with Appenders(procs, ctl, recorder, keys, values, procs.seed) as clients:
        admin.join({2: groups[2]})
        clients.wait_ops(20)
        admin.join({3: groups[3]})
        clients.wait_ops(20)
        admin.leave([1])
        clients.wait_ops(20)
        for gid in (1, 2, 3):
            procs.kill_group(gid)
        admin.leave([3])
        for gid in (1, 2, 3):
            procs.restart_group(gid)
        admin.join({1: groups[1]})
        admin.leave([2])
        clients.wait_ops(20)
        admin.join({2: groups[2]})
        clients.wait_ops(40)
    _final_check(procs, ctl, recorder, keys, values)


def test_concurrent2(procs: GroupProcs) -> None:
    """Appending clients while shards move and the groups moving them are killed and
    restarted: group 2 is killed as group 3 joins, group 3 as group 1 leaves."""
    ctl, admin, groups = _cluster(procs)
    admin.join({2: groups[2]})
    recorder = Recorder()
    keys, values = _load(procs, ctl, recorder)
    admin.join({1: groups[1]})
    with Appenders(procs, ctl, recorder, keys, values, procs.seed) as clients:
        clients.wait_ops(20)
        admin.join({3: groups[3]})
        procs.kill_group(2)
        procs.restart_group(2)
        clients.wait_ops(20)
        admin.leave([1])
        procs.kill_group(3)
        procs.restart_group(3)
        clients.wait_ops(20)
        admin.join({1: groups[1]})
        admin.leave([2])
        clients.wait_ops(40)
    _final_check(procs, ctl, recorder, keys, values)


def test_concurrent3(procs: GroupProcs) -> None:
    """Appending clients through rounds of a configuration change followed by a restart of
    every group, with snapshots at 1 KB of raft state (restarts recover from snapshots)."""
    ctl, admin, groups = _cluster(procs, maxraftstate=1000)
    admin.join({1: groups[1]})
    recorder = Recorder()
    keys, values = _load(procs, ctl, recorder)
    rng = random.Random(procs.seed)
    with Appenders(procs, ctl, recorder, keys, values, procs.seed) as clients:
        for _ in range(4):
            present = admin.query(-1).group_ids()
            absent = [g for g in (1, 2, 3) if g not in present]
            if absent and (len(present) < 2 or rng.random() < 0.5):
                gid = rng.choice(absent)
                admin.join({gid: groups[gid]})
            else:
                admin.leave([rng.choice(present)])
            for gid in (1, 2, 3):
                procs.kill_group(gid)
            for gid in (1, 2, 3):
                procs.restart_group(gid)
            clients.wait_ops(20)
    _final_check(procs, ctl, recorder, keys, values)


def _unreliable(procs: GroupProcs, mixed: bool) -> None:
    ctl, admin, groups = _cluster(procs, maxraftstate=1000)
    admin.join({1: groups[1]})
    recorder = Recorder()
    keys, values = _load(procs, ctl, recorder)
    procs.set_unreliable(True)
    with Appenders(
        procs, ctl, recorder, keys, values, procs.seed, clients=5 if mixed else 0, mixed=mixed
    ) as clients:
        admin.join({2: groups[2]})
        clients.wait_ops(20)
        admin.join({3: groups[3]})
        clients.wait_ops(20)
        admin.leave([1])
        clients.wait_ops(20)
        admin.join({1: groups[1]})
        admin.leave([2])
        clients.wait_ops(20)
    procs.set_unreliable(False)
    _final_check(procs, ctl, recorder, keys, None if mixed else values)


def test_unreliable1(procs: GroupProcs) -> None:
    """An unreliable network (lost, delayed and repeated messages) while the clients write
    every key, then check and append each key through joins and leaves."""
    ctl, admin, groups = _cluster(procs, maxraftstate=1000)
    admin.join({1: groups[1]})
    recorder = Recorder()
    procs.set_unreliable(True)
    keys, values = _load(procs, ctl, recorder)
    ck = RecordingClerk(procs.shard_clerk(ctl), recorder)
    admin.join({2: groups[2]})
    admin.join({3: groups[3]})
    admin.leave([1])
    for round_ in range(2):
        for i, k in enumerate(keys):
            assert ck.get(k) == values[i]
            ck.append(k, f"{round_}")
            values[i] += f"{round_}"
        if round_ == 0:
            admin.join({1: groups[1]})
    procs.set_unreliable(False)
    _final_check(procs, ctl, recorder, keys, values)


def test_unreliable2(procs: GroupProcs) -> None:
    """An unreliable network while appending clients work through joins and leaves."""
    _unreliable(procs, mixed=False)


def test_unreliable3(procs: GroupProcs) -> None:
    """An unreliable network while five clients make random gets, puts and appends on
    shared keys through joins and leaves; only the linearizability check can judge them."""
    _unreliable(procs, mixed=True)
