"""The fault policy: 6.824 figures, partitions, purity."""

from __future__ import annotations

import random

import pytest

from sentinel.netsim.faults import (
    LONG_DELAYS,
    LONG_REORDERING,
    PRESETS,
    RELIABLE,
    ROUTER_ID,
    UNRELIABLE,
    Fate,
    FaultConfig,
    FaultPolicy,
    Topology,
    decide,
    make_topology,
)

SEED = 20261126
N = 20_000


def _verdicts(
    config: FaultConfig, is_reply: bool, seed: int = SEED, topology: Topology | None = None
):
    print(f"seed={seed}")
    rng = random.Random(seed)
    topology = topology or Topology()
    return [decide(config, topology, 1, 2, is_reply, 100, rng) for _ in range(N)]


def test_reliable_delivers_everything_at_once() -> None:
    for is_reply in (False, True):
        verdicts = _verdicts(RELIABLE, is_reply)
        assert all(v.fate is Fate.DELIVER and v.delay_ms == 0 for v in verdicts)
        assert all(v.duplicate_delay_ms is None for v in verdicts)


def test_unreliable_requests_delayed_and_ten_percent_dropped() -> None:
    verdicts = _verdicts(UNRELIABLE, is_reply=False)
    dropped = sum(v.fate is Fate.DROP for v in verdicts)
    assert 0.08 * N < dropped < 0.12 * N  # ~14 standard deviations wide
    delays = [v.delay_ms for v in verdicts]
    assert min(delays) == 0 and max(delays) == 26
    assert 10 < sum(delays) / N < 16  # mean of uniform 0..26 is 13


def test_unreliable_replies_ten_percent_dropped_without_delay() -> None:
    verdicts = _verdicts(UNRELIABLE, is_reply=True)
    dropped = sum(v.fate is Fate.DROP for v in verdicts)
    assert 0.08 * N < dropped < 0.12 * N
    assert all(v.delay_ms == 0 for v in verdicts)


def test_long_reordering_delays_two_thirds_of_replies() -> None:
    verdicts = _verdicts(LONG_REORDERING, is_reply=True)
    assert all(v.fate is Fate.DELIVER for v in verdicts)
    delayed = [v.delay_ms for v in verdicts if v.delay_ms > 0]
    assert 0.62 * N < len(delayed) < 0.71 * N
    assert min(delayed) >= 200 and max(delayed) <= 2200
    # rand[0, rand[0, 2000]] is skewed short: its median is well under 1000.
    assert sorted(delayed)[len(delayed) // 2] < 200 + 800
    requests = _verdicts(LONG_REORDERING, is_reply=False)
    assert all(v.delay_ms == 0 for v in requests)


@pytest.mark.parametrize(("config", "top"), [(RELIABLE, 99), (LONG_DELAYS, 6999)])
def test_unreachable_delay_short_or_long(config: FaultConfig, top: int) -> None:
    cut = make_topology([], disconnected=[2])
    verdicts = _verdicts(config, is_reply=False, topology=cut)
    assert all(v.fate is Fate.UNREACHABLE for v in verdicts)
    delays = [v.delay_ms for v in verdicts]
    assert min(delays) == 0 and max(delays) == top


def test_dead_destination_is_unreachable() -> None:
    verdict = decide(RELIABLE, Topology(), 1, 2, False, 1, random.Random(1), dst_up=False)
    assert verdict.fate is Fate.UNREACHABLE


def test_router_endpoint_is_never_faulted() -> None:
    rng = random.Random(SEED)
    cut = make_topology([[1], [2]], disconnected=[1])
    bad = UNRELIABLE.with_(request_drop_per_mille=1000, reply_drop_per_mille=1000)
    for _ in range(100):
        assert decide(bad, cut, 1, ROUTER_ID, False, 5, rng).fate is Fate.DELIVER


def test_partition_groups_and_ungrouped_endpoints() -> None:
    topology = make_topology([[1, 2], [3, 4, 5]])
    assert topology.can_talk(1, 2) and topology.can_talk(3, 5)
    assert not topology.can_talk(1, 3) and not topology.can_talk(5, 2)
    # endpoint 100 (a client) is in no group: it reaches everyone and everyone reaches it
    assert all(topology.can_talk(100, n) and topology.can_talk(n, 100) for n in range(1, 6))


def test_policy_partition_disconnect_heal() -> None:
    policy = FaultPolicy()
    assert policy.trivial
    policy.partition([[1], [2, 3]])
    assert not policy.trivial
    rng = random.Random(SEED)
    assert policy.decide(1, 2, False, 1, rng).fate is Fate.UNREACHABLE
    assert policy.decide(2, 3, False, 1, rng).fate is Fate.DELIVER
    policy.disconnect(3)
    assert policy.decide(2, 3, True, 1, rng).fate is Fate.UNREACHABLE
    policy.connect(3)
    assert policy.decide(2, 3, True, 1, rng).fate is Fate.DELIVER
    policy.heal()
    assert policy.trivial
    assert policy.decide(1, 2, False, 1, rng).fate is Fate.DELIVER


def test_an_endpoint_in_two_groups_is_refused() -> None:
    with pytest.raises(AssertionError):
        make_topology([[1, 2], [2, 3]])


def test_duplication_and_link_delay() -> None:
    config = RELIABLE.with_(duplicate_per_mille=500, link_delay_ms=7)
    verdicts = _verdicts(config, is_reply=False)
    duplicated = [v for v in verdicts if v.duplicate_delay_ms is not None]
    assert 0.45 * N < len(duplicated) < 0.55 * N
    assert all(v.delay_ms == 7 for v in verdicts)
    assert all(v.duplicate_delay_ms >= 7 for v in duplicated)
    policy = FaultPolicy()
    policy.set_link_delay(1, 2, 40)
    rng = random.Random(SEED)
    assert policy.decide(1, 2, False, 1, rng).delay_ms == 40
    assert policy.decide(2, 1, False, 1, rng).delay_ms == 0


def test_decisions_replay_from_a_seed() -> None:
    config = PRESETS["unreliable_long_reordering"]
    for is_reply in (False, True):
        assert _verdicts(config, is_reply, seed=7) == _verdicts(config, is_reply, seed=7)
    assert _verdicts(config, True, seed=7) != _verdicts(config, True, seed=8)


def test_configs_and_verdicts_are_frozen() -> None:
    with pytest.raises(AttributeError):
        RELIABLE.reliable = False  # type: ignore[misc]
    verdict = decide(RELIABLE, Topology(), 1, 2, False, 1, random.Random(1))
    with pytest.raises(AttributeError):
        verdict.delay_ms = 3  # type: ignore[misc]


def test_config_travels_on_the_wire() -> None:
    from sentinel.wire import decode, encode

    config = PRESETS["unreliable_long_delays"]
    assert decode(encode(config)) == config
    topology = make_topology([[1, 2], [3]], [4])
    assert decode(encode(topology)) == topology
