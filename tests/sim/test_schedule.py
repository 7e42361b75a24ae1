"""Fault schedules: seeded, bounded by the heal, and covering every kind of fault."""

from __future__ import annotations

import pytest

from sentinel.sim import SimCluster, generate, heal_all
from sentinel.sim.schedule import WEATHER, Action, perform

S = 1_000_000


def test_the_same_seed_gives_the_same_schedule() -> None:
    a = generate(5, 5, 10 * S, 7 * S)
    b = generate(5, 5, 10 * S, 7 * S)
    assert a.actions == b.actions
    assert a.actions != generate(6, 5, 10 * S, 7 * S).actions


@pytest.mark.parametrize("seed", range(5))
def test_faults_stop_at_the_heal(seed: int) -> None:
    print(f"seed {seed}")
    schedule = generate(seed, 5, 10 * S, 7 * S)
    times = [t for t, _ in schedule.actions]
    assert times == sorted(times)
    assert schedule.actions[-1] == (7 * S, Action("heal-all"))
    assert all(t < 7 * S for t, _ in schedule.actions[:-1])


def test_every_kind_of_fault_appears() -> None:
    kinds: set[str] = set()
    shapes: set[str] = set()
    for seed in range(10):
        for _, action in generate(seed, 5, 10 * S, 7 * S).actions:
            kinds.add(action.kind)
            if action.kind == "partition":
                placed = sum(len(g) for g in action.groups)
                sizes = sorted(len(g) for g in action.groups)
                shapes.add("bridge" if placed == 4 else "isolate" if sizes[0] == 1 else "split")
            if action.kind == "weather":
                assert action.weather in WEATHER or action.weather == ""
    assert {
        "crash",
        "restart",
        "disk-crash",
        "pause",
        "resume",
        "partition",
        "heal-net",
        "weather",
        "heal-all",
    } <= kinds
    assert shapes == {"bridge", "isolate", "split"}


def test_the_figure8_profile_crashes_leaders_as_they_appear() -> None:
    print("seed 2")
    schedule = generate(2, 5, 4 * S, 2 * S, "figure8")
    assert schedule.chaos is not None
    cluster = SimCluster(seed=2, nodes=5)
    cluster.run_until(2 * S, [schedule])
    assert cluster.counts["crashes"] >= 5  # about one per election
    assert sum(n.core is not None for n in cluster.nodes.values()) >= 3  # a quorum is kept up
    cluster.run_until(4 * S, [schedule])
    assert all(n.core is not None for n in cluster.nodes.values())  # healed at 2 s


def test_an_episode_closes_on_the_node_it_opened_on() -> None:
    print("seed 4")
    cluster = SimCluster(seed=4, nodes=5)
    cluster.run_until(1 * S)
    picked: dict[int, int] = {}
    perform(cluster, Action("crash", "leader", episode=1), picked)
    victim = picked[1]
    assert cluster.nodes[victim].core is None
    perform(cluster, Action("pause", "random", episode=2), picked)
    paused = picked[2]
    assert cluster.nodes[paused].paused
    perform(cluster, Action("restart", episode=1), picked)
    perform(cluster, Action("resume", episode=2), picked)
    assert cluster.nodes[victim].core is not None and not cluster.nodes[paused].paused
    heal_all(cluster)


def test_only_the_disks_profile_fills_disks_and_each_fill_ends() -> None:
    for seed in range(5):
        mixed = {a.kind for _, a in generate(seed, 5, 10 * S, 7 * S, "mixed").actions}
        assert not mixed & {"disk-full", "disk-room"}
        disks = generate(seed, 5, 10 * S, 7 * S, "disks").actions
        fills = [a.episode for _, a in disks if a.kind == "disk-full"]
        rooms = [a.episode for _, a in disks if a.kind == "disk-room"]
        assert fills and set(rooms) <= set(fills)  # a fill the heal cuts short: heal-all
    cluster = SimCluster(seed=3, nodes=3)
    perform(cluster, Action("disk-full", 2, episode=1), picked := {})
    assert cluster.nodes[2].disk.full and picked == {1: 2}
    heal_all(cluster)
    assert not any(n.disk.full for n in cluster.nodes.values())
