"""The shard group's state machine step by step: a move from group 1 to group 2, with the
kv state machine's sessions carried along and the source's copy deleted once the receiver
has it; Redis commands on a shard, and commands whose keys span shards refused."""

from __future__ import annotations

from sentinel.kvraft.codec import encode_command, stamp_entry
from sentinel.kvraft.commands import (
    Append,
    Command,
    Get,
    RedisRead,
    RedisReads,
    RedisWrite,
    Register,
)
from sentinel.kvraft.keyspace import Bulk, Int
from sentinel.kvraft.replycodec import decode_reply
from sentinel.kvraft.results import Result, ResultCode
from sentinel.shard.config import NSHARDS, ShardConfig, key_shard
from sentinel.shard.group import (
    BEPULLED,
    ERR_INVALID,
    ERR_WRONG_GROUP,
    GCING,
    OK,
    PULLING,
    SERVING,
    DeleteShards,
    InsertShards,
    InstallConfig,
    PullArgs,
    ShardEntry,
    ShardGroupMachine,
    ShardReply,
    ShardsGone,
)
from sentinel.shard.groupwork import DELETE, PULL, QUERY, follow_up, purges, tasks
from sentinel.shard.keys import CROSSSLOT_ERROR, NO_KEY_ERROR, SHARD_WIDE_IN_BLOCK_ERROR
from sentinel.wire import encode

NOW_MS = 1_000_000


class Log:
    def __init__(self, gid: int) -> None:
        self.m = ShardGroupMachine(gid)

    def do(self, command: object) -> object:
        return self.m.apply(self.m.applied_index + 1, encode(command))

    def kv(self, command: Command, key: str = "a", now_ms: int = NOW_MS) -> ShardReply:
        """`command` for the shard of `key`, through the log."""
        entry = stamp_entry(now_ms, encode_command(command))
        reply = self.do(ShardEntry(key_shard(key), entry))
        assert isinstance(reply, ShardReply)
        return reply

    def result(self, command: Command, key: str = "a", now_ms: int = NOW_MS) -> Result:
        reply = self.kv(command, key, now_ms)
        assert reply.err == OK and reply.result is not None, reply
        return reply.result


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
    cid = g1.result(Register()).client_id
    assert g1.result(Append("a", "x", cid, 1)).ok
    assert g2.kv(Get("a")).err == ERR_WRONG_GROUP
    assert g1.do(InstallConfig(c2)) and g2.do(InstallConfig(c2))
    assert g1.m.status[s] == BEPULLED and g2.m.status[s] == PULLING
    assert g1.kv(Get("a")).err == ERR_WRONG_GROUP  # stops serving at once
    assert g2.kv(Get("a")).err == ERR_WRONG_GROUP  # not before the data is in
    assert not g2.m.steady() and g2.do(InstallConfig(config(3, {}))) is False  # in order
    (pull,) = [t for t in tasks(g2.m) if t.method == PULL]
    assert pull.gid == 1 and pull.args == PullArgs(2, (s,))
    insert = follow_up(g2.m, pull, g1.m.pull(pull.args))
    assert isinstance(insert, InsertShards)
    g2.do(insert)
    assert g2.m.status[s] == GCING
    again = g2.result(Append("a", "x", cid, 1))  # a retry: answered from the session
    assert again.ok and again.duplicate
    assert g2.result(Get("a")).value == "x"
    (delete,) = [t for t in tasks(g2.m) if t.method == DELETE]
    assert g1.do(delete.args).err == OK and s not in g1.m.status  # deleted at the source
    assert s not in g1.m.kv
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
    cid = g1.result(Register(), "b").client_id
    assert g1.result(Append("b", "y", cid, 1), "b").ok
    assert g1.result(Get("b"), "b").value == "y"


