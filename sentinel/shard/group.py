"""A shard group's replicated state machine: the key/value data of each shard it holds, per
shard exactly-once tables, and the configuration it has applied. Pure and deterministic.

Every change goes through the group's own log, so every replica of the group moves through
the same states (6.824 shardkv's design):

- `InstallConfig(c)` applies only when `c` is the next configuration (`num + 1`) and every
  shard is steady (no migration of the current configuration unfinished): configurations
  are taken one at a time, in order. A shard the group gains is PULLING (it waits for its
  data), or SERVING at once when nobody owned it before; a shard it loses is BEPULLED (kept,
  frozen, served to nobody, until the receiver has it). Other shards keep serving.
- `InsertShards(num, data)`: pulled shards arrive (data and exactly-once table, so a write
  retried across the move is not applied twice); PULLING -> GCING (served, but the source
  has not yet been told to delete its copy).
- `DeleteShards(num, shards)` at the source: BEPULLED shards of configuration `num` are
  dropped (no unbounded growth). `ShardsGone(num, shards)` at the receiver: GCING ->
  SERVING once the source confirmed.
- `KVOp` (get, put, append) is served only for a shard that is SERVING or GCING in the
  applied configuration; otherwise it answers "wrong group". Writes are deduplicated by the
  shard's (client id -> highest seq) table.

A stale or repeated migration entry (wrong configuration number, shard not in the state it
expects) changes nothing, so leaders may propose them again freely.
"""

from __future__ import annotations

from sentinel.shard.config import ShardConfig, empty_config, key_shard
from sentinel.wire import WireError, decode, encode, message

SERVING = "serving"
PULLING = "pulling"
BEPULLED = "bepulled"
GCING = "gcing"
STEADY = frozenset({SERVING})

OK = ""
ERR_WRONG_GROUP = "wrong group"
ERR_WRONG_LEADER = "wrong leader"
ERR_RETRY = "retry"
ERR_NOT_READY = "not ready"
ERR_INVALID = "invalid"


@message
class KVOp:
    """A client operation: kind "get", "put" or "append"; writes carry (client id, seq)."""

    kind: str
    key: str
    value: str = ""
    client_id: int = 0
    seq: int = 0


@message
class KVOpReply:
    """ "" for success (a get's value in `value`), or an error; `leader`: a hint (0: none)."""

    err: str = OK
    value: str = ""
    leader: int = 0


@message
class ShardData:
    """One shard in flight: its items and its exactly-once table (client id, seq), sorted."""

    shard: int
    items: tuple[tuple[str, str], ...]
    dedup: tuple[tuple[int, int], ...]


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
    shards: tuple[tuple[int, str, ShardData], ...]


class ShardGroupMachine:
    """The state of group `gid` (see the module docstring)."""

    def __init__(self, gid: int) -> None:
        self.gid = gid
        self.config = empty_config()
        self.prev = empty_config()
        self.status: dict[int, str] = {}
        self.data: dict[int, dict[str, str]] = {}
        self.dedup: dict[int, dict[int, int]] = {}
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

    def shard_data(self, shard: int) -> ShardData:
        return ShardData(
            shard,
            tuple(sorted(self.data[shard].items())),
            tuple(sorted(self.dedup[shard].items())),
        )

    def pull(self, args: PullArgs) -> PullReply:
        """The source's answer to a pull: the frozen shards of configuration `args.num`."""
        if self.config.num != args.num:
            return PullReply(ERR_NOT_READY, self.config.num)
        found = tuple(self.shard_data(s) for s in args.shards if self.status.get(s) == BEPULLED)
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
            return KVOpReply(ERR_INVALID, str(exc))
        kind = type(command)
        if kind is KVOp:
            return self._op(command)
        if kind is InstallConfig:
            return self._install(command.config)
        if kind is InsertShards:
            return self._insert(command)
        if kind is DeleteShards:
            return self._delete(command)
        if kind is ShardsGone:
            return self._gone(command)
        return KVOpReply(ERR_INVALID, f"not a shard group command: {kind.__name__}")

    def _op(self, op: KVOp) -> KVOpReply:
        shard = key_shard(op.key, len(self.config.shards))
        if not self.serves(shard):
            return KVOpReply(ERR_WRONG_GROUP)
        store = self.data[shard]
        if op.kind == "get":
            return KVOpReply(OK, store.get(op.key, ""))
        if op.kind not in ("put", "append"):
            return KVOpReply(ERR_INVALID, f"unknown operation {op.kind!r}")
        table = self.dedup[shard]
        if table.get(op.client_id, 0) >= op.seq:
            return KVOpReply(OK)  # a retry: applied already
        table[op.client_id] = op.seq
        store[op.key] = op.value if op.kind == "put" else store.get(op.key, "") + op.value
        return KVOpReply(OK)

    def _install(self, config: ShardConfig) -> bool:
        if config.num != self.config.num + 1 or not self.steady():
            return False
        old = self.config
        for shard, owner in enumerate(config.shards):
            before = old.shards[shard] if shard < len(old.shards) else 0
            if owner == self.gid and before != self.gid:
                self.status[shard] = SERVING if before == 0 else PULLING
                self.data[shard], self.dedup[shard] = {}, {}
            elif before == self.gid and owner != self.gid:
                self.status[shard] = BEPULLED
        self.prev, self.config = old, config
        return True

    def _insert(self, command: InsertShards) -> int:
        if command.num != self.config.num:
            return 0
        done = 0
        for shard in command.shards:
            if self.status.get(shard.shard) == PULLING:
                self.data[shard.shard] = dict(shard.items)
                self.dedup[shard.shard] = dict(shard.dedup)
                self.status[shard.shard] = GCING
                done += 1
        return done

    def _delete(self, command: DeleteShards) -> KVOpReply:
        if command.num == self.config.num:
            for shard in command.shards:
                if self.status.get(shard) == BEPULLED:
                    del self.status[shard], self.data[shard], self.dedup[shard]
        if self.deleted(command.num, command.shards):
            return KVOpReply(OK)
        return KVOpReply(ERR_NOT_READY)

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
        shards = tuple((s, self.status[s], self.shard_data(s)) for s in sorted(self.status))
        return encode(GroupSnapshot(self.gid, self.config, self.prev, shards))

    def restore(self, data: bytes, index: int) -> None:
        """Replace the state with a snapshot's taken at `index`."""
        state = decode(data, GroupSnapshot)
        self.gid, self.config, self.prev = state.gid, state.config, state.prev
        self.status = {s: st for s, st, _ in state.shards}
        self.data = {s: dict(d.items) for s, _, d in state.shards}
        self.dedup = {s: dict(d.dedup) for s, _, d in state.shards}
        self.applied_index = index
