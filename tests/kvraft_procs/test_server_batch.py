"""KVServerApp's "KVServer.Batch" on a fake node context (no processes): every operation of a
batch is proposed or read as if it had come alone, answered in order in one KVBatchReply when
the last one ends; bad operations and bad batches get clear INVALID answers."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

from sentinel.kvraft import Append, Delete, Get, Put, Register, encode_command
from sentinel.kvraft.codec import WriteBatch, decode_entry, encode_write_batch
from sentinel.kvraft.protocol import (
    BATCH_OPS_MAX,
    INVALID,
    OK,
    RETRY,
    WRONG_LEADER,
    KVBatch,
    KVBatchReply,
    KVReply,
    flat_reply,
    unflat_reply,
)
from sentinel.kvraft.results import Result, ResultCode
from sentinel.kvraft.waiters import flat_read
from sentinel.netsim.rpc import Deferred


def _glue():
    """test_server_glue.py's FakeContext helpers (loaded by path: test folders are not
    packages under --import-mode=importlib)."""
    name = "server_glue_kv"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("test_server_glue.py")
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


glue = _glue()


def batch(*commands: object) -> KVBatch:
    return KVBatch(tuple(c if isinstance(c, bytes) else encode_command(c) for c in commands))


def replies(answer: object) -> list[KVReply]:
    if isinstance(answer, Deferred):
        answer = glue.reply_of(answer)
    assert isinstance(answer, KVBatchReply), answer
    return [unflat_reply(flat) for flat in answer.replies]


def register(app, ctx, svc) -> int:
    """A fresh session's client id (its Register entry applied)."""
    reply = svc.Register(Register())
    glue.commit(app, ctx, ctx.last_index)
    return glue.reply_of(reply).result.client_id


def test_the_writes_become_one_entry_in_client_id_order_and_each_gets_its_own_answer():
    app, ctx, svc = glue.make()
    one, two = register(app, ctx, svc), register(app, ctx, svc)
    assert (one, two) == (1, 2)
    got = svc.Batch(batch(Put("a", "2", two, 1), Register(), Put("a", "1", one, 1),
                          Delete("zz", two, 2)))  # fmt: skip
    assert isinstance(got, Deferred) and not got.resolved
    entries = [decode_entry(data)[1] for _i, _t, data in ctx.proposed[2:]]
    # the two sessions' first writes share one entry, ordered by client id; the Register
    # and the second write of session `two` (a client id seen twice) get entries of their own
    assert entries == [Register(), WriteBatch((Put("a", "1", one, 1), Put("a", "2", two, 1))),
                       Delete("zz", two, 2)]  # fmt: skip
    glue.commit(app, ctx, 3)
    glue.commit(app, ctx, 4)
    assert not got.resolved  # the batch waits for its last operation
    glue.commit(app, ctx, 5)
    put2, register_, put1, delete = replies(got)  # in the request's order
    assert put1.err == put2.err == OK and put1.result.code is ResultCode.OK
    assert register_.err == OK and register_.result.client_id == 3  # its own entry's index
    assert delete.err == OK and delete.result.code is ResultCode.NO_KEY
    assert app.sm.lookup("a").value == "2"  # applied in client id order


def test_a_write_batch_entry_from_another_term_answers_wrong_leader_and_retries_dedupe():
    app, ctx, svc = glue.make()
    one, two = register(app, ctx, svc), register(app, ctx, svc)
    got = svc.Batch(batch(Append("k", "x", one, 1), Append("k", "y", two, 1)))
    glue.commit(app, ctx, 3, term=7)  # another leader's entry took index 3
    assert [r.err for r in replies(got)] == [WRONG_LEADER, WRONG_LEADER]
    ctx.term = 8
    retry = svc.Batch(batch(Append("k", "x", one, 1), Append("k", "y", two, 1)))
    glue.commit(app, ctx, 4)
    assert [r.err for r in replies(retry)] == [OK, OK]
    again = svc.Batch(batch(Append("k", "x", one, 1), Append("k", "y", two, 1)))
    glue.commit(app, ctx, 5)  # the same writes once more: duplicates, not applied twice
    assert [r.result.duplicate for r in replies(again)] == [True, True]
    assert app.sm.lookup("k").value == "xy"


