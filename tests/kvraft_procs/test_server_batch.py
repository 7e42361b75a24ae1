"""KVServerApp's "KVServer.Batch" on a fake node context (no processes): every operation of a
batch is proposed or read as if it had come alone, answered in order in one KVBatchReply when
the last one ends; bad operations and bad batches get clear INVALID answers."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

from sentinel.kvraft import Delete, Get, Put, Register, encode_command
from sentinel.kvraft.codec import decode_command
from sentinel.kvraft.protocol import (
    BATCH_OPS_MAX,
    INVALID,
    OK,
    RETRY,
    WRONG_LEADER,
    KVBatch,
    KVBatchReply,
    KVReply,
    unflat_reply,
)
from sentinel.kvraft.results import ResultCode
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


def test_each_write_is_its_own_entry_and_the_batch_answers_when_the_last_applies():
    app, ctx, svc = glue.make()
    reg = svc.Register(Register())
    glue.commit(app, ctx, 1)
    client_id = glue.reply_of(reg).result.client_id
    got = svc.Batch(batch(Put("a", "1", client_id, 1), Register(), Delete("zz", client_id, 2)))
    assert isinstance(got, Deferred) and not got.resolved
    # one entry per operation, the very bytes the client encoded, in order
    assert [decode_command(data) for _i, _t, data in ctx.proposed[1:]] == [
        Put("a", "1", client_id, 1), Register(), Delete("zz", client_id, 2)]  # fmt: skip
    glue.commit(app, ctx, 2)
    glue.commit(app, ctx, 3)
    assert not got.resolved  # the batch waits for its last operation
    glue.commit(app, ctx, 4)
    put, register, delete = replies(got)
    assert put.err == OK and put.result.code is ResultCode.OK
    assert register.err == OK and register.result.client_id == 3  # its own entry's index
    assert delete.err == OK and delete.result.code is ResultCode.NO_KEY
    assert app.sm.lookup("a").value == "1"


def test_gets_share_one_read_point_and_see_the_writes_applied_before_it():
    app, ctx, svc = glue.make()
    reg = svc.Register(Register())
    glue.commit(app, ctx, 1)
    client_id = glue.reply_of(reg).result.client_id
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
    got = svc.Batch(batch(b"garbage", Get("k"), b"K\x01\x03\x00"))
    assert len(ctx.reads) == 1 and ctx.proposed == []
    app.read_ready(ctx.reads[0])
    bad, good, truncated = replies(got)
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
