"""The public client's pool and asynchronous calls over a scripted network (no processes):
one FIFO line for blocking and async calls, the queue bound, close, and a send that fails."""

from __future__ import annotations

import threading

import pytest

from sentinel.kvraft.client import Client, ClientClosed, QueueFull
from sentinel.kvraft.codec import decode_command
from sentinel.kvraft.errors import OutcomeUnknown
from sentinel.kvraft.protocol import OK, KVReply
from sentinel.kvraft.results import Result, ResultCode
from sentinel.netsim.client import NetworkClosed
from sentinel.netsim.rpc import RpcReply
from sentinel.netsim.testing import wait_for

WAIT_S = 20.0
REGISTERED = RpcReply(KVReply(OK, Result(ResultCode.OK, client_id=7)))
DONE = RpcReply(KVReply(OK, Result(ResultCode.OK, value="v")))


class ScriptedNetwork:
    """Calls wait until the test answers them (a blocking call is an async one waited on)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.log: list[tuple[str, object]] = []  # (how, command), in send order
        self.waiting: list = []  # callbacks of async calls not answered yet
        self.closed = False

    def call_async(self, dst, method, args, timeout_s, callback) -> None:
        with self.lock:
            if self.closed:
                raise NetworkClosed("closed")
            self.log.append(("async", args))
            self.waiting.append(callback)

    def call_later(self, delay_s, callback) -> None:
        raise NetworkClosed("no timers here")

    def on_reader_thread(self) -> bool:
        return False  # every call is sent at once (test_batching.py covers coalescing)

    def add_flush_hook(self, hook) -> None:
        pass

    def answer(self, reply) -> None:
        with self.lock:
            callback = self.waiting.pop(0)
        callback(reply)

    def close(self) -> None:
        self.closed = True


def commands(net: ScriptedNetwork) -> list[str]:
    with net.lock:
        sent = [(how, decode_command(data)) for how, data in net.log]
    return [f"{how} {type(cmd).__name__} {getattr(cmd, 'value', '')}" for how, cmd in sent]


def test_blocking_and_async_calls_share_one_fifo_line():
    net = ScriptedNetwork()
    kv = Client(net, [1], clerks_max=1)  # type: ignore[arg-type]
    first = kv.put_async("k", "a")
    assert commands(net) == ["async Register "]
    got: list[object] = []
    reader = threading.Thread(target=lambda: got.append(kv.get("k", timeout_s=WAIT_S)))
    reader.start()
    wait_for(lambda: len(kv._waiting) == 1, WAIT_S)  # the blocking get waits in line
    second = kv.put_async("k", "b")  # behind it
    net.answer(REGISTERED)
    net.answer(DONE)  # the first put is done: the session goes to the get
    net.answer(DONE)  # the get is done: the session goes to "b"
    reader.join(WAIT_S)
    assert first.result(WAIT_S) is None and got == ["v"]
    assert commands(net) == ["async Register ", "async Put a", "async Get ", "async Put b"]
    net.answer(DONE)
    assert second.result(WAIT_S) is None
    assert len(kv._sessions) == 1


def test_queue_bound_and_close():
    net = ScriptedNetwork()
    kv = Client(net, [1], clerks_max=1, queue_max=2)  # type: ignore[arg-type]
    in_flight = kv.put_async("k", "a")
    net.answer(REGISTERED)  # now the Put is in flight
    queued = kv.get_async("k")
    errors: list[BaseException] = []

    def blocked() -> None:
        try:
            kv.get("k", timeout_s=WAIT_S)
        except BaseException as exc:
            errors.append(exc)

    waiter = threading.Thread(target=blocked)
    waiter.start()
    wait_for(lambda: len(kv._waiting) == 2, WAIT_S)
    with pytest.raises(QueueFull):
        kv.put_async("k", "no room")
    kv.close()
    waiter.join(WAIT_S)
    assert [type(e) for e in errors] == [ClientClosed]
    with pytest.raises(ClientClosed):
        queued.result(0)
    net.answer(None)  # the Put is lost; the retry finds the network closed
    with pytest.raises(OutcomeUnknown) as caught:
        in_flight.result(WAIT_S)
    assert isinstance(caught.value.__cause__, NetworkClosed)
    assert kv._waiting == type(kv._waiting)() and kv._idle  # the session came back


def test_without_coalescing_async_calls_go_straight_to_the_network():
    net = ScriptedNetwork()
    net.on_reader_thread = lambda: True  # would be held for a flush if coalescing were on
    kv = Client(net, [1], clerks_max=1, coalesce=False)  # type: ignore[arg-type]
    assert kv.coalescer is None
    future = kv.get_async("k")
    assert commands(net) == ["async Get "]
    net.answer(DONE)
    assert future.result(WAIT_S) == "v"


def test_a_blocking_call_from_a_callback_raises_and_sends_nothing():
    net = ScriptedNetwork()
    net.on_reader_thread = lambda: True  # as if called from a future's callback
    kv = Client(net, [1], clerks_max=1, coalesce=False)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="its own thread"):
        kv.get("k", timeout_s=WAIT_S)
    assert commands(net) == [] and not kv._waiting
