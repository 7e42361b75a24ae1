"""The clients of a sharded simulation (shards.py): key/value sessions that route each call
by its key's shard, and the administrator that joins and leaves groups. Both reach the
production servers' RPCs (`ShardKV.Op`, `ShardCtl.Query`, `ShardCtl.Change`) through the
router (shardnet.py), one call at a time, as `ShardClerk` and `CtlClerk` do without threads:
each answer is a callback on the simulation's clock.

A `ShardSession` caches the latest configuration it has seen and asks the controller again
after a "wrong group" answer or a few unanswered attempts. Its sessions are per shard, as
the clerk's: a Register through the shard's group before its first write there, then writes
numbered 1, 2, 3..., each retried unchanged until answered (exactly once across moves: the
session table moves with the shard). A `SESSION_EXPIRED` answer is a failure: the runs stay
far below the session bound, so it can only mean a shard moved without its sessions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sentinel.kvraft.codec import encode_command
from sentinel.kvraft.commands import Append, Command, Get, Put, Register
from sentinel.kvraft.results import Result, ResultCode
from sentinel.lin import KvInput
from sentinel.lin import Operation as LinOperation
from sentinel.netsim.rpc import RpcReply
from sentinel.shard.config import ShardConfig, empty_config, group_names, key_shard
from sentinel.shard.ctl import ERR_INVALID as CTL_INVALID
from sentinel.shard.ctl import CtlJoin, CtlLeave, CtlQuery, CtlRegister, CtlReply
from sentinel.shard.group import ERR_WRONG_GROUP, ERR_WRONG_LEADER, OK, ShardOp, ShardReply
from sentinel.sim.shardnet import GROUP_IDS

if TYPE_CHECKING:
    from sentinel.sim.shards import ShardSim

MS = 1000
#: One attempt waits this long for its answer.
ATTEMPT_TIMEOUT_US = 250 * MS
#: Unanswered attempts in a row after which a session asks the controller again.
ATTEMPTS_PER_REFRESH = 3
#: The controller's node ids (config.node_id_of: "ctl.<i>").
CTL_IDS = (1, 2, 3)


def _value(reply: RpcReply | None) -> object:
    return None if reply is None else reply.value


class Leaders:
    """Which node of each group (0: the controller) a client tries next: the one that
    answered last, the leader a "wrong leader" answer names, else the next in turn (as
    CtlClerk does). Ids are a node's within its group (1..n): what the simulated nodes
    name their leader with."""

    def __init__(self, replicas_n: int) -> None:
        self.replicas_n = replicas_n
        self.guess: dict[int, int] = {}

    def node_id(self, gid: int) -> int:
        """The node (config.node_id_of numbering) to try in group `gid`."""
        return GROUP_IDS * gid + self.guess.setdefault(gid, 1)

    def heard(self, gid: int, value: object) -> None:
        """What node_id(gid) answered (None: nothing): stay, follow the hint, or move on."""
        err = getattr(value, "err", None)
        if value is not None and err in (OK, ERR_WRONG_GROUP, CTL_INVALID):
            return
        hint = getattr(value, "leader", 0)
        if err == ERR_WRONG_LEADER and 1 <= hint <= self.replicas_n:
            self.guess[gid] = hint
        else:
            self.guess[gid] = self.guess.get(gid, 1) % self.replicas_n + 1


class ShardSession:
    """Client `cid`: one key/value call at a time; a session per shard it writes to."""

    def __init__(self, sim: ShardSim, cid: int) -> None:
        self.sim = sim
        self.cid = cid
        self.rng = sim.rng
        self.config: ShardConfig = empty_config()
        self.sessions: dict[int, list[int]] = {}  # shard -> [client id, last seq]
        self.calls = 0
        self.leaders = Leaders(sim.replicas_n)
        self.misses = 0

    def begin(self) -> None:
        """Start the next call (until the clients stop)."""
        sim, rng = self.sim, self.rng
        if sim.now >= sim.clients_stop_us:
            return
        self.calls += 1
        key = rng.choice(sim.keys)
        f = rng.choice(("get", "put", "append", "append"))
        value = f"{self.cid}.{self.calls} " if f != "get" else None
        lin = KvInput(f, key, value)
        start = sim.now
        sim.open_calls[self.cid] = (lin, start)
        shard = key_shard(key)

        def finish(result: Result) -> None:
            if result.code is ResultCode.SESSION_EXPIRED:
                sim.fail(f"client {self.cid} lost its session on shard {shard}")
            del sim.open_calls[self.cid]
            output = (result.value or "") if f == "get" else None
            sim.history.append(LinOperation(self.cid, lin, start, output, sim.now))
            sim.counts["ops"] += 1
            sim.at(rng.randint(0, 20) * MS, self.begin)

        def write() -> None:
            session = self.sessions[shard]
            session[1] += 1
            kind = Put if f == "put" else Append
            self.call(shard, kind(key, value, session[0], session[1]), finish)

        def opened(result: Result) -> None:
            self.sessions[shard] = [result.client_id, 0]
            write()

        if f == "get":
            self.call(shard, Get(key), finish)
        elif shard in self.sessions:
            write()
        else:
            self.call(shard, Register(), opened)

    def call(self, shard: int, command: Command, on_ok: Callable[[Result], None]) -> None:
        """Send `command` to a server of the group owning `shard` until one answers it (or
        the run gives up: its outcome stays unknown)."""
        sim = self.sim
        if sim.now >= sim.give_up_us:
            return
        again = lambda: self.call(shard, command, on_ok)  # noqa: E731
        gid = self.config.shards[shard]
        if gid == 0:
            self.refresh(again)
            return
        dst = self.leaders.node_id(gid)

        def on_reply(reply: RpcReply | None) -> None:
            value = _value(reply)
            self.leaders.heard(gid, value)
            if isinstance(value, ShardReply) and value.err == OK and value.result is not None:
                self.misses = 0
                on_ok(value.result)
                return
            sim.counts["retries"] += 1
            self.misses += 1
            wrong = isinstance(value, ShardReply) and value.err == ERR_WRONG_GROUP
            if wrong or self.misses % ATTEMPTS_PER_REFRESH == 0:
                self.refresh(again)
            else:
                sim.at(self.rng.randint(1, 10) * MS, again)

        op = ShardOp(shard, encode_command(command))
        sim.router.call(dst, "ShardKV.Op", op, ATTEMPT_TIMEOUT_US, on_reply)

    def refresh(self, then: Callable[[], None]) -> None:
        """Ask a controller node for the latest configuration, then `then()`."""
        dst = self.leaders.node_id(0)

        def on_reply(reply: RpcReply | None) -> None:
            value = _value(reply)
            self.leaders.heard(0, value)
            config = value.config if isinstance(value, CtlReply) and value.err == OK else None
            if config is not None and config.num > self.config.num:
                self.config = config
            self.sim.at(self.rng.randint(1, 20) * MS, then)

        self.sim.router.call(dst, "ShardCtl.Query", CtlQuery(-1), ATTEMPT_TIMEOUT_US, on_reply)


class Admin:
    """Joins and leaves groups at the controller, one change at a time, every 300-1500 ms
    until `sim.changes_stop_us` (through the faults and on into the calm, under the clients'
    load; at least one group stays); each change retried with its (client id, seq) until
    answered."""

    def __init__(self, sim: ShardSim) -> None:
        self.sim = sim
        self.client_id = 0
        self.seq = 0
        self.latest = empty_config()
        self.leaders = Leaders(sim.replicas_n)
        #: Whether a change is on its way (the run settles only once none is).
        self.busy = False

    def start(self) -> None:
        """Open the session, join group 1, then change now and then."""
        self.busy = True

        def registered(reply: CtlReply) -> None:
            self.client_id = reply.client_id
            self.submit(self.join(1))

        self.send(CtlRegister(), registered)

    def join(self, gid: int) -> CtlJoin:
        self.seq += 1
        names = group_names(gid, self.sim.replicas_n)
        return CtlJoin(((gid, names),), self.client_id, self.seq)

    def change(self) -> None:
        """Join an absent group or make a present one leave."""
        sim = self.sim
        present = self.latest.group_ids()
        absent = [g for g in sim.group_ids if g not in present]
        if absent and (len(present) < 2 or sim.rng.random() < 0.5):
            self.submit(self.join(sim.rng.choice(absent)))
        else:
            self.seq += 1
            self.submit(CtlLeave((sim.rng.choice(present),), self.client_id, self.seq))

    def submit(self, command: CtlJoin | CtlLeave) -> None:
        self.busy = True

        def done(reply: CtlReply) -> None:
            if reply.config is not None and reply.config.num > self.latest.num:
                self.latest = reply.config
            if reply.err == OK:
                self.sim.counts["changes"] += 1
            self.busy = False
            if self.sim.now < self.sim.changes_stop_us:
                self.sim.at(self.sim.rng.randint(300, 1500) * MS, self.change)

        self.send(command, done)

    def send(self, command: object, done: Callable[[CtlReply], None]) -> None:
        """Call "ShardCtl.Change" until a controller node answers it (OK or invalid)."""
        dst = self.leaders.node_id(0)

        def on_reply(reply: RpcReply | None) -> None:
            value = _value(reply)
            self.leaders.heard(0, value)
            if isinstance(value, CtlReply) and value.err in (OK, CTL_INVALID):
                done(value)
            else:
                self.sim.at(self.sim.rng.randint(1, 20) * MS, lambda: self.send(command, done))

        self.sim.router.call(dst, "ShardCtl.Change", command, ATTEMPT_TIMEOUT_US, on_reply)
