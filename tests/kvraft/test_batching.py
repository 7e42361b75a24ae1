"""The Coalescer over a scripted network (no processes): attempts made on the reader thread
wait for its flush and leave as one batch per server; each member gets its own part of the
reply, its own loss, its own timer and its own send error; elsewhere calls leave at once."""

from __future__ import annotations

import pytest

from sentinel.kvraft import Get, Put, encode_command
from sentinel.kvraft.batching import MEMBER_BYTES_MAX, Coalescer
from sentinel.kvraft.protocol import (
    BATCH_METHOD,
    BATCH_OPS_MAX,
    INVALID,
    OK,
    WRONG_LEADER,
    KVBatch,
    KVBatchReply,
    KVReply,
    flat_reply,
)
from sentinel.kvraft.results import Result, ResultCode
from sentinel.netsim.client import NetworkClosed
from sentinel.netsim.rpc import RpcReply


class ScriptedNetwork:
    """Records calls and timers; the test plays the reader thread and the server."""

    def __init__(self, reader: bool = True) -> None:
        self.reader = reader
        self.closed = False
        self.hooks: list = []
        self.calls: list[tuple[int, str, object, float, object]] = []
        self.timers: list[tuple[float, object]] = []
        self.refuse: Exception | None = None
        self.flushes_asked = 0  # flush_soon calls: a loop reader's cue to flush

    def on_reader_thread(self) -> bool:
        return self.reader

    def add_flush_hook(self, hook) -> None:
        self.hooks.append(hook)

    def call_async(self, dst, method, args, timeout_s, callback) -> None:
        if self.refuse is not None:
            raise self.refuse
        self.calls.append((dst, method, args, timeout_s, callback))

    def call_later(self, delay_s, callback) -> None:
        self.timers.append((delay_s, callback))

    def flush_soon(self) -> None:
        self.flushes_asked += 1

    def flush(self) -> None:
        for hook in self.hooks:
            hook()


class Member:
    """One attempt's callbacks."""

    def __init__(self) -> None:
        self.replies: list[RpcReply | None] = []
        self.errors: list[Exception] = []

    def send(self, co: Coalescer, server: int, command, timeout_s: float = 1.5) -> None:
        method = f"KVServer.{type(command).__name__}"
        data = encode_command(command)
        co.send(server, method, data, timeout_s, self.replies.append, self.errors.append)


def test_attempts_wait_for_the_flush_and_leave_as_one_batch_per_server():
    net = ScriptedNetwork()
    co = Coalescer(net)  # type: ignore[arg-type]
    a, b, c = Member(), Member(), Member()
    a.send(co, 1, Put("k", "v", 7, 1))
    b.send(co, 1, Get("k"))
    c.send(co, 2, Put("x", "y", 8, 3))
    assert net.calls == []  # held until the reader flushes
    assert net.flushes_asked == 1  # the reader was told once that a burst is held
    net.flush()
    assert [(dst, method) for dst, method, *_ in net.calls] == [
        (1, BATCH_METHOD),
        (2, "KVServer.Put"),  # alone: the plain RPC
    ]
    _dst, _method, args, _timeout, callback = net.calls[0]
    assert args == KVBatch((encode_command(Put("k", "v", 7, 1)), encode_command(Get("k"))))
    assert net.calls[1][2] == encode_command(Put("x", "y", 8, 3))
    ok = KVReply(OK, Result(ResultCode.OK))
    value = KVReply(OK, Result(ResultCode.OK, "v"))
    callback(RpcReply(KVBatchReply((flat_reply(ok), flat_reply(value)))))
    assert a.replies == [RpcReply(ok)] and b.replies == [RpcReply(value)]
    assert (co.batches_sent, co.members_sent) == (1, 2)
    callback(RpcReply(KVBatchReply((flat_reply(ok), flat_reply(value)))))  # a late copy
    assert len(a.replies) == len(b.replies) == 1  # each member is answered once


def test_loss_error_and_one_answer_for_all_reach_every_member():
    net = ScriptedNetwork()
    co = Coalescer(net)  # type: ignore[arg-type]
    outcomes = []
    for answer in (None, RpcReply(None, "boom"), RpcReply(KVReply(INVALID, detail="bad"))):
        members = [Member(), Member()]
        for i, m in enumerate(members):
            m.send(co, 1, Put("k", str(i), 7, i + 1))
        net.flush()
        net.calls.pop()[4](answer)
        outcomes.append([m.replies for m in members])
    assert outcomes == [[[r], [r]] for r in (None, RpcReply(None, "boom"),
                        RpcReply(KVReply(INVALID, detail="bad")))]  # fmt: skip


