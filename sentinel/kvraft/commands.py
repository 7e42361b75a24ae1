"""The key/value commands: what a client asks for and what goes into the raft log.

Commands travel, in RPCs and in the raft log alike, in the one compact binary form of
`sentinel.kvraft.codec`. They are `@message` dataclasses for the registry's fast
constructor (every replica builds one per applied entry), not to be sent as they are.

- `Register()` opens an exactly-once session. The state machine answers with a fresh client
  id: the log index of this Register entry (unique for the life of the cluster, never reused,
  so a session that was expired can never come back by accident).
- `Get(key)` reads a key (normally served by ReadIndex at the server, not through the log).
- `Put`, `Append`, `Delete` and `Cas` are writes. Each carries the client id and a sequence
  number (1, 2, 3, ... per client) so a retried write is applied at most once.
- `Cas(key, expected, new)` sets `key` to `new` only if its value is `expected`; `expected=None`
  means "the key is absent".
- `RedisWrite(args)` is one Redis write command (`args[0]` its name, all bytes) and
  `RedisExec(commands, watched)` a MULTI/EXEC block (one entry: all or nothing; aborted when
  a key of `watched` is no longer at the version WATCH read): writes under a session.
- `RedisRead(args)` is one Redis read command, `RedisReads(commands)` several at one read
  point, and `RedisVersions(keys)` reads WATCH's versions: served by ReadIndex, not through
  the log.
- `Purge(keys)` deletes those of `keys` that have expired: the leader logs it on its own
  (no session), so that memory comes back on every replica.

Construction does not check types (dataclasses never do): call `validate_command` (or build
with `make_command`) before a command goes anywhere.
"""

from __future__ import annotations

from sentinel.kvraft.keyspace.keyspace import BATCH_COMMANDS_MAX, PURGE_KEYS_MAX
from sentinel.kvraft.limits import (
    KEY_BYTES_MAX,
    VALUE_BYTES_MAX,
    InvalidRequest,
    validate_client_id,
    validate_int,
    validate_key,
    validate_seq,
    validate_value,
)
from sentinel.wire import message


@message
class Register:
    """Open a session; the result's client_id is the id to put on every later write."""


@message
class Get:
    """Read `key`: OK with its value, or NO_KEY."""

    key: str


@message
class Put:
    """Set `key` to `value`."""

    key: str
    value: str
    client_id: int
    seq: int


@message
class Append:
    """Append `value` to the value of `key` (a missing key counts as "")."""

    key: str
    value: str
    client_id: int
    seq: int


@message
class Delete:
    """Remove `key`: OK if it was there, NO_KEY if it was not."""

    key: str
    client_id: int
    seq: int


@message
class Cas:
    """Set `key` to `new` if its value equals `expected` (None: the key is absent)."""

    key: str
    expected: str | None
    new: str
    client_id: int
    seq: int


@message
class RedisWrite:
    """One Redis write command: `args[0]` is its name (any case), every arg bytes."""

    args: tuple[bytes, ...]
    client_id: int
    seq: int


@message
class RedisExec:
    """A MULTI/EXEC block: its commands, and the (key, version) pairs WATCH read."""

    commands: tuple[tuple[bytes, ...], ...]
    watched: tuple[tuple[bytes, int], ...]
    client_id: int
    seq: int


@message
class RedisRead:
    """One Redis read command (served by ReadIndex)."""

    args: tuple[bytes, ...]


@message
class RedisReads:
    """Several Redis read commands served at one read point (a pipeline's or a burst's
    reads: one request, one ReadIndex round); the reply is an Array of their replies."""

    commands: tuple[tuple[bytes, ...], ...]


@message
class RedisVersions:
    """WATCH's versions of `keys` (served by ReadIndex)."""

    keys: tuple[bytes, ...]


@message
class Purge:
    """Delete those of `keys` that have expired (logged by the leader, no session)."""

    keys: tuple[bytes, ...]


Write = Put | Append | Delete | Cas | RedisWrite | RedisExec
Command = (
    Register | Get | Put | Append | Delete | Cas | RedisWrite | RedisExec | RedisRead
    | RedisReads | RedisVersions | Purge
)  # fmt: skip

#: Operation names as clients (CLI, RESP gateway) spell them -> command class.
OPERATIONS: dict[str, type] = {
    "register": Register,
    "get": Get,
    "put": Put,
    "append": Append,
    "delete": Delete,
    "cas": Cas,
}
#: Arguments of one Redis command (MSET of many keys is one command).
ARGS_MAX = 1024 * 1024
WRITE_TYPES: tuple[type, ...] = (Put, Append, Delete, Cas, RedisWrite, RedisExec)
REDIS_TYPES: tuple[type, ...] = (RedisWrite, RedisExec, RedisRead, RedisReads, RedisVersions,
                                  Purge)  # fmt: skip
