"""The public client (`sentinel.connect`) against real processes: semantics, thread safety,
refusal of bad input before the log, deadlines that say "outcome unknown", and a cluster
restarted from its snapshots serving the same data."""

from __future__ import annotations

import threading
import time

import pytest
from harness_kv import OP_DEADLINE_S

import sentinel
from sentinel.kvraft import Get, InvalidRequest, Put, ResultCode, encode_command
from sentinel.kvraft.client import Client
from sentinel.kvraft.errors import OutcomeUnknown, Unavailable
from sentinel.kvraft.limits import KEY_BYTES_MAX, VALUE_BYTES_MAX
from sentinel.kvraft.protocol import INVALID, KVReply
from sentinel.netsim.rpc import RpcError

pytestmark = pytest.mark.processes


def test_connect_operations_and_threads(make_cluster):
    cfg = make_cluster(3)
    with sentinel.connect(cfg.directory) as kv:
        assert kv.servers == (1, 2, 3)
        assert kv.get("k") is None
        kv.put("k", "v")
        kv.append("k", "w")
        assert kv.get("k") == "vw"
        assert kv.cas("k", "nope", "x") is False
        assert kv.cas("k", "vw", "x") is True
        assert kv.cas("new", None, "1") is True
        assert kv.delete("k") is True and kv.delete("k") is False
        assert kv.get("k") is None and kv.get("new") == "1"

        def appender(me: int) -> None:
            for j in range(10):
                kv.append("shared", f"<{me}.{j}>", timeout_s=OP_DEADLINE_S)

        threads = [threading.Thread(target=appender, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(OP_DEADLINE_S)
        value = kv.get("shared")
        for me in range(8):  # every append once, each thread's in order
            offsets = [value.index(f"<{me}.{j}>") for j in range(10)]
            assert offsets == sorted(offsets)
            assert all(value.count(f"<{me}.{j}>") == 1 for j in range(10))


def test_a_value_at_the_size_limit_is_stored_and_read_back(make_cluster):
    cfg = make_cluster(3)
    key, value = "k" * KEY_BYTES_MAX, "é" * (VALUE_BYTES_MAX // 2)  # 1 MiB of UTF-8
    with sentinel.connect(cfg.directory) as kv:
        kv.put(key, value, timeout_s=OP_DEADLINE_S)
        assert kv.get(key, timeout_s=OP_DEADLINE_S) == value


def test_bad_input_is_refused_before_anything_is_sent(make_cluster):
    cfg = make_cluster(3)
    assert cfg.net is not None
    ck = Client(cfg.net, [1, 2, 3], owns_network=False)
    bad = [
        lambda: ck.put("", "v"),
        lambda: ck.put(7, "v"),  # type: ignore[arg-type]
        lambda: ck.append("k", b"bytes"),  # type: ignore[arg-type]
        lambda: ck.put("k", "v" * (1024 * 1024 + 1)),
        lambda: ck.cas("k", 1, "v"),  # type: ignore[arg-type]
        lambda: ck.get("k" * 1025),
    ]
    for call in bad:
        with pytest.raises(InvalidRequest):
            call()
    assert ck.rpcs == 0  # nothing reached a server, not even Register
    with sentinel.connect(cfg.directory) as kv, pytest.raises(ValueError):
        kv.put("k", "v", timeout_s=0)


def test_deadline_raises_outcome_unknown_never_silent_loss(make_cluster):
    cfg = make_cluster(3)
    with sentinel.connect(cfg.directory) as kv:
        kv.put("k", "before")  # registers the session
        for i in range(3):
            cfg.shutdown_server(i)
        t0 = time.monotonic()
        with pytest.raises(OutcomeUnknown, match="may or may not have been applied"):
            kv.put("k", "during", timeout_s=0.5)
        with pytest.raises(Unavailable):
            kv.get("k", timeout_s=0.5)
        assert time.monotonic() - t0 < 5.0
        for i in range(3):
            cfg.start_server(i)
        assert kv.get("k", timeout_s=OP_DEADLINE_S) in ("before", "during")
        kv.put("k", "after", timeout_s=OP_DEADLINE_S)  # the next seq: the session goes on
        assert kv.get("k", timeout_s=OP_DEADLINE_S) == "after"


def test_restart_from_snapshots_serves_the_same_data(make_cluster):
    cfg = make_cluster(3, maxraftstate=1000)
    with sentinel.connect(cfg.directory) as kv:
        want = {f"key{i}": f"value {i} " * 3 for i in range(60)}
        for key, value in want.items():
            kv.put(key, value, timeout_s=OP_DEADLINE_S)
        kv.append("key0", "+", timeout_s=OP_DEADLINE_S)
        want["key0"] += "+"
        deadline = time.monotonic() + OP_DEADLINE_S
        while not all(st is not None and st.snapshot_bytes > 0 for st in cfg.states()):
            assert time.monotonic() < deadline, "not every server took a snapshot"
            time.sleep(0.05)
        for i in range(3):
            cfg.shutdown_server(i)
        for i in range(3):
            cfg.start_server(i)
        for st in cfg.states():  # the snapshot is restored before anything is served
            assert st is not None and st.applied > 0
        got = {key: kv.get(key, timeout_s=OP_DEADLINE_S) for key in want}
        assert got == want
        kv.append("key0", "!", timeout_s=OP_DEADLINE_S)  # sessions survived the restart
        assert kv.get("key0", timeout_s=OP_DEADLINE_S) == want["key0"] + "!"


def test_garbage_rpcs_get_clear_errors_and_the_server_keeps_serving(make_cluster):
    cfg = make_cluster(3)
    assert cfg.net is not None
    leader = cfg.wait_leader()
    end = cfg.net.end(leader + 1)
    with pytest.raises(RpcError, match="unknown method"):
        end.call("KVServer.Frobnicate", encode_command(Put("k", "v", 1, 1)), 5.0)
    for method, args, says in [
        ("KVServer.Put", encode_command(Get("k")), "Put takes a Put command, not Get"),
        ("KVServer.Put", b"K\x01\x03\x01\x01\x01k\x02\xff\xfe", "invalid UTF-8"),
        ("KVServer.Append", b"K\x01\x04\x00\x01\x01k\x01v", "number 0 is out of range"),
        ("KVServer.Get", {"key": "k"}, "Get takes an encoded Get command (bytes), not dict"),
        ("KVServer.Put", encode_command(Put("k", "v", 10**6, 1)), ""),  # no such session
    ]:
        reply = end.call(method, args, 5.0)
        assert isinstance(reply, KVReply), reply
        if says:
            assert reply.err == INVALID and says in reply.detail, reply
        else:
            assert reply.result is not None and reply.result.code is ResultCode.SESSION_EXPIRED
    with sentinel.connect(cfg.directory) as kv:
        assert kv.get("k", timeout_s=OP_DEADLINE_S) is None  # nothing above changed a thing
        kv.put("k", "v", timeout_s=OP_DEADLINE_S)
        assert kv.get("k", timeout_s=OP_DEADLINE_S) == "v"


def test_a_leader_with_a_lease_answers_reads_without_a_heartbeat_round_each(make_cluster):
    # Without the lease every Get costs a heartbeat to each follower; with it, a follower
    # sees only the periodic heartbeats (20/s) and a round per lease (~9/s), whatever the
    # number of reads.
    cfg = make_cluster(3)
    reads = 300
    with sentinel.connect(cfg.directory) as kv:
        kv.put("k", "v", timeout_s=OP_DEADLINE_S)
        leader = cfg.wait_leader() + 1

        def received() -> dict[int, int]:
            report = cfg.net.report()
            assert report is not None
            return {s.endpoint_id: s.received_msgs for s in report.stats}

        before = received()
        began = time.monotonic()
        for _ in range(reads):
            assert kv.get("k", timeout_s=OP_DEADLINE_S) == "v"
        took_s = time.monotonic() - began
        after = received()
    for follower in {1, 2, 3} - {leader}:
        got = after[follower] - before[follower]
        assert got < reads, (
            f"follower {follower} got {got} messages for {reads} reads in {took_s:.1f} s"
        )
