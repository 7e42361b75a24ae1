"""Hashes and sets through a real 3-node cluster (`up --redis-port`), driven by redis-py in
RESP2 and RESP3: every command with the answers Redis documents, WRONGTYPE across types,
TYPE / SCAN TYPE / RENAME / expiry / MULTI-EXEC on them, and every member surviving a
restart of every node from a snapshot, identical (members in the same order)."""

from __future__ import annotations

import json

import pytest
import redis

from tests.redis.test_real_cluster import Cluster, cluster  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.processes]


def as_set(reply: object) -> set[bytes]:
    """SMEMBERS and the like: a set in RESP2 (redis-py's callback); this front door sends
    an array in RESP3 too, which redis-py hands over as a list."""
    assert isinstance(reply, set | list), reply
    return set(reply)


@pytest.mark.parametrize("protocol", [2, 3])
def test_hash_commands(cluster: Cluster, protocol: int) -> None:  # noqa: F811
    r = cluster.client(protocol)
    h = f"hash{protocol}"
    assert r.hset(h, mapping={"f1": "v1", "f2": "v2"}) == 2
    assert r.hset(h, "f1", "v1b") == 0 and r.hmset(h, {"f3": "3"}) is True
    assert r.hsetnx(h, "f1", "x") == 0 and r.hsetnx(h, "f4", "x") == 1
    assert r.hget(h, "f1") == b"v1b" and r.hget(h, "nope") is None
    assert r.hmget(h, ["f1", "nope", "f3"]) == [b"v1b", None, b"3"]
    assert r.hexists(h, "f2") == 1 and r.hexists(h, "nope") == 0
    assert r.hlen(h) == 4 and r.hstrlen(h, "f1") == 3
    assert r.hgetall(h) == {b"f1": b"v1b", b"f2": b"v2", b"f3": b"3", b"f4": b"x"}
    assert sorted(r.hkeys(h)) == [b"f1", b"f2", b"f3", b"f4"]
    assert sorted(r.hvals(h)) == [b"3", b"v1b", b"v2", b"x"]
    assert r.hincrby(h, "f3", 5) == 8 and r.hincrby(h, "n", -2) == -2
    assert float(r.hincrbyfloat(h, "fl", 10.5)) == 10.5
    assert float(r.hincrbyfloat(h, "fl", 0.1)) == pytest.approx(10.6)
    with pytest.raises(redis.ResponseError, match="hash value is not an integer"):
        r.hincrby(h, "f1", 1)
    assert r.hrandfield(h) in {b"f1", b"f2", b"f3", b"f4", b"n", b"fl"}
    assert len(set(r.hrandfield(h, 3))) == 3 and len(r.hrandfield(h, -10)) == 10
    picked = r.hrandfield(h, 2, withvalues=True)  # RESP2 flat; RESP3 [field, value] pairs
    pairs = list(zip(picked[::2], picked[1::2], strict=True)) if protocol == 2 else picked
    assert len(pairs) == 2 and all(r.hget(h, f) == v for f, v in pairs)
    cursor, found = r.hscan(h, 0, match="f*")
    assert cursor == 0 and set(found) == {b"f1", b"f2", b"f3", b"f4", b"fl"}
    assert r.hdel(h, "f1", "f2", "nope") == 2
    assert r.hdel(h, "f3", "f4", "n", "fl") == 4 and r.exists(h) == 0
    assert r.hgetall(h) == {} and r.hrandfield(h) is None


