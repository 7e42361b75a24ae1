"""KVStateMachine: the semantics of every operation, exactly-once writes, bad entries."""

from __future__ import annotations

import pytest

from sentinel.kvraft import (
    VALUE_BYTES_MAX,
    Append,
    Cas,
    Delete,
    Get,
    KVStateMachine,
    Put,
    Register,
    Result,
    ResultCode,
    encode_command,
)
from sentinel.wire import decode, encode

OK, NO_KEY = ResultCode.OK, ResultCode.NO_KEY


def submit(sm: KVStateMachine, command) -> Result:
    """Apply `command` (or raw entry bytes) at the next log index."""
    data = command if isinstance(command, bytes) else encode_command(command)
    return sm.apply(sm.applied_index + 1, data)


@pytest.fixture
def sm() -> KVStateMachine:
    return KVStateMachine()


@pytest.fixture
def cid(sm) -> int:
    return submit(sm, Register()).client_id


def test_register_gives_the_log_index_as_client_id(sm):
    sm.apply(7, b"")
    result = submit(sm, Register())
    assert result == Result(OK, client_id=8)
    assert submit(sm, Register()).client_id == 9
    assert sm.stats().sessions == 2


def test_get_put_append_delete(sm, cid):
    assert submit(sm, Get("a")) == Result(NO_KEY)
    assert submit(sm, Put("a", "1", cid, 1)) == Result(OK)
    assert submit(sm, Get("a")) == Result(OK, "1")
    assert submit(sm, Append("a", "2", cid, 2)) == Result(OK)
    assert submit(sm, Append("b", "x", cid, 3)) == Result(OK)  # missing key counts as ""
    assert sm.read("a") == Result(OK, "12")
    assert sm.read("b") == Result(OK, "x")
    assert submit(sm, Put("a", "", cid, 4)) == Result(OK)
    assert sm.read("a") == Result(OK, "")  # an empty value is not an absent key
    assert submit(sm, Delete("a", cid, 5)) == Result(OK)
    assert sm.read("a") == Result(NO_KEY)
    assert submit(sm, Delete("a", cid, 6)) == Result(NO_KEY)


def test_cas(sm, cid):
    assert submit(sm, Cas("k", "x", "1", cid, 1)) == Result(ResultCode.CAS_MISMATCH)
    assert sm.read("k") == Result(NO_KEY)
    assert submit(sm, Cas("k", None, "1", cid, 2)) == Result(OK)  # None: create if absent
    assert submit(sm, Cas("k", None, "2", cid, 3)) == Result(ResultCode.CAS_MISMATCH)
    assert submit(sm, Cas("k", "", "2", cid, 4)) == Result(ResultCode.CAS_MISMATCH)
    assert submit(sm, Cas("k", "1", "2", cid, 5)) == Result(OK)
    assert sm.read("k") == Result(OK, "2")


def test_append_past_the_value_limit_is_refused_and_changes_nothing(sm, cid):
    big = "v" * (VALUE_BYTES_MAX - 1)
    assert submit(sm, Put("k", big, cid, 1)).ok
    assert submit(sm, Append("k", "w", cid, 2)).ok  # exactly at the limit
    before = sm.snapshot()
    result = submit(sm, Append("k", "é", cid, 3))
    assert result == Result(ResultCode.VALUE_TOO_LARGE)
    assert sm.read("k").value == big + "w"
    # The refusal is the session's reply: a retry gets it again, not a second attempt.
    assert submit(sm, Append("k", "é", cid, 3)) == Result(
        ResultCode.VALUE_TOO_LARGE, duplicate=True
    )
    assert sm.stats().bytes_held == 1 + VALUE_BYTES_MAX
    assert len(sm.snapshot()) == len(before)


@pytest.mark.parametrize(
    "write",
    [
        lambda c, s: Put("k", "p", c, s),
        lambda c, s: Append("k", "a", c, s),
        lambda c, s: Cas("k", None, "c", c, s),
        lambda c, s: Delete("k", c, s),
    ],
)
def test_a_retried_write_is_applied_once_and_gets_the_original_reply(sm, cid, write):
    if isinstance(write(cid, 1), Delete):
        assert submit(sm, Put("k", "x", cid, 1)).ok
        seq = 2
    else:
        seq = 1
    first = submit(sm, write(cid, seq))
    state = sm.read("k")
    for _ in range(3):
        again = submit(sm, write(cid, seq))
        assert again.duplicate
        assert again.code is first.code
        assert sm.read("k") == state
    # The reply survives later writes to the same key by someone else.
    other = submit(sm, Register()).client_id
    assert submit(sm, Put("k", "other", other, 1)).ok
    assert submit(sm, write(cid, seq)) == Result(first.code, duplicate=True)
    assert sm.read("k") == Result(OK, "other")


