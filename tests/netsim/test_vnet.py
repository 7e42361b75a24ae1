"""The virtual-time network: determinism, faults, counters, bounds."""

from __future__ import annotations

import random

from sentinel.netsim.faults import RELIABLE, UNRELIABLE, FaultPolicy
from sentinel.netsim.vnet import US_PER_MS, Delivery, VirtualNetwork

SEED = 4242


def _net(config=RELIABLE, seed: int = SEED, endpoints=(1, 2, 3), **kwargs) -> VirtualNetwork:
    print(f"seed={seed}")
    net = VirtualNetwork(FaultPolicy(config), random.Random(seed), **kwargs)
    for endpoint in endpoints:
        net.add_endpoint(endpoint)
    return net


def _run(net: VirtualNetwork, sends: int, seed: int) -> list[Delivery]:
    """Send a seeded mix of traffic, then drain everything."""
    rng = random.Random(seed)
    out: list[Delivery] = []
    now_us = 0
    for index in range(sends):
        now_us += rng.randint(0, 3000)
        src, dst = rng.sample([1, 2, 3], 2)
        net.send(now_us, src, dst, f"m{index}".encode(), rng.random() < 0.5, index % 3)
        out.extend(net.pop_due(now_us))
    while net.next_delivery_time() is not None:
        out.extend(net.pop_due(net.next_delivery_time()))
    return out


def test_same_seed_same_deliveries() -> None:
    first = _run(_net(UNRELIABLE.with_(long_reordering=True)), 3000, seed=1)
    second = _run(_net(UNRELIABLE.with_(long_reordering=True)), 3000, seed=1)
    assert first == second
    third = _run(_net(UNRELIABLE.with_(long_reordering=True), seed=SEED + 1), 3000, seed=1)
    assert first != third


def test_reliable_delivers_in_order_with_exact_counters() -> None:
    net = _net()
    for index in range(100):
        net.send(index, 1, 2, b"x" * index)
    deliveries = net.pop_due(100)
    assert [len(d.payload) for d in deliveries] == list(range(100))
    assert all(d.src == 1 and d.dst == 2 and not d.failed for d in deliveries)
    sent, received = net.stats(1), net.stats(2)
    assert sent.sent_msgs == 100 and sent.sent_bytes == sum(range(100))
    assert received.received_msgs == 100 and received.received_bytes == sum(range(100))
    assert sent.dropped_msgs == sent.in_flight_msgs == sent.delayed_msgs == 0
    assert net.totals().sent_msgs == net.totals().received_msgs == 100


def test_unreliable_drop_rate_and_failure_notices() -> None:
    net = _net(UNRELIABLE)
    for index in range(10_000):
        net.send(0, 1, 2, b"r", is_reply=False, request_id=index + 1)
    deliveries = net.pop_due(10_000 * US_PER_MS)
    notices = [d for d in deliveries if d.failed]
    delivered = [d for d in deliveries if not d.failed]
    assert 800 < len(notices) < 1200
    assert len(notices) + len(delivered) == 10_000
    assert all(n.src == 2 and n.dst == 1 for n in notices)  # from the peer to the caller
    assert net.stats(1).dropped_msgs == len(notices)
    assert max(d.time_us for d in delivered) <= 26 * US_PER_MS


def test_one_way_messages_vanish_without_notice() -> None:
    net = _net()
    net.disconnect(2)
    net.send(0, 1, 2, b"gone")
    assert net.pop_due(10_000 * US_PER_MS) == []
    assert net.stats(1).unreachable_msgs == 1


def test_partition_blocks_across_groups_and_heals() -> None:
    net = _net()
    net.partition([[1], [2, 3]])
    net.send(0, 1, 2, b"a", request_id=5)
    net.send(0, 2, 3, b"b")
    deliveries = net.pop_due(100 * US_PER_MS)
    assert [(d.src, d.dst, d.failed) for d in deliveries if not d.failed] == [(2, 3, False)]
    assert [(d.src, d.dst, d.request_id) for d in deliveries if d.failed] == [(2, 1, 5)]
    net.heal()
    net.send(200 * US_PER_MS, 1, 2, b"c")
    assert [d.payload for d in net.pop_due(200 * US_PER_MS)] == [b"c"]


def test_cut_while_in_flight_is_lost_at_delivery() -> None:
    net = _net(RELIABLE.with_(link_delay_ms=10))
    net.send(0, 1, 2, b"late", request_id=9)
    net.disconnect(2)
    deliveries = net.pop_due(10 * US_PER_MS)
    assert [(d.failed, d.dst) for d in deliveries] == [(True, 1)]


def test_down_endpoint_receives_nothing() -> None:
    net = _net()
    net.set_up(2, False)
    net.send(0, 1, 2, b"x", request_id=1)
    deliveries = net.pop_due(100 * US_PER_MS)
    assert len(deliveries) == 1 and deliveries[0].failed
    net.set_up(2, True)
    net.send(100 * US_PER_MS, 1, 2, b"y")
    assert [d.payload for d in net.pop_due(100 * US_PER_MS)] == [b"y"]


def test_in_flight_queue_is_bounded() -> None:
    net = _net(RELIABLE.with_(link_delay_ms=5), in_flight_max=10)
    for _ in range(15):
        net.send(0, 1, 2, b"z")
    assert net.in_flight() == 10
    assert net.stats(1).overflow_msgs == 5
    assert net.stats(1).in_flight_msgs == 10
    assert len(net.pop_due(5 * US_PER_MS)) == 10
    assert net.stats(1).in_flight_msgs == 0


def test_duplicates_are_counted() -> None:
    net = _net(RELIABLE.with_(duplicate_per_mille=1000))
    net.send(0, 1, 2, b"twice")
    deliveries = net.pop_due(1000 * US_PER_MS)
    assert [d.payload for d in deliveries] == [b"twice", b"twice"]
    assert net.stats(1).duplicated_msgs == 1
    assert net.stats(2).received_msgs == 2


def test_every_rpc_message_is_delivered_or_reported_exactly_once() -> None:
    """Conservation under random faults: each request either arrives or its caller hears
    of its failure, once; and the counters add up."""
    seed = SEED + 99
    print(f"seed={seed}")
    rng = random.Random(seed)
    net = _net(UNRELIABLE.with_(long_reordering=True), seed=seed, endpoints=(1, 2, 3, 4))
    outcomes: dict[int, int] = {}
    now_us = 0
    sent = 0
    for request_id in range(1, 4001):
        now_us += rng.randint(0, 2000)
        roll = rng.random()
        if roll < 0.01:
            net.partition([rng.sample([1, 2, 3, 4], 2)])
        elif roll < 0.02:
            net.disconnect(rng.randint(1, 4))
        elif roll < 0.04:
            net.heal()
        src, dst = rng.sample([1, 2, 3, 4], 2)
        net.send(now_us, src, dst, b"p", is_reply=rng.random() < 0.5, request_id=request_id)
        sent += 1
        for delivery in net.pop_due(now_us):
            outcomes[delivery.request_id] = outcomes.get(delivery.request_id, 0) + 1
    while (due := net.next_delivery_time()) is not None:
        for delivery in net.pop_due(due):
            outcomes[delivery.request_id] = outcomes.get(delivery.request_id, 0) + 1
    assert len(outcomes) == sent and set(outcomes.values()) == {1}
    total = net.totals()
    assert total.sent_msgs == sent
    lost = total.dropped_msgs + total.unreachable_msgs + total.overflow_msgs
    assert total.received_msgs + lost == sent
    assert total.in_flight_msgs == 0
