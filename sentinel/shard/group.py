"""A shard group's replicated state machine: kvraft's key/value state machine for each shard
it holds, and the configuration it has applied. Pure and deterministic.

Each shard is one `KVStateMachine` (statemachine.py): the typed Redis keyspace and the
bounded exactly-once session table. Its applied index is the shard's own count of commands
(its "shard index"), which moves with the shard: a session's id (its Register's shard
index) is unique for the shard's whole life, whichever group held it, and the sessions'
least-recently-used order survives a move. A shard moves as that machine's snapshot bytes
(the keyspace's encoding plus the sessions), so a write retried across a move is answered
from the session, not applied twice.

Every change goes through the group's own log, so every replica of the group moves through
the same states (6.824 shardkv's design):

- `InstallConfig(c)` applies only when `c` is the next configuration (`num + 1`) and every
  shard is steady (no migration of the current configuration unfinished): configurations
  are taken one at a time, in order. A shard the group gains is PULLING (it waits for its
  data), or SERVING at once when nobody owned it before; a shard it loses is BEPULLED (kept,
  frozen, served to nobody, until the receiver has it). Other shards keep serving.
- `InsertShards(num, data)`: pulled shards arrive; PULLING -> GCING (served, but the source
  has not yet been told to delete its copy).
- `DeleteShards(num, shards)` at the source: BEPULLED shards of configuration `num` are
  dropped (no unbounded growth). `ShardsGone(num, shards)` at the receiver: GCING ->
  SERVING once the source confirmed.
- `ShardEntry(shard, entry)`: a kv command (kvraft's stamped log-entry bytes, codec.py) for
  one shard, applied only while the shard is SERVING or GCING; otherwise "wrong group". Its
  keys must all hash to `shard` (keys.py), else "invalid" and nothing changes.

A stale or repeated migration entry (wrong configuration number, shard not in the state it
expects) changes nothing, so leaders may propose them again freely.
"""

from __future__ import annotations

import logging

from sentinel.kvraft.codec import CommandError, WriteBatch, decode_entry
from sentinel.kvraft.commands import Command, Get, RedisRead, RedisReads, RedisVersions
from sentinel.kvraft.results import Result, ResultCode
from sentinel.kvraft.snapshot import SnapshotError
from sentinel.kvraft.statemachine import KVStateMachine
from sentinel.shard.config import ShardConfig, empty_config
from sentinel.shard.keys import ShardKeyError, command_shard
from sentinel.wire import WireError, decode, encode, message

log = logging.getLogger(__name__)

SERVING = "serving"
PULLING = "pulling"
BEPULLED = "bepulled"
GCING = "gcing"
STEADY = frozenset({SERVING})
#: Each state's one string object: a snapshot holds these, never equal copies, since the
#: codec (pickle) writes a repeated object once and equal copies each time, and replicas
#: with equal states must take byte-identical snapshots.
_STATES = {state: state for state in (SERVING, PULLING, BEPULLED, GCING)}

OK = ""
ERR_WRONG_GROUP = "wrong group"
ERR_WRONG_LEADER = "wrong leader"
ERR_RETRY = "retry"
ERR_NOT_READY = "not ready"
ERR_INVALID = "invalid"

Read = Get | RedisRead | RedisReads | RedisVersions


@message
class ShardOp:
    """A client's request to a group: a kv command (`codec.encode_command` bytes, never
    stamped) for `shard`, the shard its keys hash to (a Register names it alone)."""

    shard: int
    command: bytes


@message
class ShardReply:
    """ "" with the kv state machine's `result`, or an error ("wrong group", "wrong leader",
    "retry", "not ready", "invalid" with `detail`); `leader`: a hint (0: none)."""

    err: str = OK
    result: Result | None = None
    detail: str = ""
    leader: int = 0


@message
class ShardEntry:
    """A kv command for `shard` in the group's log: kvraft's stamped log-entry bytes."""

    shard: int
    entry: bytes


