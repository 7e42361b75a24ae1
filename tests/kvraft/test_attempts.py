"""The clerk's retry rules (sentinel.kvraft.attempts), through the state machine's public API
alone: feed replies and instants, check what it says to do. No processes, no clock."""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.kvraft.attempts import (
    REREGISTER_MAX,
    ROUND_PAUSE_S,
    RPC_TIMEOUT_S,
    SILENCE_S,
    Done,
    Fail,
    Operation,
    Pause,
    Send,
    SessionState,
    prepare,
)
from sentinel.kvraft.codec import encode_command
from sentinel.kvraft.commands import Append, Cas, Delete, Get, Put, Register, validate_command
from sentinel.kvraft.errors import OutcomeUnknown, Unavailable, ValueTooLarge
from sentinel.kvraft.limits import (
    CLIENT_ID_MAX,
    KEY_BYTES_MAX,
    SEQ_MAX,
    VALUE_BYTES_MAX,
    InvalidRequest,
)
from sentinel.kvraft.protocol import (
    ENTRY_BYTES_MAX,
    INVALID,
    OK,
    REFUSED,
    RETRY,
    WRONG_LEADER,
    KVReply,
)
from sentinel.kvraft.results import Result, ResultCode
from sentinel.kvraft.statemachine import KVStateMachine
from sentinel.netsim.rpc import RpcError, RpcReply

RPC_S = 1.5


def ok(code: ResultCode = ResultCode.OK, **fields: object) -> RpcReply:
    return RpcReply(KVReply(OK, Result(code, **fields)))  # type: ignore[arg-type]


def err(kind: str, leader: int = 0, detail: str = "") -> RpcReply:
    return RpcReply(KVReply(kind, None, leader, detail))


REGISTERED = ok(client_id=41)


def op_on(session: SessionState, kind: type, *fields: object, deadline: float | None = 100.0):
    """An Operation that waits the whole RPC_S for every answer (the silence rule is tested
    on its own, below)."""
    return Operation(session, prepare(kind, *fields), deadline, RPC_S, silence_s=RPC_S)


def registered(servers=(1, 2, 3), client_id: int = 41) -> SessionState:
    session = SessionState(servers)
    session.client_id = client_id
    return session


# -- happy paths and answers ----------------------------------------------------------------


def test_get_asks_the_remembered_leader_and_answers():
    session = SessionState([1, 2, 3])
    session.leader = 1
    op = op_on(session, Get, "k")
    send = op.start(now=0.0)
    assert send == Send(2, "KVServer.Get", Get("k"), RPC_S)
    assert op.on_reply(ok(value="v"), 0.1) == Done("v")
    assert session.leader == 1 and session.rpcs == 1


@pytest.mark.parametrize(
    ("kind", "fields", "result", "answer"),
    [
        (Get, ("k",), ok(ResultCode.NO_KEY), None),
        (Put, ("k", "v"), ok(), None),
        (Append, ("k", "v"), ok(), None),
        (Delete, ("k",), ok(), True),
        (Delete, ("k",), ok(ResultCode.NO_KEY), False),
        (Cas, ("k", None, "v"), ok(), True),
        (Cas, ("k", "a", "v"), ok(ResultCode.CAS_MISMATCH), False),
    ],
)
def test_answers(kind, fields, result, answer):
    op = op_on(registered(), kind, *fields)
    assert isinstance(op.start(0.0), Send)
    assert op.on_reply(result, 0.0) == Done(answer)


@pytest.mark.parametrize(
    ("kind", "fields", "reply", "error", "says"),
    [
        (Append, ("k", "v"), ok(ResultCode.VALUE_TOO_LARGE), ValueTooLarge, "size limit"),
        (Put, ("k", "v"), ok(ResultCode.BAD_COMMAND, detail="bad"), InvalidRequest, "bad"),
        (Put, ("k", "v"), err(INVALID, detail="nope"), InvalidRequest, "nope"),
        (Get, ("k",), RpcReply(None, "unknown method"), RpcError, "unknown method"),
        (Get, ("k",), RpcReply("not a KVReply"), RuntimeError, "not a KVReply"),
        (Get, ("k",), ok(ResultCode.STALE_REQUEST), RuntimeError, "STALE_REQUEST"),
    ],
)
def test_errors(kind, fields, reply, error, says):
    op = op_on(registered(), kind, *fields)
    op.start(0.0)
    action = op.on_reply(reply, 0.0)
    assert isinstance(action, Fail) and isinstance(action.error, error)
    assert says in str(action.error)


