"""The client's Redis API (redis / redis_exec / redis_versions and their _async twins)
against real processes: writes exactly once across a leader kill, EXEC all or nothing, WATCH,
and expiry that every replica agrees on across a restart."""

from __future__ import annotations

import threading
import time

import pytest
from harness_kv import OP_DEADLINE_S

import sentinel
from sentinel.kvraft.keyspace import Array, Bulk, Error, Int, Null, Simple

pytestmark = pytest.mark.processes


def _wait_for(condition, what: str, deadline_s: float = 20.0) -> None:
    deadline = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_commands_replies_and_validation(make_cluster):
    cfg = make_cluster(3)
    with sentinel.connect(cfg.directory) as kv:
        assert kv.redis([b"SET", b"k\r\n\x00", b"v\x00\xff"]) == Simple("OK")
        assert kv.redis([b"get", b"k\r\n\x00"]) == Bulk(b"v\x00\xff")
        assert kv.redis([b"GET", b"missing"]) == Null()
        assert kv.redis([b"INCR", b"n"]) == Int(1)
        assert kv.redis_async([b"INCRBY", b"n", b"41"]).result(OP_DEADLINE_S) == Int(42)
        assert kv.redis([b"INCR", b"k\r\n\x00"]) == Error(
            "ERR value is not an integer or out of range"
        )
        # refused before anything is sent: the Error reply, not an exception
        rpcs = kv.rpcs
        assert kv.redis([b"GET"]).text.startswith("ERR wrong number of arguments")
        assert kv.redis([b"NOSUCH", b"x"]).text.startswith("ERR unknown command")
        assert kv.rpcs == rpcs
        # the str API and the Redis API share one store
        kv.put("s", "text")
        assert kv.redis([b"APPEND", b"s", b"!"]) == Int(5)
        assert kv.get("s") == "text!"
        # INFO's raft section: every server's own view
        states = kv.server_states(timeout_s=5.0)
        assert sorted(states) == [1, 2, 3] and all(states.values())
        leaders = [st for st in states.values() if st.is_leader]
        assert len(leaders) == 1 and leaders[0].commit >= leaders[0].applied > 0


def test_exec_is_all_or_nothing_and_watch_aborts(make_cluster):
    cfg = make_cluster(3)
    with sentinel.connect(cfg.directory) as kv:
        kv.redis([b"SET", b"a", b"1"])
        versions = kv.redis_versions([b"a", b"b"])
        assert set(versions) == {b"a", b"b"}
        replies = kv.redis_exec([[b"INCR", b"a"], [b"SET", b"b", b"x"], [b"INCR", b"b"]], versions)
        assert replies == [
            Int(2),
            Simple("OK"),
            Error("ERR value is not an integer or out of range"),
        ]
        # a watched key changed since its version was read: nothing of the block runs
        assert kv.redis_exec([[b"SET", b"a", b"zzz"], [b"DEL", b"b"]], versions) is None
        assert kv.redis([b"MGET", b"a", b"b"]) == Array((Bulk(b"2"), Bulk(b"x")))
        bad = kv.redis_exec([[b"SET", b"a", b"9"], [b"GET"]])
        assert isinstance(bad, Error) and kv.redis([b"GET", b"a"]) == Bulk(b"2")


def _kill_leader_then_restart(cfg, pause_s: float = 0.5) -> None:
    leader = cfg.wait_leader()
    cfg.shutdown_server(leader)
    time.sleep(pause_s)  # a workload runs meanwhile: not a wait for a condition
    cfg.start_server(leader)


def _run_threads(target, count: int) -> list:
    results: list = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = target(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    return threads, results, errors


def test_incr_from_several_clients_across_a_leader_kill_ends_exactly_right(make_cluster):
    cfg = make_cluster(3)
    clients, per_client = 4, 40
    with sentinel.connect(cfg.directory) as kv:
        kv.redis([b"SET", b"warm", b"1"])

        def incr(_i: int) -> list[int]:
            with sentinel.connect(cfg.directory) as mine:
                return [mine.redis([b"INCR", b"n"], timeout_s=OP_DEADLINE_S).value
                        for _ in range(per_client)]  # fmt: skip

        threads, results, errors = _run_threads(incr, clients)
        _kill_leader_then_restart(cfg)
        for t in threads:
            t.join(OP_DEADLINE_S * per_client)
        assert not errors, errors
        total = clients * per_client
        assert kv.redis([b"GET", b"n"]) == Bulk(str(total).encode())
        seen = sorted(value for values in results for value in values)
        assert seen == list(range(1, total + 1))  # every INCR applied once, answered once
        for values in results:
            assert values == sorted(values)


def test_exec_is_never_half_applied_across_a_leader_kill(make_cluster):
    cfg = make_cluster(3)
    rounds = 30
    with sentinel.connect(cfg.directory) as kv:
        kv.redis([b"SET", b"a", b"0"])

        def transactions(_i: int) -> int:
            done = 0
            with sentinel.connect(cfg.directory) as mine:
                for _ in range(rounds):
                    block = [[b"INCR", b"a"], [b"INCR", b"b"], [b"INCRBY", b"a", b"x"]]
                    replies = mine.redis_exec(block, timeout_s=OP_DEADLINE_S)
                    assert isinstance(replies[2], Error)  # a run-time error, in place
                    done += 1
            return done

        threads, results, errors = _run_threads(transactions, 3)
        _kill_leader_then_restart(cfg)
        for t in threads:
            t.join(OP_DEADLINE_S * rounds)
        assert not errors, errors
        both = kv.redis([b"MGET", b"a", b"b"])
        assert both == Array((Bulk(b"%d" % sum(results)), Bulk(b"%d" % sum(results))))


def test_expired_keys_are_gone_on_every_replica_after_a_restart(make_cluster):
    cfg = make_cluster(3, maxraftstate=2000)  # snapshots too: they keep expiry times
    with sentinel.connect(cfg.directory) as kv:
        for i in range(40):
            kv.redis([b"SET", b"t%d" % i, b"v" * 50, b"PX", b"1500"])
        kv.redis([b"SET", b"kept", b"v"])
        # not expired yet: stored on every replica
        _wait_for(lambda: all(cfg.state(i).keys == 41 for i in cfg.all()), "41 keys everywhere")
    for i in cfg.all():
        cfg.shutdown_server(i)
    for i in cfg.all():
        cfg.start_server(i)
    with sentinel.connect(cfg.directory) as kv:
        assert kv.redis([b"GET", b"kept"]) == Bulk(b"v")
        assert kv.redis([b"PTTL", b"t0"]).value <= 1500
        every = [b"EXISTS", *(b"t%d" % i for i in range(40))]
        _wait_for(lambda: kv.redis(every) == Int(0), "the keys to expire")
        assert kv.redis([b"GET", b"t39"]) == Null()
        # the leader purges through the log: every replica frees the keys
        _wait_for(lambda: all(cfg.state(i).keys == 1 for i in cfg.all()), "purges everywhere")
        assert kv.redis([b"DBSIZE"]) == Int(1)
