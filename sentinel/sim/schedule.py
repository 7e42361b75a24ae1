"""Seeded fault schedules: crashes and restarts, power cuts while persisting, pauses,
partitions (one node isolated, minority/majority, a bridge node that sees both sides), and
network weather (loss, duplication, delay, reordering); then a heal for the liveness phase.
The "disks" profile adds full disks (the leader's or a random node's, for a while) to the
mixed faults. The "isolate-leader" profile cuts the leader off and pauses it while the
others elect another, again and again (the read path's test: a stale leader serves no read).
The "membership" profile adds membership changes (members.py) to the mixed faults: adds,
removals of followers and of the leader, two removals at once, during the partitions,
crashes and pauses; and races (a change, the leader cut off, a change by the next leader the
instant it is elected, a split), in the time no other partition is planned.

A schedule is generated up front from its own random source as a list of timed actions.
Targets such as "the leader" are resolved when the action runs (from the cluster's random
source), and an episode's closing action (restart, resume) acts on the node its opening
action picked, so a whole run is still a pure function of the seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sentinel.netsim import FaultConfig
from sentinel.sim import members
from sentinel.sim.cluster import NEVER, SimCluster

MS = 1000
#: Actions in one schedule.
ACTIONS_MAX = 100_000
LEADER, RANDOM = "leader", "random"

PROFILES = ("mixed", "figure8", "calm", "disks", "isolate-leader", "membership")

#: The ordinary network between faults: 1-11 ms one way (requests jitter), no loss.
BASE_WEATHER = FaultConfig(
    reliable=False,
    request_drop_per_mille=0,
    reply_drop_per_mille=0,
    request_delay_ms_max=10,
    link_delay_ms=1,
)

WEATHER: dict[str, FaultConfig] = {
    "unreliable": FaultConfig(reliable=False),
    "duplicating": FaultConfig(duplicate_per_mille=100),
    "reordering": FaultConfig(long_reordering=True),
    "unreliable_reordering": FaultConfig(reliable=False, long_reordering=True),
    "slow": FaultConfig(link_delay_ms=15, reliable=False, request_delay_ms_max=60),
    "lossy_duplicating": FaultConfig(
        reliable=False,
        request_drop_per_mille=250,
        reply_drop_per_mille=250,
        duplicate_per_mille=150,
    ),
}


@dataclass(frozen=True, slots=True)
class Action:
    """One fault action. `target` is a node id, LEADER or RANDOM; `episode` ties an
    episode's closing action to the node its opening action picked."""

    kind: str
    target: int | str = 0
    episode: int = 0
    groups: tuple[tuple[int, ...], ...] = ()
    weather: str = ""
    ops: int = 0


@dataclass
class Schedule:
    """Timed actions, fired in order by the cluster's run loop (a `Timer`)."""

    actions: list[tuple[int, Action]]
    heal_us: int
    picked: dict[int, int] = field(default_factory=dict)
    position: int = 0
    #: A reactive fault loop running alongside the actions (the figure8 profile).
    chaos: LeaderChaos | None = None

    def next_us(self) -> int:
        """When the next action is due."""
        due = self.chaos.next_us() if self.chaos is not None else NEVER
        if self.position < len(self.actions):
            return min(due, self.actions[self.position][0])
        return due

    def fire(self, cluster: SimCluster) -> None:
        """Perform the next action."""
        if self.chaos is not None and self.chaos.next_us() <= cluster.now_us:
            self.chaos.fire(cluster)
            return
        _, action = self.actions[self.position]
        self.position += 1
        perform(cluster, action, self.picked)


class LeaderChaos:
    """6.824's Figure 8 loop: crash the leader very soon after it appears (mostly within
    0-13 ms, sometimes up to 150 ms), and restart a random crashed node whenever fewer than
    a quorum run. Exactly a quorum stays up most of the time, so every new leader depends
    on nodes that hold different, partly replicated logs."""

    def __init__(self, rng: random.Random, stop_us: int) -> None:
        self.rng = rng
        self.stop_us = stop_us
        self._next_us = 0

    def next_us(self) -> int:
        """When the loop acts next."""
        return self._next_us if self._next_us < self.stop_us else NEVER

    def fire(self, cluster: SimCluster) -> None:
        """One iteration: maybe crash (or power-cut) the leader, keep a quorum up."""
        rng = self.rng
        wait_ms = rng.randint(0, 150) if rng.random() < 0.1 else rng.randint(0, 13)
        self._next_us = cluster.now_us + max(1, wait_ms) * MS
        leader = cluster.leader()
        if leader is not None:
            if rng.random() < 0.2:
                cluster.crash_while_persisting(leader.id, rng.randint(1, 4))
            else:
                cluster.crash(leader.id)
        up = [i for i in cluster.ids if cluster.nodes[i].core is not None]
        if len(up) < len(cluster.ids) // 2 + 1:
            down = [i for i in cluster.ids if cluster.nodes[i].core is None]
            cluster.restart(rng.choice(down))