# -- sessions ------------------------------------------------------------------------------


def test_first_write_registers_then_numbers_writes():
    session = SessionState([1, 2, 3])
    op = op_on(session, Put, "k", "v")
    assert op.start(0.0) == Send(1, "KVServer.Register", Register(), RPC_S)
    assert op.on_reply(REGISTERED, 0.0) == Send(1, "KVServer.Put", Put("k", "v", 41, 1), RPC_S)
    assert op.on_reply(ok(), 0.0) == Done(None)
    op = op_on(session, Append, "k", "w")
    assert op.start(0.0) == Send(1, "KVServer.Append", Append("k", "w", 41, 2), RPC_S)
    assert (session.client_id, session.seq) == (41, 2)


def test_session_expired_registers_again_and_resends_under_the_new_session():
    session = registered(client_id=5)
    op = op_on(session, Put, "k", "v")
    assert op.start(0.0).command == Put("k", "v", 5, 1)
    again = op.on_reply(ok(ResultCode.SESSION_EXPIRED), 0.0)
    assert again.command == Register()
    assert op.on_reply(ok(client_id=9), 0.0).command == Put("k", "v", 9, 1)
    assert op.on_reply(ok(), 0.0) == Done(None)
    assert (session.client_id, session.seq) == (9, 1)


def test_session_expired_after_a_maybe_applied_attempt_is_outcome_unknown():
    session = registered()
    op = op_on(session, Put, "k", "v")
    op.start(0.0)
    op.on_reply(err(RETRY), 0.0)  # it may have been applied
    action = op.on_reply(ok(ResultCode.SESSION_EXPIRED), 0.0)
    assert isinstance(action, Fail) and isinstance(action.error, OutcomeUnknown)
    assert session.client_id == 0  # the next write opens a new session


def test_session_expiring_again_and_again_gives_up():
    op = op_on(registered(), Put, "k", "v")
    action = op.start(0.0)
    registrations = 0
    while isinstance(action, Send):
        if action.command == Register():
            registrations += 1
            action = op.on_reply(ok(client_id=100 + registrations), 0.0)
        else:
            action = op.on_reply(ok(ResultCode.SESSION_EXPIRED), 0.0)
    assert isinstance(action, Fail) and isinstance(action.error, OutcomeUnknown)
    assert registrations == REREGISTER_MAX - 1  # the first round used the existing session


# -- moving between servers ----------------------------------------------------------------


def test_wrong_leader_hint_is_followed_once():
    session = SessionState([1, 2, 3])
    op = op_on(session, Get, "k")
    assert op.start(0.0).server == 1
    assert op.on_reply(err(WRONG_LEADER, leader=3), 0.0).server == 3
    # a second hint right after following one is not followed: the round goes on from 3
    assert op.on_reply(err(WRONG_LEADER, leader=2), 0.0).server == 1
    assert op.on_reply(ok(value="v"), 0.0) == Done("v")
    assert session.leader == 0


def test_hint_outside_the_servers_is_ignored():
    op = op_on(SessionState([1, 2, 3]), Get, "k")
    op.start(0.0)
    assert op.on_reply(err(WRONG_LEADER, leader=7), 0.0).server == 2