GOOD = ("OK", 0, None, False, 0, 0, "")


@pytest.mark.parametrize(
    ("value", "malformed"),
    [
        (KVBatchReply((flat_reply(KVReply(WRONG_LEADER)),)), [True, True]),  # 1 answer for 2
        (Result(ResultCode.OK), [True, True]),
        (KVBatchReply((("OK", 99, None, False, 0, 0, ""), GOOD)), [True, False]),
        (KVBatchReply((GOOD, ("NOPE", 0, None, False, 0, 0, ""))), [False, True]),
        (KVBatchReply((GOOD, ["OK", 0, None, False, 0, 0, ""])), [False, True]),
    ],
)
def test_a_malformed_batch_reply_is_an_rpc_error_where_it_is_malformed(value, malformed):
    net = ScriptedNetwork()
    co = Coalescer(net)  # type: ignore[arg-type]
    members = [Member(), Member()]
    for i, m in enumerate(members):
        m.send(co, 1, Put("k", "v", 7, i + 1))
    net.flush()
    net.calls.pop()[4](RpcReply(value))
    for m, bad in zip(members, malformed, strict=True):
        (reply,) = m.replies
        assert reply is not None
        if bad:
            assert reply.error is not None and BATCH_METHOD in reply.error
        else:
            assert reply == RpcReply(KVReply(OK, Result(ResultCode.OK)))


def test_a_member_with_less_time_left_gets_its_own_timer():
    net = ScriptedNetwork()
    co = Coalescer(net)  # type: ignore[arg-type]
    short, long = Member(), Member()
    short.send(co, 1, Put("k", "a", 7, 1), timeout_s=0.2)
    long.send(co, 1, Put("k", "b", 8, 1), timeout_s=1.5)
    net.flush()
    assert net.calls[0][3] == 1.5  # the batch waits as long as its longest member
    ((delay_s, expire),) = net.timers
    assert delay_s == 0.2
    expire()  # the short member's attempt ends without a reply, as a lone call would
    assert short.replies == [None] and long.replies == []
    ok = flat_reply(KVReply(OK, Result(ResultCode.OK)))
    net.calls[0][4](RpcReply(KVBatchReply((ok, ok))))
    assert short.replies == [None] and long.replies[0].value.err == OK


def test_a_send_error_at_the_flush_reaches_each_member_once():
    net = ScriptedNetwork()
    co = Coalescer(net)  # type: ignore[arg-type]
    members = [Member(), Member()]
    for i, m in enumerate(members):
        m.send(co, 1, Put("k", "v", 7, i + 1))
    net.refuse = NetworkClosed("gone")
    net.flush()
    assert [len(m.errors) for m in members] == [1, 1] and not members[0].replies
    net.closed = True
    with pytest.raises(NetworkClosed):  # once closed, nothing is held any more
        Member().send(co, 1, Get("k"))


def test_a_full_batch_leaves_at_once_and_other_threads_never_wait():
    net = ScriptedNetwork()
    co = Coalescer(net)  # type: ignore[arg-type]
    for i in range(BATCH_OPS_MAX + 1):
        Member().send(co, 1, Put("k", "v", 7, i + 1))
    assert len(net.calls) == 1 and len(net.calls[0][2].commands) == BATCH_OPS_MAX
    net.flush()
    assert net.calls[1][1] == "KVServer.Put"  # the one left over
    other = ScriptedNetwork(reader=False)
    co = Coalescer(other)  # type: ignore[arg-type]
    Member().send(co, 1, Get("k"))
    assert other.calls[0][1] == "KVServer.Get"  # sent at once: no flush would come soon


@pytest.mark.parametrize("big_first", [True, False])
def test_a_command_too_big_to_share_a_batch_leaves_alone(big_first):
    net = ScriptedNetwork()
    co = Coalescer(net)  # type: ignore[arg-type]
    big = Put("big", "v" * (MEMBER_BYTES_MAX + 1), 7, 1)
    small = Put("s", "v", 8, 1)
    for command in (big, small) if big_first else (small, big):
        Member().send(co, 1, command)
    big_data, small_data = encode_command(big), encode_command(small)
    assert [args for _dst, _method, args, *_ in net.calls] == [big_data]  # at once, alone
    net.flush()
    assert [args for _dst, _method, args, *_ in net.calls] == [big_data, small_data]
    assert (co.batches_sent, co.members_sent) == (0, 0)  # no batch at all
