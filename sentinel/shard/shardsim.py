"""A seeded, deterministic simulation of a sharded store: a controller, several shard groups
and clients on one simulated network, with joins and leaves, lost and delayed messages,
replica crashes and leader changes. It runs the real `ShardGroupMachine`, the real leader
work (groupwork.py) and the real controller state machine.

What it abstracts: each group's raft is a replicated log with the guarantees raft gives (a
committed prefix common to all replicas; a new leader may discard the uncommitted tail, so a
proposal can be lost or replaced; replicas apply the committed prefix at their own pace and
restart from their last snapshot). The raft core itself is simulated by sentinel.sim.

Clients speak kvraft's commands: a Register opens their session on a shard before their
first write there. Invariants, checked after every event: a replica serves a shard only if
its applied configuration gives the shard to its group, and at most one group serves a
shard in any configuration; no client's session is ever lost (the runs stay far below the
session bound, so SESSION_EXPIRED can only mean a shard moved without its sessions). At the
end (faults healed, every group caught up): every group holds exactly the shards it owns
(given-away shards deleted), and the clients' history, with final reads of every key, is
linearizable (`sentinel.lin`): no acknowledged write lost or applied twice.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sentinel.kvraft.codec import encode_command, stamp_entry
from sentinel.kvraft.commands import Append, Command, Get, Put, Register
from sentinel.kvraft.results import Result, ResultCode
from sentinel.lin import PENDING, UNKNOWN, CheckResult, KvInput, check_operations, kv_model
from sentinel.lin import Operation as LinOperation
from sentinel.shard.config import group_names, key_shard
from sentinel.shard.ctl import CtlJoin, CtlLeave, CtlRegister, CtlReply, ShardCtlMachine
from sentinel.shard.group import (
    BEPULLED,
    ERR_RETRY,
    ERR_WRONG_GROUP,
    ERR_WRONG_LEADER,
    OK,
    ShardEntry,
    ShardGroupMachine,
    ShardReply,
)
from sentinel.shard.groupwork import DELETE, PULL, QUERY, Task, follow_up, tasks
from sentinel.wire import decode, encode

MS = 1000
#: Events one run may handle (a bound on the loop).
EVENTS_MAX = 2_000_000


class ShardSimFailure(AssertionError):
    """An invariant broke; the message names the seed to replay."""


@dataclass
class Replica:
    machine: ShardGroupMachine
    snap: tuple[int, bytes] | None = None


@dataclass
class Group:
    gid: int
    replicas: list[Replica]
    log: list[tuple[int, bytes]] = field(default_factory=list)  # (epoch, data); index = pos+1
    commit: int = 0
    leader: int = 0
    epoch: int = 1
    #: index -> (epoch, callback(reply)) of proposals waiting at the leader
    waiters: dict[int, tuple[int, Callable[[Any], None]]] = field(default_factory=dict)


@dataclass
class ShardSim:
    seed: int
    groups_n: int = 3
    replicas_n: int = 3
    clients_n: int = 4
    keys: tuple[str, ...] = ("a", "b", "c", "d", "e", "f", "g", "h")
    fault_ms: int = 4000
    drop: float = 0.1
    history: list[LinOperation] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"shardsim/{self.seed}")
        self.now = 0
        self.events: list[tuple[int, int, Callable[[], None]]] = []
        self.order = itertools.count()
        self.ctl = ShardCtlMachine()
        self.ctl_index = 0
        self.admin = self._ctl(CtlRegister()).client_id
        self.admin_seq = 0
        self.groups = {
            g: Group(g, [Replica(ShardGroupMachine(g)) for _ in range(self.replicas_n)])
            for g in range(1, self.groups_n + 1)
        }
        self.served: dict[tuple[int, int], int] = {}
        #: client -> (input, call time) of its call in progress.
        self.open_calls: dict[int, tuple[KvInput, int]] = {}
        self.counts = dict.fromkeys(("ops", "retries", "crashes", "elections", "changes"), 0)

    # -- plumbing ------------------------------------------------------------------------

    def at(self, delay_us: int, action: Callable[[], None]) -> None:
        heapq.heappush(self.events, (self.now + delay_us, next(self.order), action))

    def faulty(self) -> bool:
        return self.now < self.fault_ms * MS

    def send(self, action: Callable[[], None]) -> None:
        """A message: lost with `drop` while faults run, else delivered in 0.5-15 ms."""
        if self.faulty() and self.rng.random() < self.drop:
            return
        self.at(self.rng.randint(500, 15 * MS), action)

    def _ctl(self, command: object) -> CtlReply:
        self.ctl_index += 1
        return self.ctl.apply(self.ctl_index, encode(command))

    # -- groups as replicated logs ---------------------------------------------------------

    def propose(self, group: Group, command: object, done: Callable[[Any], None]) -> None:
        group.log.append((group.epoch, encode(command)))
        group.waiters[len(group.log)] = (group.epoch, done)

    def step_group(self, group: Group) -> None:
        if group.commit < len(group.log):
            group.commit = self.rng.randint(group.commit, len(group.log))
        for i, replica in enumerate(group.replicas):
            lag = 0 if i == group.leader else self.rng.randint(0, 3)
            target = max(replica.machine.applied_index, group.commit - lag)
            while replica.machine.applied_index < target:
                index = replica.machine.applied_index + 1
                epoch, data = group.log[index - 1]
                reply = replica.machine.apply(index, data)
                if i == group.leader and index in group.waiters:
                    want, done = group.waiters.pop(index)
                    done(reply if want == epoch else ShardReply(ERR_WRONG_LEADER))
                if index % 7 == 0:
                    replica.snap = (index, replica.machine.snapshot())
            self.check_replica(group, replica)

    def elect(self, group: Group) -> None:
        """A new leader: the uncommitted tail may be lost; waiting proposals hear "retry"."""
        self.counts["elections"] += 1
        keep = self.rng.randint(group.commit, len(group.log))
        del group.log[keep:]
        for _, done in group.waiters.values():
            done(ShardReply(ERR_RETRY))
        group.waiters.clear()
        group.epoch += 1
        group.leader = self.rng.randrange(len(group.replicas))
        leader = group.replicas[group.leader].machine
        while leader.applied_index < group.commit:  # a leader applies what is committed
            index = leader.applied_index + 1
            leader.apply(index, group.log[index - 1][1])

    def crash(self, group: Group) -> None:
        self.counts["crashes"] += 1
        i = self.rng.randrange(len(group.replicas))
        fresh = ShardGroupMachine(group.gid)
        snap = group.replicas[i].snap
        if snap is not None:
            fresh.restore(snap[1], snap[0])
        group.replicas[i].machine = fresh
        if i == group.leader:
            self.elect(group)

    # -- invariants ----------------------------------------------------------------------

    def check_replica(self, group: Group, replica: Replica) -> None:
        m = replica.machine
        for shard in range(len(m.config.shards)):
            if not m.serves(shard):
                continue
            if m.config.shards[shard] != group.gid:
                self.fail(
                    f"group {group.gid} serves shard {shard} not its own in config {m.config.num}"
                )
            other = self.served.setdefault((m.config.num, shard), group.gid)
            if other != group.gid:
                self.fail(
                    f"groups {other} and {group.gid} both serve shard {shard} "
                    f"in config {m.config.num}"
                )

    def fail(self, what: str) -> None:
        raise ShardSimFailure(f"seed {self.seed} at {self.now / MS:.1f} ms: {what}")

    # -- leaders' own work ----------------------------------------------------------------

    def leader_poll(self, group: Group) -> None:
        self.at(100 * MS, lambda: self.leader_poll(group))
        leader = group.replicas[group.leader].machine
        for task in tasks(leader):
            self.send(lambda t=task: self.serve_task(group, t))

    def serve_task(self, group: Group, task: Task) -> None:
        if task.method == QUERY:
            reply: Any = CtlReply(config=self.ctl.query(task.args.num))  # type: ignore[union-attr]
            self.send(lambda: self.task_reply(group, task, reply))
            return
        source = self.groups[task.gid]
        if task.method == PULL:  # any replica of the source may answer (frozen shards)
            replica = self.rng.choice(source.replicas).machine
            pulled = decode(encode(replica.pull(task.args)))  # type: ignore[arg-type]
            self.send(lambda: self.task_reply(group, task, pulled))
            return
        assert task.method == DELETE
        self.propose(
            source, task.args, lambda r: self.send(lambda: self.task_reply(group, task, r))
        )

    def task_reply(self, group: Group, task: Task, reply: Any) -> None:
        command = follow_up(group.replicas[group.leader].machine, task, reply)
        if command is not None:
            self.propose(group, command, lambda r: None)

    # -- clients --------------------------------------------------------------------------

    def client(self, cid: int) -> None:
        """Client `cid`: one operation at a time; a session per shard it writes to."""
        config = [self.ctl.query(-1)]
        sessions: dict[int, list[int]] = {}  # shard -> [client id, last seq]
        count = [0]

        def begin() -> None:
            if self.now > (self.fault_ms + 2000) * MS:
                return
            count[0] += 1
            key = self.rng.choice(self.keys)
            f = self.rng.choice(("get", "put", "append", "append"))
            value = f"{cid}.{count[0]} " if f != "get" else None
            lin = KvInput(f, key, value)
            start = self.now
            self.open_calls[cid] = (lin, start)
            shard = key_shard(key)

            def finish(result: Result) -> None:
                if result.code is ResultCode.SESSION_EXPIRED:
                    self.fail(f"client {cid} lost its session on shard {shard}")
                del self.open_calls[cid]
                output = (result.value or "") if f == "get" else None
                self.history.append(LinOperation(cid, lin, start, output, self.now))
                self.counts["ops"] += 1
                self.at(self.rng.randint(0, 20 * MS), begin)

            def write() -> None:
                session = sessions[shard]
                session[1] += 1
                kind = Put if f == "put" else Append
                call(shard, kind(key, value, session[0], session[1]), finish)

            def opened(result: Result) -> None:
                sessions[shard] = [result.client_id, 0]
                write()

            if f == "get":
                call(shard, Get(key), finish)
            elif shard in sessions:
                write()
            else:
                call(shard, Register(), opened)

        def call(shard: int, command: Command, on_ok: Callable[[Result], None]) -> None:
            gid = config[0].shards[shard]
            answered = [False]

            def on_reply(reply: ShardReply) -> None:
                if answered[0]:
                    return
                answered[0] = True
                if reply.err == OK and reply.result is not None:
                    on_ok(reply.result)
                    return
                if reply.err == ERR_WRONG_GROUP:
                    config[0] = self.ctl.query(-1)
                retry()

            def retry() -> None:
                self.counts["retries"] += 1
                self.at(self.rng.randint(1, 30) * MS, lambda: call(shard, command, on_ok))

            def timeout() -> None:
                if not answered[0]:
                    answered[0] = True
                    retry()

            if self.now > (self.fault_ms + 6000) * MS:  # the run is over: outcome unknown
                return
            self.at(200 * MS, timeout)
            if gid == 0:
                self.send(lambda: on_reply(ShardReply(ERR_WRONG_GROUP)))
                return
            group = self.groups[gid]
            target = self.rng.randrange(len(group.replicas))

            def arrive() -> None:
                if target != group.leader:
                    self.send(lambda: on_reply(ShardReply(ERR_WRONG_LEADER)))
                    return
                entry = ShardEntry(shard, stamp_entry(self.now // MS, encode_command(command)))
                self.propose(group, entry, lambda r: self.send(lambda: on_reply(r)))

            self.send(arrive)

        self.at(self.rng.randint(0, 50 * MS), begin)

    # -- the run ---------------------------------------------------------------------------

    def change(self) -> None:
        """A join or a leave at the controller (at least one group stays)."""
        if self.faulty():
            self.at(self.rng.randint(200, 800) * MS, self.change)
        present = self.ctl.latest().group_ids()
        absent = [g for g in self.groups if g not in present]
        self.admin_seq += 1
        if absent and (len(present) < 2 or self.rng.random() < 0.5):
            gid = self.rng.choice(absent)
            self._ctl(
                CtlJoin(((gid, group_names(gid, self.replicas_n)),), self.admin, self.admin_seq)
            )
        else:
            gid = self.rng.choice(present)
            self._ctl(CtlLeave((gid,), self.admin, self.admin_seq))
        self.counts["changes"] += 1

    def faults(self) -> None:
        if not self.faulty():
            return
        self.at(self.rng.randint(20, 200) * MS, self.faults)
        group = self.groups[self.rng.randint(1, self.groups_n)]
        (self.crash if self.rng.random() < 0.5 else self.elect)(group)

    def ticks(self) -> None:
        self.at(5 * MS, self.ticks)
        for gid in sorted(self.groups):
            self.step_group(self.groups[gid])

    def run(self) -> dict[str, int]:
        """Run the schedule; raise ShardSimFailure on any violation."""
        self.admin_seq += 1
        self._ctl(CtlJoin(((1, group_names(1, self.replicas_n)),), self.admin, self.admin_seq))
        for gid in sorted(self.groups):
            self.leader_poll(self.groups[gid])
        for cid in range(1, self.clients_n + 1):
            self.client(cid)
        self.at(300 * MS, self.change)
        self.at(50 * MS, self.faults)
        self.ticks()
        end = (self.fault_ms + 8000) * MS
        for _ in range(EVENTS_MAX):
            if not self.events or self.events[0][0] > end:
                break
            self.now, _, action = heapq.heappop(self.events)
            action()
        self.final_checks()
        return self.counts

    def final_checks(self) -> None:
        latest = self.ctl.latest()
        for gid, group in sorted(self.groups.items()):
            for replica in group.replicas:
                m = replica.machine
                if m.config.num != latest.num or not m.steady():
                    self.fail(
                        f"group {gid} is at config {m.config.num} ({m.status}), not {latest.num}"
                    )
                held = sorted(s for s, st in m.status.items() if st != BEPULLED)
                if sorted(m.status) != held or held != list(latest.shards_of(gid)):
                    self.fail(f"group {gid} holds {sorted(m.status)}, owns {latest.shards_of(gid)}")
        for cid, (lin, start) in sorted(self.open_calls.items()):
            self.history.append(LinOperation(cid, lin, start, UNKNOWN, PENDING))
        t = self.now + 1
        for key in self.keys:
            gid = latest.owner(key)
            value = self.groups[gid].replicas[0].machine.kv[key_shard(key)].value(key) or ""
            self.history.append(LinOperation(0, KvInput("get", key), t, value, t + 1))
        verdict = check_operations(kv_model, self.history, timeout_s=30)
        if verdict is not CheckResult.OK:
            self.fail(f"history of {len(self.history)} operations is {verdict}")