def test_no_answer_moves_on_and_pauses_after_a_full_round():
    session = SessionState([1, 2, 3])
    op = op_on(session, Get, "k")
    servers = [op.start(0.0).server]
    servers.append(op.on_reply(None, 0.0).server)
    servers.append(op.on_reply(err(RETRY), 0.0).server)
    assert servers == [1, 2, 3]
    assert op.on_reply(err(WRONG_LEADER), 0.0) == Pause(ROUND_PAUSE_S)
    assert op.resume(0.05).server == 1  # the round starts again
    assert session.rpcs == 4


def test_retries_resend_the_very_same_write():
    op = op_on(registered(), Append, "k", "x")
    sent = [op.start(0.0)]
    for reply in (None, err(RETRY), err(WRONG_LEADER, leader=1)):
        action = op.on_reply(reply, 0.0)
        if isinstance(action, Pause):
            action = op.resume(0.0)
        sent.append(action)
    assert {s.command for s in sent} == {Append("k", "x", 41, 1)}


def test_set_servers_takes_effect_at_the_next_attempt():
    session = SessionState([1, 2, 3])
    session.leader = 2
    op = op_on(session, Get, "k")
    assert op.start(0.0).server == 3
    session.set_servers([3, 4])
    assert session.leader == 0  # the known leader (3) is kept
    assert op.on_reply(None, 0.0).server == 4


# -- a silent server (paused, cut off) costs about one election --------------------------


def test_a_silent_server_is_left_after_about_an_election_timeout():
    op = Operation(registered(), prepare(Put, "k", "v"), 100.0)
    first = op.start(0.0)
    assert first.server == 1 and first.timeout_s == SILENCE_S
    assert SILENCE_S <= 0.3 < RPC_TIMEOUT_S  # the longest default election timeout: 300 ms
    retry = op.on_reply(None, SILENCE_S)
    assert retry.server == 2 and retry.command == first.command  # same client id and seq


def test_the_wait_doubles_after_each_silence_up_to_the_rpc_timeout():
    op = Operation(SessionState([1, 2, 3]), prepare(Get, "k"), None)
    waits = [op.start(0.0).timeout_s]
    now = 0.0
    while len(waits) < 6:
        action = op.on_reply(None, now)
        if isinstance(action, Pause):
            action = op.resume(now)
        waits.append(action.timeout_s)
        now += 1.0
    assert waits == [SILENCE_S, 2 * SILENCE_S, 4 * SILENCE_S] + [RPC_TIMEOUT_S] * 3


def test_an_answer_that_is_not_silence_keeps_the_wait():
    op = Operation(registered(), prepare(Get, "k"), 100.0)
    op.start(0.0)
    hop = op.on_reply(err(WRONG_LEADER, leader=3), 0.0)
    assert (hop.server, hop.timeout_s) == (3, SILENCE_S)
    assert op.on_reply(err(REFUSED), 0.0).timeout_s == SILENCE_S


def test_a_slow_leader_answering_after_the_retry_does_not_apply_the_write_twice():
    """The old leader applies the write but its answer comes after the client gave up on it;
    the retry (same client id and seq) reaches the new leader, whose state machine applies
    the same log: the second copy is a duplicate, answered and not applied again."""
    sm = KVStateMachine()
    client_id = sm.apply(1, encode_command(Register())).client_id
    session = registered(servers=(1, 2, 3), client_id=client_id)
    op = Operation(session, prepare(Append, "k", "x"), 100.0)
    first = op.start(0.0)
    assert sm.apply(2, encode_command(first.command)).code is ResultCode.OK  # node 1, slow
    retry = op.on_reply(None, first.timeout_s)  # silence: try node 2
    assert retry.server == 2 and retry.command == first.command
    again = sm.apply(3, encode_command(retry.command))  # node 2 leads; the copy commits too
    assert again.code is ResultCode.OK and again.duplicate
    assert op.on_reply(RpcReply(KVReply(OK, again)), 0.5) == Done(None)
    assert sm.apply(4, encode_command(Get("k"))).value == "x"  # appended once
    assert session.leader == 1  # node 2 (position 1) is remembered as the leader


# -- deadlines -----------------------------------------------------------------------------