@pytest.mark.parametrize("protocol", [2, 3])
def test_set_commands(cluster: Cluster, protocol: int) -> None:  # noqa: F811
    r = cluster.client(protocol)
    s, t, d = f"set{protocol}", f"set{protocol}t", f"set{protocol}d"
    assert r.sadd(s, "a", "b", "c", "a") == 3 and r.sadd(t, "b", "c", "d") == 3
    assert as_set(r.smembers(s)) == {b"a", b"b", b"c"} and r.scard(s) == 3
    assert r.sismember(s, "a") == 1 and r.sismember(s, "z") == 0
    assert r.smismember(s, ["a", "z"]) == [1, 0]
    assert as_set(r.sinter(s, t)) == {b"b", b"c"}
    assert as_set(r.sunion(s, t)) == {b"a", b"b", b"c", b"d"}
    assert as_set(r.sdiff(s, t)) == {b"a"}
    assert r.sintercard(2, [s, t]) == 2 and r.sintercard(2, [s, t], limit=1) == 1
    assert r.sinterstore(d, [s, t]) == 2 and as_set(r.smembers(d)) == {b"b", b"c"}
    assert r.sunionstore(d, [s, t]) == 4 and r.sdiffstore(d, [s, t]) == 1
    assert r.smove(s, d, "b") == 1 and r.smove(s, d, "zz") == 0
    assert r.srandmember(s) in {b"a", b"c"} and len(r.srandmember(s, -5)) == 5
    assert set(r.srandmember(s, 5)) == {b"a", b"c"}
    cursor, found = r.sscan(t, 0)
    assert cursor == 0 and set(found) == {b"b", b"c", b"d"}
    popped = r.spop(s)
    assert popped in {b"a", b"c"} and r.scard(s) == 1
    assert len(r.spop(t, 2)) == 2 and r.scard(t) == 1
    assert r.srem(s, "a", "c") == 1 and r.exists(s) == 0
    assert r.spop(s) is None and r.srandmember(s) is None


def test_types_meet_wrongtype_rename_scan_expiry_and_transactions(cluster: Cluster) -> None:  # noqa: F811
    r = cluster.client(3)
    r.hset("mix:h", "f", "1")
    r.sadd("mix:s", "m")
    r.set("mix:str", "v")
    assert r.type("mix:h") in (b"hash", "hash") and r.type("mix:s") in (b"set", "set")
    for call in (lambda: r.get("mix:h"), lambda: r.sadd("mix:h", "x"),
                 lambda: r.hget("mix:s", "f"), lambda: r.smembers("mix:str")):  # fmt: skip
        with pytest.raises(redis.ResponseError, match=r"^WRONGTYPE Operation against a key"):
            call()
    found = {k for k in r.scan_iter(match="mix:*", _type="set")}
    assert found == {b"mix:s"}
    assert r.rename("mix:h", "mix:h2") is True and r.hget("mix:h2", "f") == b"1"
    assert r.pexpire("mix:s", 200) is True
    cluster.wait_for(lambda: r.exists("mix:s") == 0, "the set to expire")
    pipe = r.pipeline(transaction=True)
    pipe.sadd("mix:tx", "a", "b").spop("mix:tx").hset("mix:txh", "f", "v").hgetall("mix:txh")
    added, popped, new, whole = pipe.execute()
    assert (added, new, whole) == (2, 1, {b"f": b"v"}) and popped in (b"a", b"b")


def snapshot_indexes(cluster: Cluster) -> list[int]:  # noqa: F811
    """Every node's snapshot index, by node id."""
    nodes = json.loads(cluster.run("status", "--json"))["nodes"]
    return [n["snapshot_index"] or 0 for n in sorted(nodes, key=lambda n: n["id"])]


def test_hashes_and_sets_survive_a_restart_from_a_snapshot(cluster: Cluster) -> None:  # noqa: F811
    """Enough data to pass maxraftstate (8 MiB): every node snapshots; then every node is
    restarted, and every hash and set reads back the same, in the same order."""
    r = cluster.client()
    snapped = snapshot_indexes(cluster)
    pipe = r.pipeline(transaction=False)
    for i in range(50):
        pipe.sadd("snap:s", *(f"{i}:{j}" for j in range(20)))
        pipe.hset("snap:h", f"f{i}", str(i))
    big = "x" * 60_000
    for i in range(180):  # after the sets: the snapshot holds them
        pipe.hset("snap:big", f"f{i}", big)
    pipe.execute()
    cluster.wait_for(
        lambda: all(new > old for new, old in zip(snapshot_indexes(cluster), snapped, strict=True)),
        "every node to take a snapshot",
    )
    before = (r.hkeys("snap:big"), r.hgetall("snap:h"), r.sscan("snap:s", 0, count=10_000))
    raw = cluster.client()
    raw.set_response_callback("SMEMBERS", lambda reply, **_: reply)  # the order, not a set
    before_order = raw.smembers("snap:s")
    for node in (1, 2, 3):
        cluster.run("restart", str(node))
    cluster.wait_for(cluster.leader, "a leader after the restarts")
    after = (r.hkeys("snap:big"), r.hgetall("snap:h"), r.sscan("snap:s", 0, count=10_000))
    assert after == before
    assert raw.smembers("snap:s") == before_order and len(before_order) == 1000
    assert r.hget("snap:big", "f179") == big.encode()
