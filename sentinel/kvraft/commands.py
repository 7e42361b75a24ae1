"""The key/value commands: what a client asks for and what goes into the raft log.

Commands are frozen dataclasses; they travel, in RPCs and in the raft log alike, in the one
compact binary form of `sentinel.kvraft.codec` (they are not wire messages of their own).

- `Register()` opens an exactly-once session. The state machine answers with a fresh client
  id: the log index of this Register entry (unique for the life of the cluster, never reused,
  so a session that was expired can never come back by accident).
- `Get(key)` reads a key (normally served by ReadIndex at the server, not through the log).
- `Put`, `Append`, `Delete` and `Cas` are writes. Each carries the client id and a sequence
  number (1, 2, 3, ... per client) so a retried write is applied at most once.
- `Cas(key, expected, new)` sets `key` to `new` only if its value is `expected`; `expected=None`
  means "the key is absent".

Construction does not check types (dataclasses never do): call `validate_command` (or build
with `make_command`) before a command goes anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from sentinel.kvraft.limits import (
    InvalidRequest,
    validate_client_id,
    validate_key,
    validate_seq,
    validate_value,
)


@dataclass(frozen=True, slots=True)
class Register:
    """Open a session; the result's client_id is the id to put on every later write."""


@dataclass(frozen=True, slots=True)
class Get:
    """Read `key`: OK with its value, or NO_KEY."""

    key: str


@dataclass(frozen=True, slots=True)
class Put:
    """Set `key` to `value`."""

    key: str
    value: str
    client_id: int
    seq: int


@dataclass(frozen=True, slots=True)
class Append:
    """Append `value` to the value of `key` (a missing key counts as "")."""

    key: str
    value: str
    client_id: int
    seq: int


@dataclass(frozen=True, slots=True)
class Delete:
    """Remove `key`: OK if it was there, NO_KEY if it was not."""

    key: str
    client_id: int
    seq: int


@dataclass(frozen=True, slots=True)
class Cas:
    """Set `key` to `new` if its value equals `expected` (None: the key is absent)."""

    key: str
    expected: str | None
    new: str
    client_id: int
    seq: int


Write = Put | Append | Delete | Cas
Command = Register | Get | Put | Append | Delete | Cas

#: Operation names as clients (CLI, RESP gateway) spell them -> command class.
OPERATIONS: dict[str, type] = {
    "register": Register,
    "get": Get,
    "put": Put,
    "append": Append,
    "delete": Delete,
    "cas": Cas,
}
WRITE_TYPES: tuple[type, ...] = (Put, Append, Delete, Cas)
COMMAND_TYPES: tuple[type, ...] = (Register, Get, Put, Append, Delete, Cas)


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
