"""Session expiry: bounded, least-recently-used in log order, identical on every replica, and
never a double apply for a client whose session expired."""

from __future__ import annotations

import os
import random

import pytest

from sentinel.kvraft import (
    Append,
    Get,
    InvalidRequest,
    KVStateMachine,
    Put,
    Register,
    Result,
    ResultCode,
    Session,
    SessionTable,
    encode_command,
)

OK = ResultCode.OK


def submit(sm: KVStateMachine, command) -> Result:
    data = command if isinstance(command, bytes) else encode_command(command)
    return sm.apply(sm.applied_index + 1, data)


def test_least_recently_used_session_expires_first():
    sm = KVStateMachine(sessions_max=3)
    a, b, c = (submit(sm, Register()).client_id for _ in range(3))
    assert submit(sm, Put("k", "a", a, 1)).ok  # a is now the most recently used
    d = submit(sm, Register()).client_id  # evicts b, the least recently used
    assert sm.stats().sessions == 3
    assert submit(sm, Put("k", "b", b, 1)).code is ResultCode.SESSION_EXPIRED
    for client in (a, c, d):
        assert submit(sm, Put("k", str(client), client, 5)).ok
    assert sm.stats().sessions_expired == 1


def test_a_duplicate_or_stale_write_also_counts_as_use():
    sm = KVStateMachine(sessions_max=2)
    a, b = (submit(sm, Register()).client_id for _ in range(2))
    assert submit(sm, Put("k", "1", a, 2)).ok
    assert submit(sm, Put("k", "1", b, 1)).ok
    assert submit(sm, Put("k", "1", a, 1)).code is ResultCode.STALE_REQUEST  # touches a
    submit(sm, Register())  # evicts b
    assert submit(sm, Put("k", "1", a, 2)) == Result(OK, duplicate=True)
    assert submit(sm, Put("k", "1", b, 1)).code is ResultCode.SESSION_EXPIRED


def test_a_retry_after_expiry_is_never_applied_twice():
    """The client's Append was applied, its reply lost, and its session expired before the
    retry arrived. The retry must not append again: it gets SESSION_EXPIRED (outcome unknown),
    and the client registers afresh."""
    sm = KVStateMachine(sessions_max=1)
    cid = submit(sm, Register()).client_id
    assert submit(sm, Append("k", "x", cid, 1)).ok  # reply lost in the network
    submit(sm, Register())  # another client: cid's session expires
    retry = submit(sm, Append("k", "x", cid, 1))
    assert retry.code is ResultCode.SESSION_EXPIRED
    assert "outcome of its earlier requests is unknown" in retry.detail
    assert sm.read("k") == Result(OK, "x")
    # Even a late duplicate of the original Register cannot bring the old session back: a new
    # Register gets a new id (its own log index), so the old id stays unknown forever.
    again = submit(sm, Register()).client_id
    assert again != cid
    assert submit(sm, Append("k", "x", cid, 1)).code is ResultCode.SESSION_EXPIRED
    assert submit(sm, Append("k", "y", again, 1)).ok
    assert sm.read("k") == Result(OK, "xy")


def test_session_table_refuses_a_bad_bound():
    for bad in (0, -1, 1.5, True, None):
        with pytest.raises(InvalidRequest, match="sessions_max"):
            SessionTable(bad)


def test_from_sessions_orders_by_last_index_then_client_id():
    sessions = [Session(5, 1, OK, 9), Session(3, 1, OK, 9), Session(1, 2, OK, 4)]
    table = SessionTable.from_sessions(sessions, sessions_max=2)
    assert [s.client_id for s in table] == [3, 5]  # (4, 1) expired; ties broken by client id
    assert table.expired_total == 1


def test_long_run_stays_bounded_and_replicas_end_byte_identical():
    """50,000 clients, 100,000 writes, sessions_max=1000: a bounded table, no double apply,
    and two replicas fed the same log hold byte-identical snapshots."""
    seed = int(os.environ.get("KV_TEST_SEED", "6824"))
    print(f"seed={seed} (replay with KV_TEST_SEED={seed})")
    rng = random.Random(seed)
    sessions_max, clients_total, writes_total = 1000, 50_000, 100_000
    log: list[bytes] = []
    clients: list[int] = []  # client ids, in registration order
    next_seq: dict[int, int] = {}
    sent: dict[int, list[bytes]] = {}  # client -> its writes, for retries
    writes = 0
    while writes < writes_total:
        if len(clients) < clients_total and (not clients or rng.random() < 1 / 3):
            log.append(encode_command(Register()))
            clients.append(len(log))
            next_seq[len(log)] = 1
            continue
        # Mostly recent clients (alive), sometimes any client (likely expired).
        window = 800 if rng.random() < 0.9 else len(clients)
        cid = clients[-1 - rng.randrange(min(window, len(clients)))]
        if sent.get(cid) and rng.random() < 0.2:
            log.append(rng.choice(sent[cid][-2:]))  # a retry: duplicate or stale
        else:
            seq = next_seq[cid]
            next_seq[cid] = seq + 1
            entry = encode_command(Append(f"k{cid % 5000}", f"<{cid}.{seq}>", cid, seq))
            sent.setdefault(cid, []).append(entry)
            log.append(entry)
        writes += 1

    replicas = [KVStateMachine(sessions_max), KVStateMachine(sessions_max)]
    results = [[], []]
    for index, entry in enumerate(log, start=1):
        for replica, out in zip(replicas, results, strict=True):
            out.append(replica.apply(index, entry))
        if index % 1000 == 0:
            assert replicas[0].stats().sessions <= sessions_max
    assert results[0] == results[1]
    assert replicas[0].snapshot() == replicas[1].snapshot()
    codes = [r.code for r in results[0]]
    print({code.name: codes.count(code) for code in set(codes)})
    assert replicas[0].stats().sessions == sessions_max
    assert codes.count(ResultCode.SESSION_EXPIRED) > 0  # expiry did happen
    assert sum(r.duplicate for r in results[0]) > 0

    # Exactly once: each key holds exactly the appends that were applied (not duplicate, OK),
    # in log order, each once.
    expected: dict[str, str] = {}
    for entry, result in zip(log, results[0], strict=True):
        if result.code is OK and not result.duplicate and entry[2] == 4:  # Append op code
            command = _decode(entry)
            expected[command.key] = expected.get(command.key, "") + command.value
    for key, value in expected.items():
        assert replicas[0].read(key) == Result(OK, value)
    assert replicas[0].stats().keys == len(expected)
    assert submit(replicas[0], Get("k1")).code in (OK, ResultCode.NO_KEY)


def _decode(entry: bytes):
    from sentinel.kvraft import decode_command

    return decode_command(entry)
