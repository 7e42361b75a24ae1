"""The shard controller's replicated state machine: the numbered configurations and the
exactly-once sessions of its clients. Pure and deterministic, like `KVStateMachine`.

Log entries are wire frames of one command: `CtlRegister` opens a session (client id = the
entry's log index, as in kvraft), `CtlJoin`, `CtlLeave` and `CtlMove` each make the next
configuration (config.py). They follow kvraft's session rules (`kvraft.sessions`): a retried
(client id, seq) is answered again and not applied, a lower seq is stale, an unknown client
id is refused. A change that does not apply (a group joining twice, leaving when absent, a
shard out of range) changes nothing but the session, and answers an error on every replica
alike. `CtlQuery` is a read: the server answers it at a ReadIndex point, not through the log.
"""

from __future__ import annotations

import logging

from sentinel.kvraft.limits import CLIENT_ID_MAX, SEQ_MAX, SESSIONS_MAX_DEFAULT
from sentinel.kvraft.results import ResultCode
from sentinel.kvraft.sessions import Session, SessionTable
from sentinel.shard.config import (
    ConfigError,
    Groups,
    ShardConfig,
    empty_config,
    joined,
    left,
    moved,
    validate_groups,
)
from sentinel.wire import WireError, decode, encode, message

log = logging.getLogger(__name__)

#: Configurations the controller keeps (each holds NSHARDS ints and the group table); past
#: it a change is refused rather than growing without end.
CONFIGS_MAX = 100_000

#: Reply errors ("" is success).
OK = ""
ERR_WRONG_LEADER = "wrong leader"
ERR_RETRY = "retry"  # may still be applied: try again with the same (client id, seq)
ERR_SESSION = "session expired"
ERR_STALE = "stale request"
ERR_INVALID = "invalid"  # the detail says why; nothing changed


@message
class CtlRegister:
    """Open a session: the reply's client_id names it on every later change."""


@message
class CtlJoin:
    """Add replica groups (group id -> server names) and rebalance."""

    groups: Groups
    client_id: int
    seq: int


@message
class CtlLeave:
    """Remove groups; their shards go to the others."""

    gids: tuple[int, ...]
    client_id: int
    seq: int


@message
class CtlMove:
    """Give `shard` to group `gid` (a later Join or Leave may undo it)."""

    shard: int
    gid: int
    client_id: int
    seq: int


@message
class CtlQuery:
    """Configuration `num`, or the latest for -1 or a number past the end."""

    num: int = -1


@message
class CtlReply:
    """A controller answer: `err` ("" for success), the configuration asked for (Query) or
    made (a change), the client id (Register), the known leader's node id (0: unknown)."""

    err: str = OK
    config: ShardConfig | None = None
    client_id: int = 0
    leader: int = 0
    detail: str = ""
    duplicate: bool = False


CtlChange = CtlJoin | CtlLeave | CtlMove
CtlCommand = CtlRegister | CtlJoin | CtlLeave | CtlMove


@message
class CtlSnapshot:
    """The whole controller state; sessions as (client id, seq, code, last index) in
    least-recently-used order, so the same state always gives the same bytes."""

    applied_index: int
    configs: tuple[ShardConfig, ...]
    sessions: tuple[tuple[int, int, int, int], ...]


def check_change(command: object) -> None:
    """ConfigError unless `command` is a well-formed change (types and id ranges)."""
    if type(command) not in (CtlJoin, CtlLeave, CtlMove):
        raise ConfigError(f"not a controller change: {type(command).__name__}")
    client_id, seq = command.client_id, command.seq  # type: ignore[union-attr]
    for value, top, what in ((client_id, CLIENT_ID_MAX, "client id"), (seq, SEQ_MAX, "seq")):
        if type(value) is not int or not 1 <= value <= top:
            raise ConfigError(f"{what} {value!r} is not an int in [1, {top}]")
    if type(command) is CtlJoin:
        validate_groups(command.groups)
    elif type(command) is CtlLeave and type(command.gids) is not tuple:
        raise ConfigError("leave takes a tuple of group ids")


class ShardCtlMachine:
    """The configurations (index = number) and the session table at `applied_index`."""

    def __init__(self, sessions_max: int = SESSIONS_MAX_DEFAULT) -> None:
        self.configs: list[ShardConfig] = [empty_config()]
        self._sessions = SessionTable(sessions_max)
        self.applied_index = 0

    def latest(self) -> ShardConfig:
        """The newest configuration."""
        return self.configs[-1]

    def query(self, num: int) -> ShardConfig:
        """Configuration `num`; the latest for -1 or past the end."""
        if type(num) is not int or num < 0 or num >= len(self.configs):
            return self.configs[-1]
        return self.configs[num]

    def apply(self, index: int, data: bytes) -> CtlReply:
        """Apply the committed entry at `index` (b"": a no-op); never raises on bad data."""
        if index <= self.applied_index:
            raise ValueError(f"apply at index {index}, but {self.applied_index} is applied")
        self.applied_index = index
        if not data:
            return CtlReply()
        try:
            command = decode(data)
            if type(command) is not CtlRegister:
                check_change(command)
        except (WireError, ConfigError) as exc:
            log.warning("controller entry %d refused: %s", index, exc)
            return CtlReply(ERR_INVALID, detail=str(exc))
        if type(command) is CtlRegister:
            return CtlReply(client_id=self._sessions.open(index))
        return self._change(index, command)

    def _change(self, index: int, command: CtlChange) -> CtlReply:
        session = self._sessions.get(command.client_id)
        if session is None:
            return CtlReply(ERR_SESSION, detail=f"client {command.client_id} has no session")
        if command.seq <= session.seq:
            self._sessions.touch(command.client_id, index)
            if command.seq < session.seq:
                return CtlReply(ERR_STALE, detail=f"seq {command.seq} < {session.seq}")
            err = OK if session.code is ResultCode.OK else ERR_INVALID
            return CtlReply(err, self.latest(), duplicate=True)
        try:
            config = self._next(command)
        except ConfigError as exc:
            code = ResultCode.BAD_COMMAND
            self._sessions.record(command.client_id, command.seq, code, index)
            return CtlReply(ERR_INVALID, detail=str(exc))
        self.configs.append(config)
        self._sessions.record(command.client_id, command.seq, ResultCode.OK, index)
        return CtlReply(OK, config)

    def _next(self, command: CtlChange) -> ShardConfig:
        if len(self.configs) >= CONFIGS_MAX:
            raise ConfigError(f"the controller holds {CONFIGS_MAX} configurations already")
        latest = self.latest()
        if type(command) is CtlJoin:
            return joined(latest, validate_groups(command.groups))
        if type(command) is CtlLeave:
            return left(latest, command.gids)
        return moved(latest, command.shard, command.gid)  # type: ignore[union-attr]

    def snapshot(self) -> bytes:
        """Deterministic bytes of the whole state."""
        sessions = tuple((s.client_id, s.seq, s.code.value, s.last_index) for s in self._sessions)
        return encode(CtlSnapshot(self.applied_index, tuple(self.configs), sessions))

    def restore(self, data: bytes) -> None:
        """Replace the state with a snapshot's (WireError leaves it unchanged)."""
        state = decode(data, CtlSnapshot)
        sessions = (Session(c, s, ResultCode(code), i) for c, s, code, i in state.sessions)
        table = SessionTable.from_sessions(sessions, self._sessions.sessions_max)
        self.configs, self._sessions = list(state.configs), table
        self.applied_index = state.applied_index
