"""A Network read by an asyncio loop (loopreader.py) over an in-process pipe: the test plays
the router (as in test_call_async.py). Replies, timeouts and timers run on the loop thread;
other threads may still call; closing or losing the router ends every waiting call."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from multiprocessing import Pipe
from typing import Any

import pytest

from sentinel.netsim.client import Network, NetworkClosed
from sentinel.netsim.endpoint import Endpoint
from sentinel.netsim.rpc import RpcReply
from tests.netsim.test_call_async import ME, WAIT_S, Router

Body = Callable[[Network, Router, asyncio.AbstractEventLoop], Awaitable[None]]


def run(body: Body) -> None:
    """`body(network, router, loop)` on a fresh loop that reads the network."""
    theirs, mine = Pipe(duplex=True)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        network = Network(Endpoint(mine, ME), loop)
        try:
            await body(network, Router(theirs), loop)
        finally:
            await asyncio.to_thread(network.close)

    try:
        asyncio.run(asyncio.wait_for(main(), 3 * WAIT_S))
    finally:
        theirs.close()


def recorder(loop: asyncio.AbstractEventLoop) -> tuple[asyncio.Future[Any], Callable[..., None]]:
    """A loop future of (the callback's argument, the thread it ran on)."""
    got: asyncio.Future[Any] = loop.create_future()

    def record(reply: object = None) -> None:
        got.set_result((reply, threading.get_ident()))  # a loop future: only the loop may

    return got, record


def test_replies_run_on_the_loop_and_calls_from_the_loop_leave() -> None:
    async def body(network: Network, router: Router, loop: asyncio.AbstractEventLoop) -> None:
        first, on_first = recorder(loop)
        second, on_second = recorder(loop)
        network.burst(lambda: network.call_async(2, "Echo.Hi", 1, WAIT_S, on_first))
        network.call_async(3, "Echo.Hi", 2, WAIT_S, on_second)  # a plain loop callback's
        sent = [await asyncio.to_thread(router.request) for _ in range(2)]
        assert sorted((dst, call.args) for dst, _rid, call in sent) == [(2, 1), (3, 2)]
        for dst, request_id, call in sent:
            router.reply(dst, request_id, call.args * 10)
        for got, value in ((first, 10), (second, 20)):
            reply, ident = await asyncio.wait_for(got, WAIT_S)
            assert reply == RpcReply(value) and ident == threading.get_ident()
        assert network.on_reader_thread()

    run(body)


def test_timeouts_fire_on_the_loop_in_deadline_order() -> None:
    """A later call with an earlier deadline than the armed timer's still ends first."""

    async def body(network: Network, router: Router, loop: asyncio.AbstractEventLoop) -> None:
        slow, on_slow = recorder(loop)
        fast, on_fast = recorder(loop)
        began = time.monotonic()
        network.call_async(2, "Silent.A", None, 3.0, on_slow)
        await asyncio.sleep(0.01)
        network.call_async(2, "Silent.B", None, 0.1, on_fast)
        reply, ident = await asyncio.wait_for(fast, WAIT_S)
        assert reply is None and ident == threading.get_ident()
        assert not slow.done() and time.monotonic() - began >= 0.1
        assert (await asyncio.wait_for(slow, WAIT_S))[0] is None
        assert time.monotonic() - began >= 3.0

    run(body)


def test_other_threads_call_and_set_timers_and_the_loop_cannot_block() -> None:
    async def body(network: Network, router: Router, loop: asyncio.AbstractEventLoop) -> None:
        timer, on_timer = recorder(loop)
        await asyncio.to_thread(network.call_later, 0.05, on_timer)
        assert (await asyncio.wait_for(timer, WAIT_S))[1] == threading.get_ident()
        blocking = asyncio.ensure_future(asyncio.to_thread(network.call, 2, "X.y", 7, WAIT_S))
        dst, request_id, call = await asyncio.to_thread(router.request)
        router.reply(dst, request_id, call.args + 1)
        assert await asyncio.wait_for(blocking, WAIT_S) == RpcReply(8)
        with pytest.raises(RuntimeError, match="its own thread"):
            network.call(2, "X.y", 7, 1.0)

    run(body)


@pytest.mark.parametrize("how", ["close", "router lost"])
def test_closing_or_losing_the_router_ends_the_waiting_calls(how: str) -> None:
    async def body(network: Network, router: Router, loop: asyncio.AbstractEventLoop) -> None:
        got, on_reply = recorder(loop)
        network.call_async(2, "Silent.A", None, WAIT_S, on_reply)
        await asyncio.to_thread(router.request)
        if how == "close":
            await asyncio.to_thread(network.close)  # from another thread, as `serve` does
        else:
            router.conn.close()
        assert (await asyncio.wait_for(got, WAIT_S))[0] is None
        assert network.closed
        with pytest.raises(NetworkClosed):
            network.call_async(2, "X.y", None, 1.0, on_reply)

    run(body)
