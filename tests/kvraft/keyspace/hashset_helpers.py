"""Shared helpers of the hash and set tests: a strategy of hash/set commands (with a few
string and key commands mixed in, so WRONGTYPE, RENAME and expiry meet the collections),
and replies made comparable where Redis leaves their order open."""

from __future__ import annotations

from sentinel.kvraft.keyspace.replies import Map, Reply
from tests.kvraft.keyspace.helpers import plain

KEYS = [b"h", b"s", b"t", b"x"]
MEMBERS = [b"a", b"b", b"c", b"1", b"-2", b"2.5", b"", b"\xff\r\n"]
NUMBERS = [b"-3", b"-1", b"0", b"1", b"2", b"5", b"9223372036854775807", b"x", b"1.5"]

#: Commands whose reply lists elements in an order Redis leaves open.
UNORDERED = {b"SMEMBERS", b"SINTER", b"SUNION", b"SDIFF", b"HKEYS", b"HVALS"}
#: Commands whose reply lists field/value pairs in an open order.
UNORDERED_PAIRS = {b"HGETALL"}
#: Commands whose reply is [cursor, elements] (pairs for HSCAN).
SCANS = {b"SSCAN": 1, b"HSCAN": 2}
#: Commands that draw random members: compared by shape, not content, against Redis.
RANDOM = {b"SPOP", b"SRANDMEMBER", b"HRANDFIELD"}


def flat(reply: Reply) -> object:
    """`plain`, with a Map as RESP2 writes it (a flat array)."""
    if isinstance(reply, Map):
        return [plain(item) for pair in reply.pairs for item in pair]
    return plain(reply)


def comparable(command: list[bytes], reply: object) -> object:
    """`reply` (plain values) in a canonical order where Redis's order is open."""
    name = command[0].upper()
    if not isinstance(reply, list):
        return reply
    if name in UNORDERED:
        return sorted(reply)
    if name in UNORDERED_PAIRS:
        return sorted(zip(reply[::2], reply[1::2], strict=True))
    if name in SCANS and len(reply) == 2 and isinstance(reply[1], list):
        step = SCANS[name]
        items = reply[1]
        return [reply[0], sorted(tuple(items[i : i + step]) for i in range(0, len(items), step))]
    return reply


def collection_commands(max_size: int = 30):  # type: ignore[no-untyped-def]
    """A hypothesis strategy of command lists over a few keys: every hash and set command
    (valid or not), and SET / DEL / RENAME / TYPE / PEXPIRE on the same keys."""
    from hypothesis import strategies as st

    key = st.sampled_from(KEYS)
    member = st.sampled_from(MEMBERS)
    members = st.lists(member, min_size=1, max_size=4)
    number = st.sampled_from(NUMBERS)

    def cmd(name: bytes, *parts):  # type: ignore[no-untyped-def]
        return st.tuples(st.just([name]), *parts).map(lambda t: [x for p in t for x in p])

    one = st.builds(lambda x: [x], key)
    word = st.builds(lambda x: [x], member)
    num = st.builds(lambda x: [x], number)
    many_keys = st.lists(key, min_size=1, max_size=3)
    pairs = st.lists(st.tuples(member, member), min_size=1, max_size=3).map(
        lambda ps: [x for p in ps for x in p]
    )
    scan_opts = st.sampled_from([[], [b"MATCH", b"[a-c]"], [b"MATCH", b"*"], [b"COUNT", b"0"]])
    count_opt = st.one_of(st.just([]), num)
    command = st.one_of(
        cmd(b"HSET", one, pairs),
        cmd(b"HMSET", one, pairs),
        cmd(b"HSETNX", one, word, word),
        st.tuples(st.sampled_from([b"HGET", b"HEXISTS", b"HSTRLEN"]), key, member).map(list),
        cmd(b"HMGET", one, members),
        cmd(b"HDEL", one, members),
        st.tuples(st.sampled_from([b"HLEN", b"HGETALL", b"HKEYS", b"HVALS"]), key).map(list),
        cmd(b"HINCRBY", one, word, num),
        cmd(b"HINCRBYFLOAT", one, word, num),
        cmd(b"HRANDFIELD", one, count_opt),
        cmd(b"HRANDFIELD", one, num, st.just([b"WITHVALUES"])),
        cmd(b"HSCAN", one, st.just([b"0", b"COUNT", b"1000"]), scan_opts),
        cmd(b"SADD", one, members),
        cmd(b"SREM", one, members),
        st.tuples(st.sampled_from([b"SMEMBERS", b"SCARD"]), key).map(list),
        cmd(b"SISMEMBER", one, word),
        cmd(b"SMISMEMBER", one, members),
        cmd(b"SPOP", one, count_opt),
        cmd(b"SRANDMEMBER", one, count_opt),
        cmd(b"SMOVE", one, one, word),
        st.tuples(st.sampled_from([b"SINTER", b"SUNION", b"SDIFF"]), many_keys).map(
            lambda t: [t[0], *t[1]]
        ),
        st.tuples(
            st.sampled_from([b"SINTERSTORE", b"SUNIONSTORE", b"SDIFFSTORE"]), key, many_keys
        ).map(lambda t: [t[0], t[1], *t[2]]),
        cmd(b"SINTERCARD", st.just([b"2"]), one, one, st.sampled_from([[], [b"LIMIT", b"1"]])),
        cmd(b"SSCAN", one, st.just([b"0", b"COUNT", b"1000"]), scan_opts),
        cmd(b"SET", one, word),
        st.tuples(st.sampled_from([b"DEL", b"TYPE", b"GET", b"PERSIST"]), key).map(list),
        cmd(b"RENAME", one, one),
        cmd(b"PEXPIRE", one, st.sampled_from([[b"0"], [b"100000"]])),
    )
    return st.lists(command, max_size=max_size)
