"""A seeded, deterministic simulation of a sharded store on real raft: the controller's
raft group and several shard groups, each a `SimCluster` of real raft nodes run through
the node driver (elections, replication, snapshots, crashes and restarts from the
simulated disk, power cuts, pauses; loss, delay, duplication and partitions on its virtual
network, all from its own seeded fault schedule), running the production servers
(`ShardCtlApp`, `ShardGroupApp`: the controller and group state machines and the leaders'
own work), with clients and an administrator who joins and leaves groups among the faults
(shardclients.py). Groups talk through the router (shardnet.py). All groups share one
virtual clock: at each instant every group runs up to it, then the calls' answers of that
instant run.

Checked at every instant: each group's raft invariants (sim/invariants.py: one leader per
term, committed entries never lost or changed, state machine safety...); a replica serves a
shard for writes only if its applied configuration gives the shard to its group, and at
most one group serves a shard in any configuration; no client's session is lost (a
`SESSION_EXPIRED` answer). At the end (faults healed; the run goes on, up to a deadline,
until every group has applied the latest configuration and finished its moves): every
group holds exactly the shards it owns (given-away shards deleted), and the clients'
history, with final reads of every key, is linearizable (`sentinel.lin`): no acknowledged
write lost or applied twice across moves.

Replay one seed: `python -m sentinel.sim --workload shards --seed N`.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from sentinel.lin import PENDING, UNKNOWN, CheckResult, KvInput, check_operations, kv_model
from sentinel.lin import Operation as LinOperation
from sentinel.raft import InvariantError, StorageError
from sentinel.shard.config import ShardConfig, key_shard
from sentinel.shard.ctlserver import ShardCtlApp
from sentinel.shard.group import BEPULLED, ShardGroupMachine
from sentinel.shard.groupserver import ShardGroupApp
from sentinel.sim.invariants import InvariantViolation
from sentinel.sim.runner import seed_raft_config
from sentinel.sim.schedule import Schedule, generate
from sentinel.sim.shardclients import CTL_IDS, Admin, ShardSession
from sentinel.sim.shardnet import GroupCluster, Router
from sentinel.sim.trace import Trace

MS = 1000
#: Events (instants of the shared clock) one run may handle: a bound on the loop.
INSTANTS_MAX = 5_000_000
#: Joins and leaves stop this long before the clients do (moves finish under their load).
CHANGES_CALM_MS = 2500
#: How long a call started before the clients stop may go on retrying.
GIVE_UP_MS = 2000
#: How long past the end the run may go on until every group has caught up.
SETTLE_MS_MAX = 20_000
#: Schedule profiles a sharded run takes (membership changes would rename a group's nodes).
SHARD_PROFILES = ("mixed", "calm", "disks", "isolate-leader", "figure8")


class ShardSimFailure(AssertionError):
    """An invariant broke; the message names the seed and the command that replays it."""


@dataclass
class ShardSim:
    """One seeded run (see the module docstring); `run` raises ShardSimFailure."""

    seed: int
    groups_n: int = 3
    replicas_n: int = 3
    clients_n: int = 4
    keys: tuple[str, ...] = ("a", "b", "c", "d", "e", "f", "g", "h")
    fault_ms: int = 5000
    #: Clients start calls until fault_ms + this, and give up retrying GIVE_UP_MS later.
    clients_ms: int = 4000
    profile: str = "mixed"
    #: The servers snapshot once their raft state on disk reaches this many bytes.
    maxraftstate: int = 3000
    history: list[LinOperation] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.profile not in SHARD_PROFILES:
            raise ValueError(f"profile {self.profile!r}: one of {', '.join(SHARD_PROFILES)}")
        self.rng = random.Random(f"shardsim/{self.seed}")
        self.now = 0
        self.events: list[tuple[int, int, Callable[[], None]]] = []
        self.order = itertools.count()
        self.heal_us = self.fault_ms * MS
        self.clients_stop_us = self.heal_us + self.clients_ms * MS
        self.changes_stop_us = self.clients_stop_us - CHANGES_CALM_MS * MS
        self.give_up_us = self.clients_stop_us + GIVE_UP_MS * MS
        self.end_us = self.give_up_us + 500 * MS
        self.group_ids = tuple(range(1, self.groups_n + 1))
        self.router = Router(self)
        self.clusters: dict[int, GroupCluster] = {}
        self.schedules: dict[int, Schedule] = {}
        for gid in (0, *self.group_ids):
            self._add_group(gid)
        self.router.clusters = self.clusters
        self.admin = Admin(self)
        self.sessions = [ShardSession(self, cid) for cid in range(1, self.clients_n + 1)]
        #: (config num, shard) -> the group that served it for writes.
        self.served: dict[tuple[int, int], int] = {}
        self._checked: dict[tuple[int, int], tuple[int, int]] = {}
        #: client -> (input, call time) of its call in progress.
        self.open_calls: dict[int, tuple[KvInput, int]] = {}
        self.counts = dict.fromkeys(("ops", "retries", "changes"), 0)
        self.where = ""

    def _add_group(self, gid: int) -> None:
        cluster_seed = self.seed * 1000 + gid  # each group its own random streams
        options: dict[str, object] = {"maxraftstate": self.maxraftstate}
        if gid:
            options.update(gid=gid, ctl=CTL_IDS)
        raft_config = {**seed_raft_config(cluster_seed, self.profile), "lease_reads": True}
        self.clusters[gid] = GroupCluster(
            self.router,
            gid,
            cluster_seed,
            self.replicas_n,
            app_factory=ShardGroupApp if gid else ShardCtlApp,
            raft_config=raft_config,
            trace=Trace(200),
            app_options=options,
        )
        self.schedules[gid] = generate(
            cluster_seed, self.replicas_n, self.end_us, self.heal_us, self.profile
        )

    # -- the shared clock ------------------------------------------------------------------

    def at(self, delay_us: int, action: Callable[[], None]) -> None:
        """Run `action` `delay_us` from now (0: at this instant, after the groups ran)."""
        heapq.heappush(self.events, (self.now + delay_us, next(self.order), action))

    def step(self, end_us: int) -> bool:
        """Handle the next instant up to `end_us`; False when none is left before it."""
        t = min(c.next_event_us((self.schedules[g],)) for g, c in self.clusters.items())
        if self.events and self.events[0][0] < t:
            t = self.events[0][0]
        if t > end_us:
            return False
        self.now = t
        for gid, cluster in self.clusters.items():
            self.where = f"group {gid}" if gid else "the controller"
            cluster.run_until(t, (self.schedules[gid],))
        self.where = "the clients"
        while self.events and self.events[0][0] <= t:
            heapq.heappop(self.events)[2]()
        self.check_groups()
        return True

    def run(self) -> dict[str, int]:
        """Run the schedule; raise ShardSimFailure on any violation."""
        try:
            self.admin.start()
            for session in self.sessions:
                self.at(self.rng.randint(0, 50) * MS, session.begin)
            for _ in range(INSTANTS_MAX):
                if not self.step(self.end_us):
                    break
            self.settle()
            for cluster in self.clusters.values():
                cluster.check_cluster()
        except (InvariantViolation, InvariantError, StorageError) as exc:
            self.fail(f"{self.where}: {type(exc).__name__}: {exc}")
        self.final_checks()
        for cluster in self.clusters.values():
            for name in ("crashes", "elections", "snapshots_installed", "compactions"):
                self.counts[name] = self.counts.get(name, 0) + cluster.counts[name]
        return self.counts

    def fail(self, what: str) -> None:
        raise ShardSimFailure(
            f"seed {self.seed} at {self.now / MS:.1f} ms: {what}\n"
            f"replay: python -m sentinel.sim --workload shards --seed {self.seed} "
            f"--profile {self.profile}"
        )

    # -- invariants ------------------------------------------------------------------------

    def check_groups(self) -> None:
        """Each replica whose state moved since it was last checked serves only shards its
        configuration gives its group, and no other group serves them in that configuration."""
        for gid in self.group_ids:
            for node in self.clusters[gid].nodes.values():
                app = node.app
                if not isinstance(app, ShardGroupApp):
                    continue
                m = app.machine
                seen = (node.incarnation, m.applied_index)
                if self._checked.get((gid, node.id)) != seen:
                    self._checked[(gid, node.id)] = seen
                    self.check_machine(gid, m)

    def check_machine(self, gid: int, m: ShardGroupMachine) -> None:
        for shard in range(len(m.config.shards)):
            if not m.serves(shard):
                continue
            if m.config.shards[shard] != gid:
                self.fail(f"group {gid} serves shard {shard} not its own in config {m.config.num}")
            other = self.served.setdefault((m.config.num, shard), gid)
            if other != gid:
                self.fail(
                    f"groups {other} and {gid} both serve shard {shard} in config {m.config.num}"
                )

    # -- the end ---------------------------------------------------------------------------

    def latest(self) -> ShardConfig | None:
        """The controller's latest configuration (its most advanced running replica's)."""
        apps = [n.app for n in self.clusters[0].nodes.values() if n.app is not None]
        ctl = [a for a in apps if isinstance(a, ShardCtlApp)]
        if not ctl:
            return None
        return max(ctl, key=lambda a: a.machine.applied_index).machine.latest()

    def lagging(self) -> str:
        """Why the run has not settled ("": every group is done with the latest config)."""
        latest = self.latest()
        if latest is None or self.admin.busy:
            return "the controller is not done"
        for gid in self.group_ids:
            for node in self.clusters[gid].nodes.values():
                app = node.app
                if not isinstance(app, ShardGroupApp):
                    return f"group {gid}'s node {node.id} is down"
                m = app.machine
                if m.config.num != latest.num or not m.steady():
                    return f"group {gid} is at config {m.config.num} ({m.status}), not {latest.num}"
                held = sorted(s for s, st in m.status.items() if st != BEPULLED)
                if sorted(m.status) != held or held != list(latest.shards_of(gid)):
                    return f"group {gid} holds {sorted(m.status)}, owns {latest.shards_of(gid)}"
        return ""

    def settle(self) -> None:
        """Run on (faults healed) until every group has caught up, within SETTLE_MS_MAX."""
        deadline = self.end_us + SETTLE_MS_MAX * MS
        while self.lagging() and self.now < deadline:
            end = self.now + 100 * MS
            for _ in range(INSTANTS_MAX):
                if not self.step(end):
                    break
            self.now = end
        why = self.lagging()
        if why:
            self.fail(f"not settled {SETTLE_MS_MAX} ms after the end: {why}")

    def final_checks(self) -> None:
        latest = self.latest()
        assert latest is not None
        for cid, (lin, start) in sorted(self.open_calls.items()):
            if lin.f != "get":  # an unanswered read constrains nothing
                self.history.append(LinOperation(cid, lin, start, UNKNOWN, PENDING))
        t = self.now + 1
        for key in self.keys:
            node = self.clusters[latest.owner(key)].nodes[1]
            assert isinstance(node.app, ShardGroupApp)
            value = node.app.machine.kv[key_shard(key)].value(key) or ""
            self.history.append(LinOperation(0, KvInput("get", key), t, value, t + 1))
        verdict = check_operations(kv_model, self.history, timeout_s=30)
        if verdict is not CheckResult.OK:
            self.fail(f"history of {len(self.history)} operations is {verdict}")