def test_attempt_timeout_is_cut_to_the_deadline():
    op = op_on(SessionState([1]), Get, "k", deadline=10.0)
    assert op.start(9.5).timeout_s == pytest.approx(0.5)


def test_read_deadline_is_unavailable():
    op = op_on(SessionState([1]), Get, "k", deadline=1.0)
    op.start(0.0)
    action = op.on_reply(None, 1.0)
    assert isinstance(action, Fail) and isinstance(action.error, Unavailable)


def test_write_sent_without_definite_answer_is_outcome_unknown_at_the_deadline():
    op = op_on(registered((1,)), Put, "k", "v", deadline=1.0)
    op.start(0.0)
    action = op.on_reply(None, 1.0)
    assert isinstance(action, Fail) and isinstance(action.error, OutcomeUnknown)
    assert "may or may not have been applied" in str(action.error)


def test_a_write_every_server_refused_changed_nothing_and_the_error_says_why():
    op = op_on(registered((1, 2)), Put, "k", "v", deadline=1.0)
    assert op.start(0.0).server == 1
    why = "node 1 cannot persist (disk full: No space left on device)"
    assert op.on_reply(err(REFUSED, leader=1, detail=why), 0.1).server == 2  # no hint in it
    action = op.on_reply(err(WRONG_LEADER, leader=1), 1.0)
    assert isinstance(action, Fail) and type(action.error) is Unavailable
    assert f"(last refusal: node 1: {why})" in str(action.error)
    assert "changed nothing" in str(action.error)


def test_a_write_its_deposed_leader_gave_back_may_still_be_applied():
    op = op_on(registered((1, 2, 3)), Put, "k", "v", deadline=1.0)
    assert op.start(0.0).server == 1
    deposed = err(RETRY, leader=3, detail="this node lost the leadership")
    assert op.on_reply(deposed, 0.1).server == 3  # to the new leader it names
    action = op.on_reply(err(WRONG_LEADER), 1.0)  # ... which has not heard of it yet
    assert isinstance(action, Fail) and isinstance(action.error, OutcomeUnknown)


def test_write_no_server_took_is_unavailable_at_the_deadline():
    op = op_on(registered((1, 2)), Put, "k", "v", deadline=1.0)
    op.start(0.0)
    op.on_reply(err(WRONG_LEADER), 0.1)
    action = op.on_reply(err(WRONG_LEADER), 1.0)
    assert isinstance(action, Fail) and type(action.error) is Unavailable


def test_lost_register_is_unavailable_at_the_deadline():
    op = op_on(SessionState([1]), Put, "k", "v", deadline=1.0)
    op.start(0.0)
    action = op.on_reply(None, 1.0)
    assert isinstance(action, Fail) and type(action.error) is Unavailable


def test_pause_is_cut_to_the_deadline_and_then_it_fails():
    op = op_on(SessionState([1]), Get, "k", deadline=1.0)
    op.start(0.0)
    assert op.on_reply(None, 0.99) == Pause(pytest.approx(0.01))
    action = op.resume(1.0)
    assert isinstance(action, Fail) and isinstance(action.error, Unavailable)


def test_no_deadline_retries_forever():
    op = op_on(SessionState([1, 2]), Get, "k", deadline=None)
    action = op.start(0.0)
    for i in range(1000):
        action = op.on_reply(None, float(i)) if isinstance(action, Send) else op.resume(float(i))
        assert isinstance(action, Send | Pause)
    if isinstance(action, Pause):
        action = op.resume(1e9)
    assert isinstance(action, Send)
    assert op.on_reply(ok(value="v"), 1e9) == Done("v")


def test_an_expired_call_sends_nothing():
    session = registered()
    op = op_on(session, Put, "k", "v", deadline=1.0)
    action = op.start(2.0)
    assert isinstance(action, Fail) and type(action.error) is Unavailable
    assert session.rpcs == 0


def test_cancel_says_what_the_deadline_would():
    op = op_on(registered(), Put, "k", "v")
    op.start(0.0)
    op.on_reply(None, 0.0)
    assert isinstance(op.cancel("closed").error, OutcomeUnknown)
    op = op_on(registered(), Get, "k")
    op.start(0.0)
    assert type(op.cancel("closed").error) is Unavailable


