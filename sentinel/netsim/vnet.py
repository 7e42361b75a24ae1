"""A virtual-time, in-process network with the router's fault policy.

The clock is an int count of MICROSECONDS (`now_us`), owned by the caller: the network never
reads a real clock. Policy delays are whole milliseconds and become `delay_ms * 1000` us.
Frames are opaque bytes; the network knows endpoint ids, not raft.

Determinism: the only random source is the `random.Random` passed in, and deliveries come out
of a heap ordered by (time_us, sequence number), so the same seed and the same calls give the
same deliveries, in the same order.

RPC failure notices: a message sent with a non-zero `request_id` that is dropped or has no path
produces a `Delivery` with `failed=True` (empty payload) after the policy's delay, addressed
from the peer to the CALLER (`src` = the peer, `dst` = the caller: the sender of a request or
the destination of a reply). One-way messages (request_id 0) simply vanish.
A message whose link is cut, or whose destination is down, at delivery time is discarded then
(counted as unreachable) and also produces a failure notice if it is an RPC.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass

from sentinel.netsim.faults import Fate, FaultConfig, FaultPolicy, Verdict
from sentinel.netsim.stats import Counters, EndpointStats, totals

US_PER_MS = 1000
IN_FLIGHT_MAX_DEFAULT = 100_000
ENDPOINTS_MAX = 10_000

_OVERFLOW = Verdict(Fate.DROP, 0)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message (or failure notice) handed to `dst` at virtual time `time_us`."""

    time_us: int
    src: int
    dst: int
    payload: bytes
    is_reply: bool
    request_id: int = 0
    failed: bool = False  # a notice to dst: its RPC `request_id` with peer src failed