def perform(cluster: SimCluster, action: Action, picked: dict[int, int]) -> None:
    """Carry out one action on the cluster."""
    kind = action.kind
    if kind == "disk-full":
        node = _resolve(cluster, action.target)
        if node is not None:
            picked[action.episode] = node
            cluster.fill_disk(node, True)
    elif kind == "disk-room":
        node = picked.pop(action.episode, None)
        if node is not None:
            cluster.fill_disk(node, False)
    elif kind in ("crash", "disk-crash", "pause"):
        node = _resolve(cluster, action.target)
        if node is None:
            return
        picked[action.episode] = node
        if kind == "crash":
            cluster.crash(node)
        elif kind == "disk-crash":
            cluster.crash_while_persisting(node, action.ops)
        else:
            cluster.pause(node)
    elif kind == "restart":
        node = picked.pop(action.episode, None)
        if node is not None:
            if cluster.nodes[node].disk.armed:
                cluster.nodes[node].disk.disarm()  # the power cut never came: call it off
            cluster.restart(node)
    elif kind == "resume":
        node = picked.pop(action.episode, None)
        if node is not None:
            cluster.resume(node)
    elif kind in ("partition", "heal-net") and cluster.race_owns_net:
        return  # a membership race owns the network until it ends
    elif kind == "partition":
        members.split(cluster, action.groups)
    elif kind == "isolate-leader":
        leader = cluster.leader()
        if leader is not None:
            members.split(cluster, ((leader.id,), tuple(i for i in cluster.ids if i != leader.id)))
    elif kind == "heal-net":
        cluster.net.heal()
        cluster.trace.add((cluster.now_us, "heal-net"))
    elif kind == "weather":
        cluster.net.set_config(WEATHER.get(action.weather, BASE_WEATHER))
        cluster.trace.add((cluster.now_us, "weather", action.weather or "base"))
    elif kind == "heal-all":
        heal_all(cluster)
    elif kind in members.KINDS:
        members.perform(cluster, kind)
    elif kind == members.RACE:
        members.start_race(cluster)
    elif kind == "race-end":
        members.end_race(cluster)
    else:
        raise ValueError(f"unknown action {kind!r}")


def heal_all(cluster: SimCluster) -> None:
    """End every fault: the ordinary network, whole; every node running."""
    cluster.trace.add((cluster.now_us, "heal-all"))
    cluster.race, cluster.race_owns_net = None, False
    cluster.net.heal()
    cluster.net.set_config(BASE_WEATHER)
    for i in cluster.ids:
        node = cluster.nodes[i]
        node.disk.disarm()
        cluster.fill_disk(i, False)
        if node.core is None:
            cluster.restart(i)
        elif node.paused:
            cluster.resume(i)


def _resolve(cluster: SimCluster, target: int | str) -> int | None:
    if isinstance(target, int):
        return target if cluster.nodes[target].active else None
    if target == LEADER:
        leader = cluster.leader()
        if leader is not None:
            return leader.id
    active = [i for i in cluster.ids if cluster.nodes[i].active]
    return cluster.rng.choice(active) if active else None


# ------------------------------------------------------------------ generation