def test_a_duplicate_cas_returns_the_original_mismatch(sm, cid):
    assert submit(sm, Cas("k", "nope", "v", cid, 1)).code is ResultCode.CAS_MISMATCH
    assert submit(sm, Put("k", "nope", submit(sm, Register()).client_id, 1)).ok
    # Would now succeed if applied again; the retry must get the original answer instead.
    assert submit(sm, Cas("k", "nope", "v", cid, 1)) == Result(
        ResultCode.CAS_MISMATCH, duplicate=True
    )
    assert sm.read("k") == Result(OK, "nope")


def test_an_older_seq_is_stale_and_not_applied(sm, cid):
    assert submit(sm, Append("k", "1", cid, 1)).ok
    assert submit(sm, Append("k", "2", cid, 2)).ok
    stale = submit(sm, Append("k", "1", cid, 1))
    assert stale.code is ResultCode.STALE_REQUEST
    assert "already answered" in stale.detail
    assert sm.read("k") == Result(OK, "12")
    assert submit(sm, Append("k", "5", cid, 5)).ok  # seqs may skip


def test_a_write_from_an_unknown_client_is_refused(sm):
    result = submit(sm, Put("k", "v", 12345, 1))
    assert result.code is ResultCode.SESSION_EXPIRED
    assert "no session" in result.detail
    assert sm.read("k") == Result(NO_KEY)
    assert sm.stats().sessions == 0


def test_reads_change_nothing(sm, cid):
    assert submit(sm, Put("k", "v", cid, 1)).ok
    before = sm.snapshot()
    assert sm.read("k") == Result(OK, "v")
    assert sm.read("missing") == Result(NO_KEY)
    bad = sm.read(42)
    assert bad.code is ResultCode.BAD_COMMAND and "key must be a str" in bad.detail
    assert sm.read("").code is ResultCode.BAD_COMMAND
    assert sm.snapshot() == before


@pytest.mark.parametrize(
    "entry",
    [b"garbage", b"K\x01\x63", b"K\x01\x02\x00", encode(("Put", "k", "v", 1, 1)), "text", None],
)
def test_a_bad_entry_gives_bad_command_and_changes_nothing_but_the_index(entry):
    replicas = [KVStateMachine(), KVStateMachine()]
    for sm in replicas:
        cid = submit(sm, Register()).client_id
        assert submit(sm, Put("k", "v", cid, 1)).ok
    result = replicas[0].apply(3, entry)
    replicas[1].apply(3, b"")  # the same index as a no-op
    assert result.code is ResultCode.BAD_COMMAND
    assert result.detail
    assert replicas[0].snapshot() == replicas[1].snapshot()
    assert submit(replicas[0], Append("k", "w", 1, 2)).ok  # the replica keeps serving
    assert replicas[0].read("k") == Result(OK, "vw")


def test_a_bad_entry_gets_the_same_result_on_every_replica():
    results = {KVStateMachine().apply(1, b"K\x01\x03\x05").detail for _ in range(3)}
    assert len(results) == 1


def test_apply_refuses_an_index_that_does_not_advance(sm):
    sm.apply(5, b"")
    for index in (5, 4, 0, True, "6"):
        with pytest.raises(ValueError, match="is applied"):
            sm.apply(index, b"")
    assert sm.apply(9, b"").ok  # gaps are allowed (entries the server skipped)
    assert sm.applied_index == 9


def test_stats(sm, cid):
    submit(sm, Put("ké", "vvv", cid, 1))
    submit(sm, Put("a", "", cid, 2))
    submit(sm, Append("a", "xy", cid, 3))
    stats = sm.stats()
    assert (stats.keys, stats.bytes_held, stats.sessions) == (2, 3 + 3 + 1 + 2, 1)
    assert stats.applied_index == 4
    submit(sm, Delete("ké", cid, 4))
    assert sm.stats().bytes_held == 3
    assert decode(encode(sm.stats())) == sm.stats()  # travels to the dashboard


def test_results_travel_on_the_wire(sm, cid):
    for result in (submit(sm, Get("nope")), Result(OK, "v", True, 3, "why")):
        assert decode(encode(result)) == result
