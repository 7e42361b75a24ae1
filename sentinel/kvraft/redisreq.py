"""The client side of Redis commands: checking a call's input before anything is sent, and
turning the server's encoded reply into the call's answer.

A call is a (command class, fields) pair, as attempts.py's `Request` holds it:

- `redis_call(args)`: one command; a write (`COMMANDS[name].write`) is a `RedisWrite` under
  the session, a read a `RedisRead` (ReadIndex, no log entry).
- `exec_call(commands, watched)`: a MULTI/EXEC block, one `RedisExec` entry.
- `reads_call(commands)`: several read commands at one read point, a `RedisReads` read.
- `versions_call(keys)`: WATCH's versions, a `RedisVersions` read.

Each returns the keyspace's `Error` reply instead when `validate` refuses a command (the
error Redis would answer; nothing is sent) and raises InvalidRequest for arguments that are
not bytes or that cannot fit one log entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sentinel.kvraft.codec import encode_command
from sentinel.kvraft.commands import (
    ARGS_MAX,
    RedisExec,
    RedisRead,
    RedisReads,
    RedisVersions,
    RedisWrite,
    validate_command,
)
from sentinel.kvraft.keyspace import COMMANDS, Array, Error, Int, Null, validate
from sentinel.kvraft.limits import CLIENT_ID_MAX, SEQ_MAX, InvalidRequest
from sentinel.kvraft.protocol import ENTRY_BYTES_MAX, check_entry_size
from sentinel.kvraft.replycodec import decode_reply

Call = tuple[type, tuple]
#: Bounds on the encoding's bytes besides the arguments: per argument (its varint length)
#: and per command (header, ids, counts).
_BLOB_OVERHEAD_BYTES = 10
_ENCODING_OVERHEAD_BYTES = 64
_NULL_ARRAY = Null(array=True)


def redis_call(args: Sequence[bytes]) -> Call | Error:
    """The call for one Redis command, or the Error reply `validate` gives it."""
    args = _blobs(args, "args")
    error = validate(list(args))
    if error is not None:
        return error
    kind = RedisWrite if COMMANDS[args[0].upper()].write else RedisRead
    if len(args) <= ARGS_MAX and sum(map(len, args)) + _BLOB_OVERHEAD_BYTES * len(args) < (
        ENTRY_BYTES_MAX - _ENCODING_OVERHEAD_BYTES
    ):
        return kind, (args,)  # plainly valid: bytes (checked), sizes (validate), fits an entry
    return _fits(kind, (args,))


def exec_call(
    commands: Sequence[Sequence[bytes]], watched: Mapping[bytes, int] | None
) -> Call | Error:
    """The call for a MULTI/EXEC block, or the Error reply of its first bad command."""
    block = _block(commands)
    if isinstance(block, Error):
        return block
    pairs = tuple(sorted((watched or {}).items()))
    return _fits(RedisExec, (block, pairs))


def reads_call(commands: Sequence[Sequence[bytes]]) -> Call | Error:
    """The call for several read commands at one read point, or the Error reply of its
    first bad command (a write among them is one: ERR, it must go through the log)."""
    block = _block(commands)
    if isinstance(block, Error):
        return block
    for args in block:
        if COMMANDS[args[0].upper()].write:
            return Error(f"ERR {args[0].decode('latin-1')} is a write, not a read")
    return _fits(RedisReads, (block,))


def _block(commands: Sequence[Sequence[bytes]]) -> tuple[tuple[bytes, ...], ...] | Error:
    """The commands as tuples of bytes, or the Error reply of the first that `validate`
    refuses."""
    if isinstance(commands, (bytes, str)) or not isinstance(commands, Sequence):
        raise InvalidRequest(f"commands must be a sequence, not {type(commands).__name__}")
    block = tuple(_blobs(args, "a command") for args in commands)
    for args in block:
        error = validate(list(args))
        if error is not None:
            return error
    return block


def versions_call(keys: Sequence[bytes]) -> Call:
    """The call reading WATCH's versions of `keys`."""
    return _fits(RedisVersions, (_blobs(keys, "keys", count_min=0),))


def _blobs(items: Sequence[bytes], what: str, count_min: int = 1) -> tuple[bytes, ...]:
    if type(items) in (list, tuple) and len(items) >= count_min:
        blobs = tuple(items)
        if all(type(item) is bytes for item in blobs):
            return blobs  # the common case
    if isinstance(items, (bytes, str)) or not isinstance(items, Sequence):
        raise InvalidRequest(f"{what} must be a sequence of bytes, not {type(items).__name__}")
    blobs = tuple(bytes(item) if type(item) in (bytearray, memoryview) else item for item in items)
    for item in blobs:
        if type(item) is not bytes:
            raise InvalidRequest(f"{what} must hold bytes, not {type(item).__name__}")
    if len(blobs) < count_min:
        raise InvalidRequest(f"{what} must hold at least {count_min} item(s)")
    return blobs


def _fits(kind: type, fields: tuple) -> Call:
    """(kind, fields) once the command is valid and fits one log entry with any ids."""
    command = (
        kind(*fields, CLIENT_ID_MAX, SEQ_MAX) if kind in (RedisWrite, RedisExec) else kind(*fields)
    )
    validate_command(command)
    if _size_bound(fields) > ENTRY_BYTES_MAX:
        check_entry_size(encode_command(command))
    return kind, fields


def _size_bound(fields: tuple) -> int:
    """An upper bound on the encoded size (each blob: its bytes + a 10-byte length)."""
    total = _ENCODING_OVERHEAD_BYTES
    stack: list[Any] = list(fields)
    while stack:
        item = stack.pop()
        if type(item) is bytes:
            total += len(item) + _BLOB_OVERHEAD_BYTES
        elif type(item) is tuple:
            stack.extend(item)
        else:
            total += _BLOB_OVERHEAD_BYTES
    return total


def redis_answer(kind: type, fields: tuple, data: object) -> Any:
    """The answer of a Redis call from the reply bytes the server sent: the reply; EXEC's
    list of replies (None: a watched key changed, nothing ran); versions: key -> version.
    ValueError if the reply is malformed."""
    reply = decode_reply(data)  # type: ignore[arg-type]
    if kind is RedisReads:
        if type(reply) is Array and len(reply.items) == len(fields[0]):
            return list(reply.items)
        raise ValueError(f"reads answered {reply!r:.80}")
    if kind is RedisExec:
        if type(reply) is Array:
            return list(reply.items)
        if reply == _NULL_ARRAY:
            return None
        raise ValueError(f"EXEC answered {reply!r:.80}")
    if kind is RedisVersions:
        keys = fields[0]
        items = reply.items if type(reply) is Array else ()
        if len(items) != len(keys) or any(type(item) is not Int for item in items):
            raise ValueError(f"versions answered {reply!r:.80}")
        return {key: item.value for key, item in zip(keys, items, strict=True)}  # type: ignore[union-attr]
    return reply
