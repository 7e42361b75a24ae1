"""The shard group's state machine step by step: a move from group 1 to group 2, with the
exactly-once table carried along and the source's copy deleted once the receiver has it."""

from __future__ import annotations

from sentinel.shard.config import NSHARDS, ShardConfig, key_shard
from sentinel.shard.group import (
    BEPULLED,
    ERR_WRONG_GROUP,
    GCING,
    OK,
    PULLING,
    SERVING,
    DeleteShards,
    InsertShards,
    InstallConfig,
    KVOp,
    PullArgs,
    ShardGroupMachine,
    ShardsGone,
)
from sentinel.shard.groupwork import DELETE, PULL, QUERY, follow_up, tasks
from sentinel.wire import encode


class Log:
    def __init__(self, gid: int) -> None:
        self.m = ShardGroupMachine(gid)

    def do(self, command: object) -> object:
        return self.m.apply(self.m.applied_index + 1, encode(command))


def config(num: int, owner: dict[int, int]) -> ShardConfig:
    shards = tuple(owner.get(s, 1) for s in range(NSHARDS))
    groups = tuple((g, (f"g{g}.1",)) for g in sorted(set(shards)))
    return ShardConfig(num, shards, groups)


def test_a_shard_moves_with_its_sessions_and_is_deleted_at_the_source() -> None:
    g1, g2 = Log(1), Log(2)
    c1, s = config(1, {}), key_shard("a")
    c2 = config(2, {s: 2})
    for g in (g1, g2):
        assert g.do(InstallConfig(c1)) is True
    assert g1.do(KVOp("append", "a", "x", 7, 1)).err == OK
    assert g2.do(KVOp("get", "a")).err == ERR_WRONG_GROUP
    assert g1.do(InstallConfig(c2)) and g2.do(InstallConfig(c2))
    assert g1.m.status[s] == BEPULLED and g2.m.status[s] == PULLING
    assert g1.do(KVOp("get", "a")).err == ERR_WRONG_GROUP  # stops serving at once
    assert g2.do(KVOp("get", "a")).err == ERR_WRONG_GROUP  # not before the data is in
    assert not g2.m.steady() and g2.do(InstallConfig(config(3, {}))) is False  # in order
    (pull,) = [t for t in tasks(g2.m) if t.method == PULL]
    assert pull.gid == 1 and pull.args == PullArgs(2, (s,))
    insert = follow_up(g2.m, pull, g1.m.pull(pull.args))
    assert isinstance(insert, InsertShards)
    g2.do(insert)
    assert g2.m.status[s] == GCING
    assert g2.do(KVOp("append", "a", "x", 7, 1)).err == OK  # a retry: not applied again
    assert g2.do(KVOp("get", "a")).value == "x"
    (delete,) = [t for t in tasks(g2.m) if t.method == DELETE]
    assert g1.do(delete.args).err == OK and s not in g1.m.status  # deleted at the source
    gone = follow_up(g2.m, delete, g1.do(DeleteShards(2, (s,))))
    assert gone == ShardsGone(2, (s,))
    g2.do(gone)
    assert g2.m.status[s] == SERVING and [t.method for t in tasks(g2.m)] == [QUERY]
    copy = ShardGroupMachine(2)
    copy.restore(g2.m.snapshot(), g2.m.applied_index)
    assert copy.snapshot() == g2.m.snapshot()


def test_unaffected_shards_keep_serving_during_a_move() -> None:
    g1 = Log(1)
    g1.do(InstallConfig(config(1, {})))
    moving, other = key_shard("a"), key_shard("b")
    assert moving != other
    g1.do(InstallConfig(config(2, {moving: 2})))
    assert g1.do(KVOp("put", "b", "y", 3, 1)).err == OK
    assert g1.do(KVOp("get", "b")).value == "y"
