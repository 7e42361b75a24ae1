"""A blocking clerk whose router connection is gone ends at once, as the async client does,
instead of retrying a closed network until its deadline."""

from __future__ import annotations

import time

import pytest

from sentinel.kvraft.clerk import Clerk
from sentinel.kvraft.errors import Unavailable


class ClosedNetwork:
    """A `Caller` whose connection has closed: every call is lost at once."""

    closed = True

    def __init__(self) -> None:
        self.calls = 0

    def call(self, dst, method, args, timeout_s):
        self.calls += 1
        return None


class LossyNetwork(ClosedNetwork):
    """Open, but every reply is lost: the clerk must keep trying until its deadline."""

    closed = False


def test_a_closed_network_fails_the_call_at_once() -> None:
    net = ClosedNetwork()
    clerk = Clerk(net, [1, 2, 3])
    with pytest.raises(Unavailable, match="network is closed"):
        clerk.put("k", "v", time.monotonic() + 2.0)
    assert net.calls == 1, "no retry on a connection that is gone"


def test_lost_replies_on_an_open_network_are_retried() -> None:
    net = LossyNetwork()
    clerk = Clerk(net, [1, 2, 3])
    with pytest.raises(Unavailable):
        clerk.get("k", time.monotonic() + 0.5)
    assert net.calls > 3, "a lost reply is retried on the next server"
