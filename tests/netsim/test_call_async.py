"""Network.call_async / call_later over an in-process pipe: the test plays the router (it
reads the client's requests and writes replies, failures or nothing), so every outcome is
exact. Waits are conditions with generous deadlines (a shared 2-core machine)."""

from __future__ import annotations

import logging
import threading
import time
from multiprocessing import Pipe

import pytest

from sentinel.netsim import client as client_mod
from sentinel.netsim import protocol as p
from sentinel.netsim.client import Network, NetworkClosed
from sentinel.netsim.endpoint import Endpoint
from sentinel.netsim.rpc import RpcCall, RpcReply
from sentinel.netsim.testing import wait_for
from sentinel.wire import decode, encode

ME = 1000
WAIT_S = 20.0


class Router:
    """The far end of the client's connection."""

    def __init__(self, conn) -> None:
        self.conn = conn

    def request(self) -> tuple[int, int, RpcCall]:
        """The next request the client sent: (dst, request_id, call)."""
        assert self.conn.poll(WAIT_S), "the client sent nothing"
        msg = self.conn.recv_bytes()
        src, dst, request_id, flags = p.ROUTE.unpack_from(msg)
        assert (src, flags) == (ME, p.F_REQUEST)
        return dst, request_id, decode(msg[p.ROUTE_BYTES :])

    def reply(self, src: int, request_id: int, value: object) -> None:
        frame = encode(RpcReply(value))
        self.conn.send_bytes(p.ROUTE.pack(src, ME, request_id, p.F_REPLY) + frame)

    def fail(self, src: int, request_id: int) -> None:
        self.conn.send_bytes(p.ROUTE.pack(src, ME, request_id, p.F_FAILED))


class Outcomes:
    """Callbacks' results, with the thread each ran on."""

    def __init__(self) -> None:
        self.got: list[tuple[str, object, threading.Thread]] = []
        self.lock = threading.Lock()

    def callback(self, name: str):
        def record(reply: object = None) -> None:
            with self.lock:
                self.got.append((name, reply, threading.current_thread()))

        return record

    def names(self) -> list[str]:
        with self.lock:
            return [name for name, _, _ in self.got]

    def of(self, name: str) -> list[object]:
        with self.lock:
            return [reply for n, reply, _ in self.got if n == name]


@pytest.fixture
def net():
    theirs, mine = Pipe(duplex=True)
    network = Network(Endpoint(mine, ME))
    yield network, Router(theirs)
    network.close()
    theirs.close()


def test_reply_reaches_the_callback_on_the_reader_thread(net):
    network, router = net
    out = Outcomes()
    network.call_async(3, "Echo.echo", "hi", 30.0, out.callback("a"))
    dst, rid, call = router.request()
    assert (dst, call) == (3, RpcCall("Echo.echo", "hi"))
    router.reply(3, rid, "HI")
    wait_for(lambda: out.names() == ["a"], WAIT_S)
    assert out.of("a") == [RpcReply("HI")]
    assert out.got[0][2] is network._reader


def test_timeout_answers_none_once_and_a_late_reply_is_ignored(net):
    network, router = net
    out = Outcomes()
    t0 = time.monotonic()
    network.call_async(3, "Echo.hang", None, 0.2, out.callback("slow"))
    _, rid, _ = router.request()
    wait_for(lambda: out.names() == ["slow"], WAIT_S)
    assert time.monotonic() - t0 >= 0.2 and out.of("slow") == [None]
    router.reply(3, rid, "late")
    network.call_async(3, "Echo.echo", "next", 30.0, out.callback("next"))
    _, rid2, _ = router.request()
    router.reply(3, rid2, "ok")
    wait_for(lambda: "next" in out.names(), WAIT_S)
    assert out.names() == ["slow", "next"]  # the late reply called nothing


