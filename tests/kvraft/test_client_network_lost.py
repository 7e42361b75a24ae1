"""A client whose router connection is gone ends a call at once, instead of retrying a
closed network until its deadline; lost replies on an open one are retried."""

from __future__ import annotations

import threading

import pytest

from sentinel.kvraft.client import Client
from sentinel.kvraft.errors import Unavailable
from sentinel.netsim.client import NetworkClosed

WAIT_S = 20.0


class ClosedNetwork:
    """A network whose connection has closed: every send raises NetworkClosed."""

    closed = True

    def __init__(self) -> None:
        self.calls = 0

    def call_async(self, dst, method, args, timeout_s, callback) -> None:
        self.calls += 1
        raise NetworkClosed("the network is closed")

    def call_later(self, delay_s, callback) -> None:
        raise NetworkClosed("the network is closed")

    def on_reader_thread(self) -> bool:
        return False

    def add_flush_hook(self, hook) -> None:
        pass

    def close(self) -> None:
        pass


class LossyNetwork(ClosedNetwork):
    """Open, but every reply is lost: each call's callback gets None on a timer thread (as
    the reader thread would), so the client must keep trying until its deadline."""

    closed = False

    def call_async(self, dst, method, args, timeout_s, callback) -> None:
        self.calls += 1
        threading.Timer(0.001, callback, (None,)).start()

    def call_later(self, delay_s, callback) -> None:
        threading.Timer(delay_s, callback).start()


def test_a_closed_network_fails_the_call_at_once() -> None:
    net = ClosedNetwork()
    kv = Client(net, [1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(Unavailable, match="could not send"):
        kv.put("k", "v", timeout_s=WAIT_S)
    assert net.calls == 1, "no retry on a connection that is gone"


def test_lost_replies_on_an_open_network_are_retried() -> None:
    net = LossyNetwork()
    kv = Client(net, [1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(Unavailable):
        kv.get("k", timeout_s=0.5)
    assert net.calls > 3, "a lost reply is retried on the next server"