class VirtualNetwork:
    """Endpoints, a fault policy, and a heap of timed deliveries on a virtual clock.

    Invariants: the clock the caller passes never goes backwards (asserted), and the heap
    holds at most `in_flight_max` deliveries (beyond that a message counts as overflow).
    """

    def __init__(
        self,
        policy: FaultPolicy | None = None,
        rng: random.Random | None = None,
        in_flight_max: int = IN_FLIGHT_MAX_DEFAULT,
    ) -> None:
        assert in_flight_max > 0, "the in-flight queue needs room for at least one message"
        self.policy = policy if policy is not None else FaultPolicy()
        self.rng = rng if rng is not None else random.Random(0)
        self.in_flight_max = in_flight_max
        self._heap: list[tuple[int, int, Delivery]] = []
        self._seq = 0
        self._up: dict[int, bool] = {}
        self._counters: dict[int, Counters] = {}
        self._last_now_us = 0

    # -- endpoints -------------------------------------------------------------------------

    def add_endpoint(self, endpoint: int) -> None:
        """Make `endpoint` known and up."""
        assert endpoint > 0, "endpoint 0 is the network itself"
        if endpoint not in self._up:
            assert len(self._up) < ENDPOINTS_MAX, "too many endpoints"
        self._up[endpoint] = True
        self._counters.setdefault(endpoint, Counters())

    def set_up(self, endpoint: int, up: bool) -> None:
        """Crash (`up=False`) or revive an endpoint; a down endpoint receives nothing."""
        assert endpoint in self._up, f"unknown endpoint {endpoint}"
        self._up[endpoint] = up

    def is_up(self, endpoint: int) -> bool:
        """Whether `endpoint` is known and up."""
        return self._up.get(endpoint, False)

    # -- fault controls (delegated to the policy) --------------------------------------------

    def set_config(self, config: FaultConfig) -> None:
        """Switch fault preset."""
        self.policy.set_config(config)

    def partition(self, groups: list[list[int]] | tuple[frozenset[int], ...]) -> None:
        """Cut the network into groups; endpoints in no group talk to everyone."""
        self.policy.partition(groups)

    def heal(self) -> None:
        """Remove partitions and reconnect everyone."""
        self.policy.heal()

    def disconnect(self, endpoint: int) -> None:
        """Cut every link of `endpoint`."""
        self.policy.disconnect(endpoint)

    def connect(self, endpoint: int) -> None:
        """Restore the links of `endpoint`."""
        self.policy.connect(endpoint)

    # -- traffic ------------------------------------------------------------------------------

    def send(
        self,
        now_us: int,
        src: int,
        dst: int,
        payload: bytes,
        is_reply: bool = False,
        request_id: int = 0,
    ) -> Verdict:
        """Hand one message to the network at virtual time `now_us`; returns its verdict."""
        assert now_us >= self._last_now_us, "the virtual clock went backwards"
        assert src in self._counters, f"unknown sender {src}"
        self._last_now_us = now_us
        sender = self._counters[src]
        size = len(payload)
        sender.sent_msgs += 1
        sender.sent_bytes += size
        if len(self._heap) >= self.in_flight_max:
            sender.overflow_msgs += 1
            return _OVERFLOW
        verdict = self.policy.decide(src, dst, is_reply, size, self.rng, self.is_up(dst))
        delivery = Delivery(now_us, src, dst, payload, is_reply, request_id)
        if verdict.fate is Fate.DELIVER:
            self._schedule(now_us + verdict.delay_ms * US_PER_MS, delivery, sender)
            if verdict.duplicate_delay_ms is not None:
                due_us = now_us + verdict.duplicate_delay_ms * US_PER_MS
                self._schedule(due_us, delivery, sender, duplicate=True)
            return verdict
        if verdict.fate is Fate.DROP:
            sender.dropped_msgs += 1
        else:
            sender.unreachable_msgs += 1
        if request_id:
            self._notify_failure(now_us + verdict.delay_ms * US_PER_MS, delivery)
        return verdict

    def next_delivery_time(self) -> int | None:
        """Virtual time (us) of the earliest pending delivery, or None when nothing is pending."""
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now_us: int) -> list[Delivery]:
        """Every delivery due at or before `now_us`, in (time, send order) order."""
        assert now_us >= self._last_now_us, "the virtual clock went backwards"
        self._last_now_us = now_us
        out: list[Delivery] = []
        heap = self._heap
        while heap and heap[0][0] <= now_us:
            due_us, _seq, delivery = heapq.heappop(heap)
            if not delivery.failed:  # notices are not counted as in flight
                self._counters[delivery.src].in_flight_msgs -= 1
            arrived = self._arrive(due_us, delivery)
            if arrived is not None:
                out.append(arrived)
        return out

    def in_flight(self) -> int:
        """How many deliveries (and failure notices) are pending."""
        return len(self._heap)

    # -- counters -----------------------------------------------------------------------------

    def stats(self, endpoint: int) -> EndpointStats:
        """A frozen copy of one endpoint's counters."""
        return self._counters[endpoint].snapshot(endpoint, self.is_up(endpoint))

    def all_stats(self) -> list[EndpointStats]:
        """Counters of every endpoint, by id."""
        return [self.stats(endpoint) for endpoint in sorted(self._counters)]

    def totals(self) -> EndpointStats:
        """The sum of every endpoint's counters."""
        return totals(self.all_stats())

    # -- internals ----------------------------------------------------------------------------

    def _schedule(
        self, due_us: int, delivery: Delivery, sender: Counters, duplicate: bool = False
    ) -> None:
        if duplicate:
            if len(self._heap) >= self.in_flight_max:
                sender.overflow_msgs += 1
                return
            sender.duplicated_msgs += 1
        if due_us > delivery.time_us:
            sender.delayed_msgs += 1
        sender.in_flight_msgs += 1
        self._seq += 1
        heapq.heappush(self._heap, (due_us, self._seq, delivery))

    def _notify_failure(self, due_us: int, delivery: Delivery) -> None:
        if len(self._heap) >= self.in_flight_max:
            self._counters[delivery.src].overflow_msgs += 1
            return
        # A notice always travels from the peer to the caller of the RPC.
        if delivery.is_reply:
            peer, caller = delivery.src, delivery.dst
        else:
            peer, caller = delivery.dst, delivery.src
        notice = Delivery(
            delivery.time_us, peer, caller, b"", delivery.is_reply, delivery.request_id, True
        )
        self._seq += 1
        heapq.heappush(self._heap, (due_us, self._seq, notice))

    def _arrive(self, due_us: int, delivery: Delivery) -> Delivery | None:
        """Turn a popped heap entry into what the receiver sees, or None if it vanishes."""
        if delivery.failed:
            if not self.is_up(delivery.dst):
                return None
            return Delivery(
                due_us,
                delivery.src,
                delivery.dst,
                b"",
                delivery.is_reply,
                delivery.request_id,
                True,
            )
        src, dst = delivery.src, delivery.dst
        if not self.is_up(dst) or not self.policy.topology.can_talk(src, dst):
            self._counters[src].unreachable_msgs += 1
            if delivery.request_id:
                self._notify_failure(due_us, delivery)
            return None
        receiver = self._counters[dst]
        receiver.received_msgs += 1
        receiver.received_bytes += len(delivery.payload)
        return Delivery(due_us, src, dst, delivery.payload, delivery.is_reply, delivery.request_id)