def test_a_short_timeout_is_not_held_up_by_a_long_one(net):
    network, router = net
    out = Outcomes()
    network.call_async(3, "Echo.hang", None, 60.0, out.callback("long"))
    router.request()
    wait_for(lambda: network._sleeps_until > time.monotonic() + 30, WAIT_S)  # asleep on it
    t0 = time.monotonic()
    network.call_async(3, "Echo.hang", None, 0.1, out.callback("short"))
    wait_for(lambda: out.names() == ["short"], WAIT_S)
    assert time.monotonic() - t0 < 30.0  # woken, not waiting for the 60 s one


def test_router_failure_answers_none(net):
    network, router = net
    out = Outcomes()
    network.call_async(9, "Echo.echo", 1, 30.0, out.callback("lost"))
    _, rid, _ = router.request()
    router.fail(9, rid)
    wait_for(lambda: out.names() == ["lost"], WAIT_S)
    assert out.of("lost") == [None]


def test_a_reply_from_the_wrong_endpoint_is_not_taken(net):
    network, router = net
    out = Outcomes()
    network.call_async(3, "Echo.echo", 1, 0.5, out.callback("a"))
    _, rid, _ = router.request()
    router.reply(4, rid, "forged")
    wait_for(lambda: out.names() == ["a"], WAIT_S)
    assert out.of("a") == [None]  # timed out instead


def test_repeated_replies_each_reach_their_callback(net):
    network, router = net
    out = Outcomes()
    for i in range(5):  # identical reply bytes: decoded once, delivered five times
        network.call_async(3, "Echo.echo", i, 30.0, out.callback(f"c{i}"))
        _, rid, _ = router.request()
        router.reply(3, rid, "same")
    wait_for(lambda: len(out.names()) == 5, WAIT_S)
    assert sorted(out.names()) == [f"c{i}" for i in range(5)]
    assert all(reply == RpcReply("same") for _, reply, _ in out.got)


def test_a_failing_callback_is_logged_and_the_reader_goes_on(net, caplog):
    network, router = net
    out = Outcomes()

    def boom(reply: object) -> None:
        raise ValueError("callback bug")

    with caplog.at_level(logging.ERROR, logger="sentinel.netsim.client"):
        network.call_async(3, "Echo.echo", 1, 30.0, boom)
        _, rid, _ = router.request()
        router.reply(3, rid, "x")
        network.call_async(3, "Echo.echo", 2, 30.0, out.callback("after"))
        _, rid, _ = router.request()
        router.reply(3, rid, "y")
        wait_for(lambda: out.names() == ["after"], WAIT_S)
    assert "callback bug" in caplog.text
    assert network._reader.is_alive()


def test_callbacks_may_chain_calls_but_not_block_and_blocking_calls_still_work(net):
    network, router = net
    out = Outcomes()

    def first(reply: object) -> None:
        network.call_async(3, "Echo.echo", "second", 30.0, out.callback("second"))

    def blocking(reply: object) -> None:
        with pytest.raises(RuntimeError, match="its own thread"):
            network.call(3, "Echo.echo", "nested", 30.0)
        out.callback("blocking")(reply)

    network.call_async(3, "Echo.echo", "zeroth", 30.0, blocking)
    _, rid, _ = router.request()
    router.reply(3, rid, "0")
    wait_for(lambda: out.names() == ["blocking"], WAIT_S)  # refused at once, not hung
    network.call_async(3, "Echo.echo", "first", 30.0, first)
    _, rid, _ = router.request()
    router.reply(3, rid, "1")
    _, rid, call = router.request()  # sent by the callback on the reader thread
    assert call.args == "second"
    router.reply(3, rid, "2")
    wait_for(lambda: out.names() == ["blocking", "second"], WAIT_S)
    answer: list[object] = []
    caller = threading.Thread(target=lambda: answer.append(network.call(5, "m", 0, 30.0)))
    caller.start()
    _, rid, _ = router.request()
    router.reply(5, rid, "sync")
    caller.join(WAIT_S)
    assert answer == [RpcReply("sync")]