COMMAND_TYPES: tuple[type, ...] = (Register, Get, Put, Append, Delete, Cas, *REDIS_TYPES)


def validate_command(command: object) -> Command:
    """Check every field of a command against its type and the limits; return it unchanged.

    Raises InvalidRequest naming the operation and the problem.
    """
    if type(command) not in COMMAND_TYPES:
        raise InvalidRequest(f"unknown operation: {type(command).__name__}")
    name = type(command).__name__
    try:
        _check_fields(command)
    except InvalidRequest as exc:
        raise InvalidRequest(f"{name}: {exc}") from None
    except AttributeError as exc:  # a decoded message with a field missing
        raise InvalidRequest(f"{name}: missing field: {exc}") from None
    return command  # type: ignore[return-value]


def _check_fields(command: object) -> None:
    if isinstance(command, Register):
        return
    if isinstance(command, REDIS_TYPES):
        _check_redis(command)
        return
    validate_key(command.key)  # type: ignore[attr-defined]
    if isinstance(command, Get):
        return
    validate_client_id(command.client_id)  # type: ignore[attr-defined]
    validate_seq(command.seq)  # type: ignore[attr-defined]
    if isinstance(command, (Put, Append)):
        validate_value(command.value)
    elif isinstance(command, Cas):
        if command.expected is not None:
            validate_value(command.expected, "expected")
        validate_value(command.new, "new")


def make_command(op: object, **fields: object) -> Command:
    """Build and validate a command from an operation name ("put", "cas", ...) and its fields.

    Raises InvalidRequest for an unknown operation, a missing or unexpected field, or a field
    that breaks its type or limit.
    """
    if not isinstance(op, str) or op.lower() not in OPERATIONS:
        known = ", ".join(sorted(OPERATIONS))
        raise InvalidRequest(f"unknown operation {op!r}; known operations: {known}")
    cls = OPERATIONS[op.lower()]
    try:
        command = cls(**fields)
    except TypeError as exc:
        raise InvalidRequest(f"{op}: {exc}") from None
    return validate_command(command)


def _check_redis(command: object) -> None:
    """The fields of a Redis command: tuples of bytes in the limits, ids in range."""
    if isinstance(command, RedisWrite | RedisExec):
        validate_client_id(command.client_id)
        validate_seq(command.seq)
    if isinstance(command, RedisExec):
        _check_tuple(command.commands, "commands", BATCH_COMMANDS_MAX)
        for args in command.commands:
            _check_args(args)
        _check_tuple(command.watched, "watched", BATCH_COMMANDS_MAX)
        for pair in command.watched:
            if type(pair) is not tuple or len(pair) != 2:
                raise InvalidRequest("watched holds (key, version) pairs")
            _check_blobs((pair[0],), KEY_BYTES_MAX, "watched key")
            validate_int(pair[1], "a watched version", -(2**63), 2**63 - 1)
    elif isinstance(command, RedisReads):
        _check_tuple(command.commands, "commands", BATCH_COMMANDS_MAX, 1)
        for args in command.commands:
            _check_args(args)
    elif isinstance(command, RedisVersions | Purge):
        _check_tuple(command.keys, "keys", PURGE_KEYS_MAX)
        _check_blobs(command.keys, KEY_BYTES_MAX, "key")
    else:
        _check_args(command.args)  # type: ignore[attr-defined]


def _check_args(args: object) -> None:
    _check_tuple(args, "args", ARGS_MAX, 1)
    _check_blobs(args, VALUE_BYTES_MAX, "argument")  # type: ignore[arg-type]


def _check_tuple(items: object, what: str, count_max: int, count_min: int = 0) -> None:
    if type(items) is not tuple:
        raise InvalidRequest(f"{what} must be a tuple, not {type(items).__name__}")
    if not count_min <= len(items) <= count_max:
        raise InvalidRequest(f"{what} holds {count_min} to {count_max} items, not {len(items)}")


def _check_blobs(items: tuple, size_max: int, what: str) -> None:
    for item in items:
        if type(item) is not bytes:
            raise InvalidRequest(f"a {what} must be bytes, not {type(item).__name__}")
        if len(item) > size_max:
            raise InvalidRequest(f"a {what} is {len(item)} bytes; the limit is {size_max}")