def generate(
    seed: int, nodes: int, duration_us: int, heal_us: int, profile: str = "mixed"
) -> Schedule:
    """A schedule for one run: faults until `heal_us`, then heal everything."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose from {', '.join(PROFILES)}")
    rng = random.Random(f"{seed}/schedule/{profile}")
    gen = _Generator(rng, nodes, heal_us)
    if profile != "calm":
        gen.add(0, Action("weather", weather=""))
    if profile in ("mixed", "disks", "membership"):
        gen.mixed()
    if profile == "membership":
        gen.membership()
        gen.races(random.Random(f"{seed}/schedule/races"))
    if profile == "disks":
        gen.full_disks()
    if profile == "isolate-leader":
        gen.isolate_leader()
    actions = gen.actions
    actions.append((heal_us, Action("heal-all")))
    actions.sort(key=lambda pair: pair[0])  # stable: same-time actions keep their order
    assert len(actions) <= ACTIONS_MAX, "schedule too long"
    chaos = LeaderChaos(random.Random(f"{seed}/chaos"), heal_us) if profile == "figure8" else None
    return Schedule(actions, heal_us, chaos=chaos)


class _Generator:
    """Builds one schedule's actions from its own random source; actions at or after the
    heal are left out, and partitions (and network weather) never overlap."""

    def __init__(self, rng: random.Random, nodes: int, heal_us: int) -> None:
        self.rng = rng
        self.ids = list(range(1, nodes + 1))
        self.heal_us = heal_us
        self.actions: list[tuple[int, Action]] = []
        self.episode = 0
        self.net_free_us = 0  # partitions do not overlap (a new one would replace the old)
        self.net_busy: list[tuple[int, int]] = []  # (start, end) of each partition
        self.weather_free_us = 0

    def add(self, at_us: int, action: Action) -> None:
        if at_us < self.heal_us:
            self.actions.append((at_us, action))

    def ms(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi) * MS

    def new_episode(self) -> int:
        self.episode += 1
        return self.episode

    def mixed(self) -> None:
        rng = self.rng
        kinds = [
            "crash",
            "crash-leader",
            "disk-crash",
            "pause",
            "isolate",
            "split",
            "bridge",
            "weather",
        ]
        weights = [3, 3, 2, 2, 1, 2, 1, 2]
        t = self.ms(100, 500)
        while t < self.heal_us:
            kind = rng.choices(kinds, weights)[0]
            self.episode_at(t, kind)
            t += self.ms(50, 600)

    def isolate_leader(self) -> None:
        """Cut the leader of the moment off from the other nodes (clients still reach it)
        and pause it for 200-600 ms, as a stopped process: the others elect a new leader
        meanwhile, and the old one resumes believing it leads, still cut off, for 100-500
        ms. Neither its ReadIndex nor its lease may serve a read then."""
        t = self.ms(100, 500)
        while t < self.heal_us:
            ep = self.new_episode()
            resume = t + self.ms(200, 600)
            end = resume + self.ms(100, 500)
            self.add(t, Action("isolate-leader"))
            self.add(t + MS, Action("pause", LEADER, ep))
            self.add(resume, Action("resume", episode=ep))
            self.add(end, Action("heal-net"))
            t = end + self.ms(50, 500)

    def membership(self) -> None:
        """A membership change every 100-600 ms: adds most often (they take the longest:
        a learner catches up first), then follower removals, the leader's, and pairs."""
        t = self.ms(200, 600)
        weights = [4, 2, 1, 2]
        while t < self.heal_us:
            self.add(t, Action(self.rng.choices(members.KINDS, weights)[0]))
            t += self.ms(100, 600)

    def races(self, rng: random.Random) -> None:
        """A membership race (members.py) every 2-5.5 s; it owns the network for its 1-1.5
        s (other partitions and heals wait), and has its own random source, so the rest of
        the schedule is what it was without races."""
        t = rng.randint(200, 1000) * MS
        while t < self.heal_us:
            end = t + rng.randint(1000, 1500) * MS
            self.add(t, Action(members.RACE))
            self.add(end, Action("race-end"))
            t = end + rng.randint(1000, 4000) * MS

    def full_disks(self) -> None:
        """Full-disk episodes over the other faults: the leader's or a random node's disk
        has no room for 50 ms to 1.5 s (a node may also crash or restart meanwhile)."""
        t = self.ms(100, 800)
        while t < self.heal_us:
            ep = self.new_episode()
            self.add(t, Action("disk-full", self.rng.choice([LEADER, RANDOM]), ep))
            self.add(t + self.ms(50, 1500), Action("disk-room", episode=ep))
            t += self.ms(200, 1500)

    def crash_episode(self, t: int, target: int | str, down_us: int) -> None:
        ep = self.new_episode()
        self.add(t, Action("crash", target, ep))
        self.add(t + down_us, Action("restart", episode=ep))

    def episode_at(self, t: int, kind: str) -> None:
        rng = self.rng
        if kind == "crash":
            self.crash_episode(t, RANDOM, self.ms(20, 1500))
        elif kind == "crash-leader":
            self.crash_episode(t, LEADER, self.ms(20, 800))
        elif kind == "disk-crash":
            ep = self.new_episode()
            target = rng.choice([LEADER, RANDOM])
            self.add(t, Action("disk-crash", target, ep, ops=rng.randint(1, 4)))
            self.add(t + self.ms(200, 1000), Action("restart", episode=ep))
        elif kind == "pause":
            ep = self.new_episode()
            self.add(t, Action("pause", rng.choice([LEADER, RANDOM]), ep))
            self.add(t + self.ms(50, 2000), Action("resume", episode=ep))
        elif kind == "weather":
            if t < self.weather_free_us:
                return
            name = rng.choice(sorted(WEATHER))
            end = t + self.ms(300, 3000)
            self.weather_free_us = end
            self.add(t, Action("weather", weather=name))
            self.add(end, Action("weather", weather=""))
        else:
            if t < self.net_free_us:
                return
            groups = self.partition_groups(kind)
            end = t + self.ms(100, 2000)
            self.net_free_us = end
            self.net_busy.append((t, end))
            self.add(t, Action("partition", groups=groups))
            self.add(end, Action("heal-net"))

    def partition_groups(self, kind: str) -> tuple[tuple[int, ...], ...]:
        ids = self.ids[:]
        self.rng.shuffle(ids)
        if kind == "isolate" or len(ids) < 3:
            return ((ids[0],), tuple(sorted(ids[1:])))
        if kind == "split":
            cut = self.rng.randint(1, len(ids) - 1)
            return (tuple(sorted(ids[:cut])), tuple(sorted(ids[cut:])))
        # bridge: ids[0] is in no group, so it talks to both sides, which cannot talk
        cut = self.rng.randint(2, len(ids) - 1)
        return (tuple(sorted(ids[1:cut])), tuple(sorted(ids[cut:])))