def test_call_later_runs_on_the_reader_after_the_delay(net):
    network, _router = net
    out = Outcomes()
    t0 = time.monotonic()
    network.call_later(0.1, out.callback("timer"))
    wait_for(lambda: out.names() == ["timer"], WAIT_S)
    assert time.monotonic() - t0 >= 0.1 and out.got[0][2] is network._reader


def test_close_completes_pending_calls_and_timers_once(net):
    network, router = net
    out = Outcomes()
    for i in range(3):
        network.call_async(3, "Echo.hang", i, 60.0, out.callback(f"call{i}"))
        router.request()
    network.call_later(60.0, out.callback("timer"))
    network.close()
    wait_for(lambda: sorted(out.names()) == ["call0", "call1", "call2", "timer"], WAIT_S)
    assert out.of("call0") == [None]
    with pytest.raises(NetworkClosed):
        network.call_async(3, "Echo.echo", 1, 1.0, out.callback("too late"))
    with pytest.raises(NetworkClosed):
        network.call_later(0.0, out.callback("too late"))
    assert network.call(3, "Echo.echo", 1, 1.0) is None
    assert len(out.names()) == 4


def test_losing_the_router_completes_pending_calls(net):
    network, router = net
    out = Outcomes()
    network.call_async(3, "Echo.hang", None, 60.0, out.callback("a"))
    router.request()
    router.conn.close()
    wait_for(lambda: out.names() == ["a"], WAIT_S)
    assert out.of("a") == [None] and network.closed


def test_pending_calls_and_timers_are_bounded(net, monkeypatch):
    network, _router = net
    monkeypatch.setattr(client_mod, "PENDING_CALLS_MAX", 2)
    monkeypatch.setattr(client_mod, "TIMERS_MAX", 1)
    out = Outcomes()
    network.call_async(3, "Echo.hang", 1, 60.0, out.callback("a"))
    network.call_async(3, "Echo.hang", 2, 60.0, out.callback("b"))
    with pytest.raises(RuntimeError, match="calls pending"):
        network.call_async(3, "Echo.hang", 3, 60.0, out.callback("c"))
    network.call_later(60.0, out.callback("t1"))
    with pytest.raises(RuntimeError, match="timers pending"):
        network.call_later(60.0, out.callback("t2"))
    network.close()
    wait_for(lambda: sorted(out.names()) == ["a", "b", "t1"], WAIT_S)
    assert len(out.names()) == 3  # the refused ones are never called


def test_flush_hooks_send_what_callbacks_held_before_the_write_out_and_at_close(net):
    network, router = net
    out = Outcomes()
    held: list[str] = []
    seen: list[tuple[list[str], bool]] = []

    def hook() -> None:  # a coalescer's flush: sends what the callbacks held
        seen.append((list(held), network.on_reader_thread()))
        while held:
            network.call_async(3, "Echo.echo", held.pop(0), 30.0, out.callback("held"))

    network.add_flush_hook(hook)
    assert not network.on_reader_thread()

    def hold(_reply: object) -> None:  # on the reader thread: hold two calls
        held.extend(["x", "y"])

    network.call_async(3, "Echo.echo", "first", 30.0, hold)
    _, rid, _ = router.request()
    router.reply(3, rid, "FIRST")
    sent = [router.request()[2].args for _ in range(2)]  # sent by the hook, same turn
    assert sent == ["x", "y"]
    assert (["x", "y"], True) in seen and not held
    seen.clear()
    network.close()  # at close the hook runs once more, after the calls were completed
    wait_for(lambda: out.of("held") == [None, None], WAIT_S)
    assert seen and all(on_reader for _held, on_reader in seen)


def test_an_answered_call_leaves_no_deadline_to_wake_for(net):
    network, router = net
    out = Outcomes()
    network.call_async(3, "Echo.echo", "hi", 30.0, out.callback("a"))
    _dst, rid, _call = router.request()
    assert network._wait_ms() > 0  # the reader would wake at the call's deadline
    router.reply(3, rid, "HI")
    wait_for(lambda: out.names() == ["a"], WAIT_S)
    assert network._wait_ms() == -1  # answered: nothing to wake for (it waits for traffic)