def test_redis_commands_run_on_a_shard_and_cross_shard_ones_are_refused() -> None:
    g1 = Log(1)
    g1.do(InstallConfig(config(1, {})))
    tag = "{u1}"
    cid = g1.result(Register(), tag).client_id
    mset = RedisWrite((b"MSET", b"{u1}.a", b"1", b"{u1}.b", b"2"), cid, 1)
    assert g1.result(mset, tag).ok  # hash tags: one shard
    incr = g1.result(RedisWrite((b"INCR", b"{u1}.a"), cid, 2), tag)
    assert decode_reply(incr.value) == Int(2)  # type: ignore[arg-type]
    got = g1.result(RedisRead((b"GET", b"{u1}.b")), tag)
    assert decode_reply(got.value) == Bulk(b"2")  # type: ignore[arg-type]
    assert key_shard("a") != key_shard("b")
    cross = g1.kv(RedisWrite((b"MSET", b"a", b"1", b"b", b"2"), cid, 3), "a")
    assert cross.err == ERR_INVALID and cross.detail == CROSSSLOT_ERROR
    size = g1.kv(RedisRead((b"DBSIZE",)), "{u1}")  # shard-wide: that shard's keys only
    assert size.err == OK and decode_reply(size.result.value) == Int(2)  # type: ignore[union-attr, arg-type]
    elsewhere = g1.kv(RedisRead((b"DBSIZE",)), "a")
    assert decode_reply(elsewhere.result.value) == Int(0)  # type: ignore[union-attr, arg-type]
    in_block = g1.kv(RedisReads(((b"DBSIZE",), (b"GET", b"a"))), "a")
    assert in_block.err == ERR_INVALID and in_block.detail == SHARD_WIDE_IN_BLOCK_ERROR
    keyless = g1.kv(RedisReads(((b"PING",),)), "a")
    assert keyless.err == ERR_INVALID and keyless.detail == NO_KEY_ERROR
    misplaced = g1.kv(Get("b"), "a")  # an entry naming the wrong shard changes nothing
    assert misplaced.err == ERR_INVALID and "shard" in misplaced.detail
    bad = g1.kv(Get("a"), "a")
    assert bad.err == OK and bad.result is not None and bad.result.code is ResultCode.NO_KEY


def test_expiry_follows_the_log_time_of_the_shard() -> None:
    g1 = Log(1)
    g1.do(InstallConfig(config(1, {})))
    cid = g1.result(Register()).client_id
    g1.result(RedisWrite((b"SET", b"a", b"v", b"PX", b"100"), cid, 1))
    assert g1.m.read(key_shard("a"), Get("a"), NOW_MS + 50).result.value == "v"  # type: ignore[union-attr]
    later = g1.m.read(key_shard("a"), Get("a"), NOW_MS + 150)
    assert later.result is not None and later.result.code is ResultCode.NO_KEY


def test_expired_keys_are_purged_per_shard() -> None:
    g1 = Log(1)
    g1.do(InstallConfig(config(1, {})))
    cid = g1.result(Register()).client_id
    g1.result(RedisWrite((b"SET", b"a", b"v", b"PX", b"100"), cid, 1))
    other = g1.result(Register(), "b").client_id  # sessions are per shard
    assert g1.result(RedisWrite((b"SET", b"b", b"w"), other, 1), "b").ok
    assert purges(g1.m, NOW_MS + 50) == []  # nothing expired yet
    (entry,) = purges(g1.m, NOW_MS + 150)
    assert entry.shard == key_shard("a")
    kv = g1.m.kv[key_shard("a")]
    assert len(kv.keyspace) == 1
    assert g1.do(entry).err == OK  # type: ignore[attr-defined]
    assert len(kv.keyspace) == 0 and purges(g1.m, NOW_MS + 150) == []
    assert g1.result(Get("b"), "b").value == "w"


def test_a_shard_not_served_is_answered_wrong_group_with_the_leader_hint() -> None:
    """A replica that does not serve the shard says so (and names its leader) at once; the
    answer is a copy of the machine's refusal with the hint, since messages are frozen."""
    from sentinel.shard.group import ERR_WRONG_GROUP, ShardOp
    from sentinel.shard.groupserver import ShardGroupApp, ShardKVService

    app = ShardGroupApp()
    app.machine = ShardGroupMachine(1)
    app.leader = 3
    reply = ShardKVService(app).Op(ShardOp(0, encode_command(Get("a"))))
    assert reply == ShardReply(ERR_WRONG_GROUP, leader=3)