def test_gets_share_one_read_point_and_see_the_writes_applied_before_it():
    app, ctx, svc = glue.make()
    client_id = register(app, ctx, svc)
    svc.Put(Put("k", "v", client_id, 1))
    glue.commit(app, ctx, 2)
    got = svc.Batch(batch(Get("k"), Get("missing"), Get("k")))
    assert len(ctx.reads) == 1 and len(ctx.proposed) == 2  # one read point, nothing logged
    app.read_ready(ctx.reads[0])
    values = [(r.err, r.result.code, r.result.value) for r in replies(got)]
    assert values == [(OK, ResultCode.OK, "v"), (OK, ResultCode.NO_KEY, None),
                      (OK, ResultCode.OK, "v")]  # fmt: skip
    assert app.status()["reads_pending"] == 0


def test_a_bad_operation_is_refused_alone_and_changes_nothing():
    app, ctx, svc = glue.make()
    nested = encode_write_batch([encode_command(Put("k", "v", 1, 1)),
                                 encode_command(Put("k", "w", 2, 1))])  # fmt: skip
    got = svc.Batch(batch(b"garbage", Get("k"), b"K\x01\x03\x00", nested))
    assert len(ctx.reads) == 1 and ctx.proposed == []
    app.read_ready(ctx.reads[0])
    bad, good, truncated, batch_inside = replies(got)
    assert batch_inside.err == INVALID and "not a write batch" in batch_inside.detail
    assert bad.err == INVALID and "operation 0" in bad.detail
    assert truncated.err == INVALID and "operation 2" in truncated.detail
    assert good.err == OK and good.result.code is ResultCode.NO_KEY


def test_a_malformed_batch_is_invalid_as_a_whole():
    _app, ctx, svc = glue.make()
    for bad in (KVBatch(()), KVBatch((b"x",) * (BATCH_OPS_MAX + 1)), Get("k")):
        answer = svc.Batch(bad)
        assert isinstance(answer, KVReply) and answer.err == INVALID, bad
    answer = svc.Batch(KVBatch(("not bytes",)))  # type: ignore[arg-type]
    assert replies(answer)[0].err == INVALID
    assert ctx.proposed == [] and ctx.reads == []


def test_not_leader_answers_every_operation_at_once_with_the_hint():
    _app, ctx, svc = glue.make()
    ctx.leader = False
    answer = svc.Batch(batch(Put("k", "v", 1, 1), Get("k")))
    assert [r.err for r in replies(answer)] == [WRONG_LEADER, WRONG_LEADER]
    assert [r.leader for r in replies(answer)] == [2, 2]


def test_lost_leadership_and_timeouts_end_each_operation_its_own_way():
    app, ctx, svc = glue.make(reply_timeout_ms=1)
    got = svc.Batch(batch(Put("k", "v", 1, 1), Get("k")))
    app.read_failed(ctx.reads[0])  # the read point is lost: WRONG_LEADER for the Get
    assert not got.resolved
    deadline = time.monotonic() + 5.0
    while not got.resolved:  # the write's reply deadline (1 ms) passes: RETRY
        assert time.monotonic() < deadline
        app.on_tick()
    put, get = replies(got)
    assert (put.err, get.err) == (RETRY, WRONG_LEADER)
    assert app.status()["writes_pending"] == 0


def test_a_gets_flat_answer_is_the_flat_form_of_the_reply_a_lone_get_gets():
    app, _ctx, _svc = glue.make()
    for value in ("v", "", None):
        lone = KVReply(OK, app.sm.lookup("k") if value is None else Result(ResultCode.OK, value))
        assert flat_read(value) == flat_reply(lone)
