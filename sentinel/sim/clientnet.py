"""A simulated client process's side of the virtual network, as the production client's
`Network` (netsim/client.py) looks to its `Coalescer` (kvraft/batching.py).

The simulated kv clients (kv.py) hand their attempts to the real `Coalescer`, which needs
six things of its network: `call_async`, `call_later`, `add_flush_hook`, `flush_soon`,
`on_reader_thread` and `closed`. Here they run on the virtual network and clock: a call is
a delivery with a request id carrying an `RpcCall`; its callback runs exactly once, with the
`RpcReply`, or with None on a failure notice or at its timeout. Everything runs on one
thread, the simulator's, which plays the client's reader thread: the attempts started while
a burst of replies (one virtual instant) is handled are held and go out, per server, as one
batch at `flush`, as the reader's flush hook sends them in the real client.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sentinel.netsim.rpc import RpcCall, RpcReply
from sentinel.netsim.vnet import Delivery
from sentinel.wire import decode, encode

if TYPE_CHECKING:
    from sentinel.sim.cluster import SimCluster

US_PER_S = 1_000_000
#: Calls waiting for an answer, and timers, at once (as the real network's bounds).
PENDING_CALLS_MAX = 10_000
TIMERS_MAX = 10_000
NEVER = 1 << 62

ReplyCallback = Callable[[RpcReply | None], None]


class SimClientNetwork:
    """One client endpoint on the virtual network (see the module docstring)."""

    closed = False

    def __init__(self, cluster: SimCluster, endpoint: int) -> None:
        self.cluster = cluster
        self.endpoint = endpoint
        cluster.net.add_endpoint(endpoint)
        self._pending: dict[int, ReplyCallback] = {}  # request id -> its callback
        #: (due us, order, request id or 0, timer callback or None): timeouts and timers.
        self._heap: list[tuple[int, int, int, Callable[[], None] | None]] = []
        self._order = 0
        self._next_request = 0
        self._hooks: list[Callable[[], None]] = []
        self._flush_due = False
        self.calls = 0  # RPC requests sent (a batch counts once)

    # -- what the Coalescer calls ----------------------------------------------------------

    def on_reader_thread(self) -> bool:
        """Always: the simulator's one thread runs every callback (attempts are held)."""
        return True

    def flush_soon(self) -> None:
        """Held attempts leave with a flush at this virtual instant (as a loop reader's turn
        ends), after every callback of the instant has run."""
        self._flush_due = True

    def add_flush_hook(self, hook: Callable[[], None]) -> None:
        """Run `hook` at every `flush` (the Coalescer sends what it holds)."""
        self._hooks.append(hook)

    def call_async(
        self, dst: int, method: str, args: Any, timeout_s: float, callback: ReplyCallback
    ) -> None:
        """Send one RPC; `callback` runs exactly once (the reply, or None)."""
        if len(self._pending) >= PENDING_CALLS_MAX:
            raise RuntimeError(f"more than {PENDING_CALLS_MAX} calls pending")
        cluster = self.cluster
        now = cluster.now_us
        self._next_request += 1
        request_id = self._next_request
        self._pending[request_id] = callback
        self._push(now + max(0, int(timeout_s * US_PER_S)), request_id, None)
        payload = encode(RpcCall(method, args))
        cluster.net.send(now, self.endpoint, dst, payload, False, request_id)
        self.calls += 1
        cluster.trace.add((now, "kv-call", self.endpoint, dst, method))

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> None:
        """Run `callback()` after `delay_s` of virtual time."""
        if len(self._heap) >= TIMERS_MAX + PENDING_CALLS_MAX:
            raise RuntimeError(f"more than {TIMERS_MAX} timers pending")
        self._push(self.cluster.now_us + max(1, int(delay_s * US_PER_S)), 0, callback)

    # -- what the simulator calls ----------------------------------------------------------

    def on_delivery(self, delivery: Delivery) -> None:
        """A reply or a failure notice for one of our calls (a late one is dropped)."""
        callback = self._pending.pop(delivery.request_id, None)
        if callback is None:
            return  # answered already (timed out)
        reply = None
        if not delivery.failed:
            reply = decode(delivery.payload, RpcReply)
            assert isinstance(reply, RpcReply)
        self._flush_due = True  # what the callback sends leaves with this burst's flush
        callback(reply)

    def next_us(self) -> int:
        """When a timeout or timer is due, or now when held attempts wait for a flush."""
        if self._flush_due:
            return self.cluster.now_us
        return self._heap[0][0] if self._heap else NEVER

    def run_due(self) -> None:
        """Run the timeouts and timers due now (their attempts wait for `flush`)."""
        now = self.cluster.now_us
        heap = self._heap
        while heap and heap[0][0] <= now:
            _due, _order, request_id, timer = heapq.heappop(heap)
            if timer is not None:
                timer()
                continue
            callback = self._pending.pop(request_id, None)
            if callback is not None:
                callback(None)

    def flush(self) -> None:
        """The end of a burst: the flush hooks send what was held."""
        self._flush_due = False
        for hook in self._hooks:
            hook()

    def _push(self, due_us: int, request_id: int, timer: Callable[[], None] | None) -> None:
        self._order += 1
        heapq.heappush(self._heap, (due_us, self._order, request_id, timer))