# -- a random server: the invariants hold whatever it answers -------------------------------


def test_random_replies_keep_the_invariants():
    seed = int.from_bytes(os.urandom(4), "little")
    print(f"seed={seed}")
    rng = random.Random(seed)
    moves = [None, err(RETRY), err(WRONG_LEADER), err(WRONG_LEADER, leader=2)]
    to_register = [*moves, ok(client_id=77)]
    to_write = [*moves, ok(), ok(ResultCode.SESSION_EXPIRED)]
    for _ in range(300):
        session = registered(client_id=rng.choice([0, 5]))
        deadline = rng.uniform(0.5, 3.0)
        op = op_on(session, Put, "k", "v", deadline=deadline)
        now = 0.0
        action = op.start(now)
        writes = set()
        while isinstance(action, Send | Pause):
            now += rng.uniform(0.0, 0.3)
            if isinstance(action, Pause):
                assert 0 < action.pause_s <= ROUND_PAUSE_S
                action = op.resume(now)
                continue
            assert 0 < action.timeout_s <= RPC_S and now <= deadline + 0.3
            if isinstance(action.command, Put):
                writes.add((action.command.client_id, action.command.seq))
            replies = to_register if action.command == Register() else to_write
            action = op.on_reply(rng.choice(replies), now)
        assert isinstance(action, Done | Fail), f"seed={seed}"
        if isinstance(action, Fail):
            assert isinstance(action.error, OutcomeUnknown | Unavailable), f"seed={seed}"
        # each session used numbers its write once: a retry never takes a new seq
        ids = [cid for cid, _ in writes]
        assert len(ids) == len(set(ids)), f"seed={seed}: {writes}"


# -- input validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "fields", "says"),
    [
        (Put, ("", "v"), "key must not be empty"),
        (Put, (7, "v"), "key must be a str"),
        (Append, ("k", b"v"), "value must be a str"),
        (Put, ("k", "v" * (1024 * 1024 + 1)), "limit"),
        (Cas, ("k", 1, "v"), "expected must be a str"),
        (Get, ("k" * 1025,), "key is 1025 bytes"),
        (Get, ("k\ud800",), "not valid UTF-8"),
        (Put, ("k",), "takes 2 fields"),
        (Register, (), "unknown operation"),
    ],
)
def test_bad_input_is_refused(kind, fields, says):
    with pytest.raises(InvalidRequest, match=says):
        prepare(kind, *fields)


def test_the_largest_commands_the_limits_allow_are_accepted():
    key, big = "k" * KEY_BYTES_MAX, "v" * VALUE_BYTES_MAX
    prepare(Put, key, big)
    prepare(Cas, key, big, big)  # two values at the limit still fit one log entry


_text = st.one_of(
    st.text(max_size=40),
    st.builds(lambda n, c: c * n, st.integers(1020, 1030), st.sampled_from("aé€")),
    st.builds(lambda n: "v" * n, st.integers(ENTRY_BYTES_MAX - 1100, ENTRY_BYTES_MAX + 10)),
    st.integers(),
    st.none(),
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(kind=st.sampled_from([Get, Put, Append, Delete, Cas]), fields=st.lists(_text, max_size=3))
def test_prepare_accepts_exactly_what_the_full_check_accepts(kind, fields):
    arity = {Get: 1, Put: 2, Append: 2, Delete: 1, Cas: 3}[kind]
    try:
        if len(fields) != arity:
            raise InvalidRequest("arity")
        command = kind(*fields) if kind is Get else kind(*fields, CLIENT_ID_MAX, SEQ_MAX)
        fits = len(encode_command(validate_command(command))) <= ENTRY_BYTES_MAX
    except InvalidRequest:
        fits = False
    try:
        prepare(kind, *fields)
        accepted = True
    except InvalidRequest:
        accepted = False
    assert accepted == fits
