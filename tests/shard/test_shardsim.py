"""The sharded simulation (sentinel/sim/shards.py): the controller's raft group and three
shard groups of real raft nodes (sentinel.sim clusters, each with its own fault schedule:
crashes, power cuts, pauses, partitions, lossy networks) running the production servers,
with clients, joins and leaves. A seed sweep must pass; equal seeds must give equal runs;
planted bugs must be found by the sweep. Each test prints the seeds it ran; replay one with
`python -m sentinel.sim --workload shards --seed N`."""

from __future__ import annotations

import pytest

from sentinel.kvraft.snapshot import SnapshotState, decode_snapshot, encode_snapshot
from sentinel.shard.group import (
    BEPULLED,
    GCING,
    SERVING,
    PullReply,
    ShardData,
    ShardGroupMachine,
)
from sentinel.sim.shards import ShardSim, ShardSimFailure

SWEEP_SEEDS = range(20)


@pytest.mark.parametrize("seed", SWEEP_SEEDS)
def test_seed_sweep_holds_every_invariant(seed: int) -> None:
    print(f"seed={seed}")
    sim = ShardSim(seed)
    counts = sim.run()
    print(counts)
    assert counts["changes"] >= 2 and counts["ops"] >= 50  # shards did move under load
    assert counts["crashes"] > 0 and counts["elections"] > 0


def test_equal_seeds_give_equal_runs() -> None:
    print("seed=7")
    a, b = ShardSim(7), ShardSim(7)
    assert a.run() == b.run()
    assert a.history == b.history


def _first_failure(seeds: range) -> str:
    for seed in seeds:
        print(f"seed={seed}")
        try:
            ShardSim(seed).run()
        except ShardSimFailure as exc:
            return str(exc)
    return ""


def test_planted_bug_serving_a_shard_given_away_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    def serves(self: ShardGroupMachine, shard: int) -> bool:
        return self.status.get(shard) in (SERVING, GCING, BEPULLED)

    monkeypatch.setattr(ShardGroupMachine, "serves", serves)
    assert "not its own" in _first_failure(range(5))


def test_planted_bug_moving_data_without_sessions_is_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pull = ShardGroupMachine.pull

    def forgetful(self: ShardGroupMachine, args) -> PullReply:  # type: ignore[no-untyped-def]
        reply = pull(self, args)
        shards = []
        for data in reply.shards:  # the keyspace moves, the session table stays behind
            state = decode_snapshot(data.state)
            bare = SnapshotState(state.applied_index, state.last_stamp_ms, state.keyspace, ())
            shards.append(ShardData(data.shard, encode_snapshot(bare)))
        return PullReply(reply.err, reply.num, tuple(shards))

    monkeypatch.setattr(ShardGroupMachine, "pull", forgetful)
    assert "lost its session" in _first_failure(range(30))