@message
class ShardData:
    """One shard in flight: its kv state machine's snapshot (keyspace and sessions)."""

    shard: int
    state: bytes


@message
class InstallConfig:
    config: ShardConfig


@message
class InsertShards:
    num: int
    shards: tuple[ShardData, ...]


@message
class DeleteShards:
    num: int
    shards: tuple[int, ...]


@message
class ShardsGone:
    num: int
    shards: tuple[int, ...]


@message
class PullArgs:
    """Ask the source for shards it gives away in configuration `num`."""

    num: int
    shards: tuple[int, ...]


@message
class PullReply:
    err: str
    num: int = 0
    shards: tuple[ShardData, ...] = ()


@message
class GroupSnapshot:
    gid: int
    config: ShardConfig
    prev: ShardConfig
    shards: tuple[tuple[int, str, bytes], ...]  # (shard, status, kv snapshot)


def _state(name: str) -> str:
    """The state named `name` (WireError for a name that is none)."""
    state = _STATES.get(name)
    if state is None:
        raise WireError(f"unknown shard state {name!r}")
    return state


class ShardGroupMachine:
    """The state of group `gid` (see the module docstring)."""

    def __init__(self, gid: int) -> None:
        self.gid = gid
        self.config = empty_config()
        self.prev = empty_config()
        self.status: dict[int, str] = {}
        self.kv: dict[int, KVStateMachine] = {}
        self.applied_index = 0

    # -- views ---------------------------------------------------------------------------

    def steady(self) -> bool:
        """Whether the current configuration's migrations are all done."""
        return all(state in STEADY for state in self.status.values())

    def serves(self, shard: int) -> bool:
        """Whether a request for `shard` is served now."""
        return self.status.get(shard) in (SERVING, GCING)

    def shards_in(self, state: str) -> tuple[int, ...]:
        return tuple(sorted(s for s, st in self.status.items() if st == state))

    def check(self, shard: int, command: Command) -> ShardReply | None:
        """Why `command` cannot run on `shard` here now (None: it can)."""
        if not self.serves(shard):
            return ShardReply(ERR_WRONG_GROUP)
        try:
            home = command_shard(command, len(self.config.shards))
        except ShardKeyError as exc:
            return ShardReply(ERR_INVALID, detail=str(exc))
        if home is not None and home != shard:
            return ShardReply(ERR_INVALID, detail=f"the keys are in shard {home}, not {shard}")
        return None

    def read(self, shard: int, command: Read, wall_ms: int) -> ShardReply:
        """A read of `shard` at the applied state (a ReadIndex point), at log time
        max(`wall_ms`, the shard's last stamp)."""
        refused = self.check(shard, command)
        if refused is not None:
            return refused
        kv = self.kv[shard]
        now_ms = kv.read_time_ms(wall_ms)
        if type(command) is Get:
            return ShardReply(OK, kv.read(command.key, now_ms))
        return ShardReply(OK, kv.redis_read(command, now_ms))  # type: ignore[arg-type]

    def last_stamp_ms(self) -> int:
        """The highest log time any shard held here has applied."""
        return max((kv.last_stamp_ms for kv in self.kv.values()), default=0)

    def pull(self, args: PullArgs) -> PullReply:
        """The source's answer to a pull: the frozen shards of configuration `args.num`."""
        if self.config.num != args.num:
            return PullReply(ERR_NOT_READY, self.config.num)
        given = [s for s in args.shards if self.status.get(s) == BEPULLED]
        found = tuple(ShardData(s, self.kv[s].snapshot()) for s in given)
        return PullReply(OK, args.num, found)

    def deleted(self, num: int, shards: tuple[int, ...]) -> bool:
        """Whether the source no longer holds `shards` of configuration `num`."""
        if num < self.config.num:
            return True
        return num == self.config.num and all(self.status.get(s) != BEPULLED for s in shards)

    # -- applying ------------------------------------------------------------------------

    def apply(self, index: int, data: bytes) -> object:
        """Apply the committed entry at `index` (b"": a no-op); never raises on bad data."""
        if index <= self.applied_index:
            raise ValueError(f"apply at index {index}, but {self.applied_index} is applied")
        self.applied_index = index
        if not data:
            return None
        try:
            command = decode(data)
        except WireError as exc:
            return ShardReply(ERR_INVALID, detail=str(exc))
        kind = type(command)
        if kind is ShardEntry:
            return self._entry(command)
        if kind is InstallConfig:
            return self._install(command.config)
        if kind is InsertShards:
            return self._insert(command)
        if kind is DeleteShards:
            return self._delete(command)
        if kind is ShardsGone:
            return self._gone(command)
        return ShardReply(ERR_INVALID, detail=f"not a shard group command: {kind.__name__}")

    def _entry(self, entry: ShardEntry) -> ShardReply:
        if not self.serves(entry.shard):
            return ShardReply(ERR_WRONG_GROUP)
        try:
            now_ms, command = decode_entry(entry.entry)
        except CommandError as exc:
            return ShardReply(OK, Result(ResultCode.BAD_COMMAND, detail=str(exc)))
        if type(command) is WriteBatch:
            return ShardReply(ERR_INVALID, detail="a shard entry holds one command")
        refused = self.check(entry.shard, command)
        if refused is not None:
            return refused
        kv = self.kv[entry.shard]
        result = kv.apply_command(kv.applied_index + 1, command, now_ms)
        return ShardReply(OK, result)  # type: ignore[arg-type]

    def _install(self, config: ShardConfig) -> bool:
        if config.num != self.config.num + 1 or not self.steady():
            return False
        old = self.config
        for shard, owner in enumerate(config.shards):
            before = old.shards[shard] if shard < len(old.shards) else 0
            if owner == self.gid and before != self.gid:
                self.status[shard] = SERVING if before == 0 else PULLING
                self.kv[shard] = KVStateMachine()
            elif before == self.gid and owner != self.gid:
                self.status[shard] = BEPULLED
        self.prev, self.config = old, config
        return True

    def _insert(self, command: InsertShards) -> int:
        if command.num != self.config.num:
            return 0
        done = 0
        for shard in command.shards:
            if self.status.get(shard.shard) != PULLING:
                continue
            kv = KVStateMachine()
            try:
                kv.restore(shard.state)
            except SnapshotError as exc:  # every replica refuses it alike; pulled again
                log.warning("shard %d arrived unreadable: %s", shard.shard, exc)
                continue
            self.kv[shard.shard] = kv
            self.status[shard.shard] = GCING
            done += 1
        return done

    def _delete(self, command: DeleteShards) -> ShardReply:
        if command.num == self.config.num:
            for shard in command.shards:
                if self.status.get(shard) == BEPULLED:
                    del self.status[shard], self.kv[shard]
        if self.deleted(command.num, command.shards):
            return ShardReply(OK)
        return ShardReply(ERR_NOT_READY)

    def _gone(self, command: ShardsGone) -> int:
        if command.num != self.config.num:
            return 0
        done = 0
        for shard in command.shards:
            if self.status.get(shard) == GCING:
                self.status[shard] = SERVING
                done += 1
        return done

    # -- snapshots -----------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """Deterministic bytes of the whole state."""
        shards = tuple((s, self.status[s], self.kv[s].snapshot()) for s in sorted(self.status))
        return encode(GroupSnapshot(self.gid, self.config, self.prev, shards))

    def restore(self, data: bytes, index: int) -> None:
        """Replace the state with a snapshot's taken at `index`."""
        state = decode(data, GroupSnapshot)
        kv: dict[int, KVStateMachine] = {}
        for shard, _, blob in state.shards:
            kv[shard] = KVStateMachine()
            kv[shard].restore(blob)
        self.gid, self.config, self.prev = state.gid, state.config, state.prev
        self.status = {s: _state(st) for s, st, _ in state.shards}
        self.kv = kv
        self.applied_index = index
