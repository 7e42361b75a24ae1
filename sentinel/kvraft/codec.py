"""Commands <-> the bytes of a raft log entry.

The form is compact (a Put of a one-byte key and value from a small client is about 10 bytes)
and deterministic, so log size stays far below `maxraftstate`:

    b"K" | version (1) | op (1 byte) | fields

with fields, in order, as unsigned LEB128 varints (ints) or varint length + UTF-8 (text):

    Register: (nothing)          Get: key
    Put, Append: client_id, seq, key, value
    Delete: client_id, seq, key
    Cas: client_id, seq, key, has_expected (0 or 1), [expected], new
    RedisWrite: client_id, seq, args          RedisRead: args
    RedisExec: client_id, seq, n, n x args, m, m x (key, zigzag version)
    RedisReads: n (at least 1), n x args
    RedisVersions, Purge: count, count x key
    WriteBatch: count, then count x (length, the encoding of one write)
    Stamped: now_ms (8 bytes, little-endian), then the encoding of one command or
             WriteBatch (a log entry; fixed width: read with one call, not a varint loop)

where `args` is count, then count x (varint length + bytes): Redis arguments are bytes.

Every entry a leader proposes is `Stamped`: its clock reading in ms when it proposed it
(never below an earlier stamp, see server.py), the log time the state machine applies the
entry at (expiry). Clients never stamp: `decode_command` refuses a stamp, `decode_entry`
(the state machine's decoder) reads one, or takes an unstamped entry as "no time passed".

A `WriteBatch` is one log entry holding the writes of several sessions that a leader
received together (a client's batch request): one entry, one replication and one fsync for
all of them. Its writes are in strictly increasing client id order (so every replica
touches the sessions in the same order, see sessions.py) and there are 2 to
WRITE_BATCH_MAX of them.

`decode_command` refuses anything else (wrong magic or version, unknown op, truncation,
trailing bytes, bad UTF-8, a field that breaks a limit) with a `CommandError` naming the
problem. It is a pure function of the bytes, so every replica reaches the same verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

from sentinel.kvraft.commands import (
    ARGS_MAX,
    Append,
    Cas,
    Command,
    Delete,
    Get,
    Purge,
    Put,
    RedisExec,
    RedisRead,
    RedisReads,
    RedisVersions,
    RedisWrite,
    Register,
    Write,
    validate_command,
)
from sentinel.kvraft.fields import (
    CommandError,
    args_at,
    blob,
    blob_at,
    text_at,
    uint,
    uint_at,
)
from sentinel.kvraft.keyspace.keyspace import BATCH_COMMANDS_MAX, PURGE_KEYS_MAX
from sentinel.kvraft.limits import CLIENT_ID_MAX, KEY_BYTES_MAX, SEQ_MAX, VALUE_BYTES_MAX

#: An upper bound on one write's encoding inside a batch (a log entry is smaller anyway).
ENTRY_BYTES_MAX = 4 * 1024 * 1024

MAGIC = b"K"
VERSION = 1
_HEAD = MAGIC + bytes([VERSION])
_OP_CODES: dict[type, int] = {Register: 1, Get: 2, Put: 3, Append: 4, Delete: 5, Cas: 6,
                              RedisWrite: 8, RedisExec: 9, RedisRead: 10, RedisVersions: 11,
                              Purge: 12, RedisReads: 14}  # fmt: skip
_OP_TYPES: dict[int, type] = {code: cls for cls, code in _OP_CODES.items()}
_OP_HEADS = {cls: _HEAD + bytes([code]) for cls, code in _OP_CODES.items()}
_WRITE_BATCH_OP = 7
_WRITE_OPS = frozenset(_OP_CODES[cls] for cls in (Put, Append, Delete, Cas, RedisWrite, RedisExec))
_WRITE_BATCH_HEAD = _HEAD + bytes([_WRITE_BATCH_OP])
_STAMPED_OP = 13
_STAMPED_HEAD = _HEAD + bytes([_STAMPED_OP])
#: The largest stamp (ms since the epoch; about 292 million years).
NOW_MS_MAX = 2**63 - 1
_STAMP_BYTES = 8
_VERSION_ZIGZAG_MAX = 2**64 - 1
#: Writes in one WriteBatch entry.
WRITE_BATCH_MAX = 4096
_ABSENT, _PRESENT = b"\x00", b"\x01"  # a Cas's expected-value flag


@dataclass(frozen=True, slots=True)
class WriteBatch:
    """One log entry holding several writes, in strictly increasing client id order."""

    writes: tuple[Write, ...]


def encode_write_batch(encoded: list[bytes]) -> bytes:
    """The entry for several writes given in their own encodings (`encode_command` output,
    already in strictly increasing client id order: the caller sorts; decoding checks)."""
    assert 2 <= len(encoded) <= WRITE_BATCH_MAX, len(encoded)
    parts = [_WRITE_BATCH_HEAD, uint(len(encoded))]
    for data in encoded:
        parts.append(uint(len(data)))
        parts.append(data)
    return b"".join(parts)


def encode_command(command: Command) -> bytes:
    """The log-entry bytes for `command`: the one encoding of a command, for the log and for
    the RPC that carries it. Validates first: InvalidRequest if it is bad (the common case,
    ASCII text well inside the limits, is recognised cheaply; anything else goes through
    `validate_command`, which names the problem)."""
    if not _plainly_valid(command):
        validate_command(command)
    return encode_prepared(command)


def encode_prepared(command: Command) -> bytes:
    """`encode_command` without the validation, for a command built from a prepared call
    (`attempts.prepare`, `redisreq`): its fields were validated when the call was prepared
    and its ids come from its session, so a client does not check them again on every
    attempt (the server's `decode_command` checks every byte it gets)."""
    cls = type(command)
    if cls is Put or cls is Append:  # the hot path, joined directly
        key = command.key.encode()  # type: ignore[union-attr]
        value = command.value.encode()  # type: ignore[union-attr]
        return b"".join((_OP_HEADS[cls], uint(command.client_id), uint(command.seq),  # type: ignore[union-attr]
                         uint(len(key)), key, uint(len(value)), value))  # fmt: skip
    if cls is Get:
        key = command.key.encode()  # type: ignore[union-attr]
        return b"".join((_OP_HEADS[Get], uint(len(key)), key))
    if cls is Register:
        return _OP_HEADS[Register]
    if cls in _REDIS_WRITERS:
        return b"".join(_REDIS_WRITERS[cls](command, [_OP_HEADS[cls]]))
    key = command.key.encode()  # type: ignore[union-attr]
    parts = [_OP_HEADS[cls], uint(command.client_id), uint(command.seq),  # type: ignore[union-attr]
             uint(len(key)), key]  # fmt: skip
    if cls is Cas:
        expected = command.expected  # type: ignore[union-attr]
        if expected is None:
            parts.append(_ABSENT)
        else:
            parts += (_PRESENT, *blob(expected.encode()))
        parts += blob(command.new.encode())  # type: ignore[union-attr]
    return b"".join(parts)  # a Delete: its key alone


def stamp_entry(now_ms: int, data: bytes) -> bytes:
    """The log entry for `data` (an encoded command or WriteBatch) proposed at `now_ms`."""
    return b"".join((_STAMPED_HEAD, now_ms.to_bytes(8, "little"), data))


def _write_args(args: tuple[bytes, ...], parts: list[bytes]) -> list[bytes]:
    parts.append(uint(len(args)))
    for arg in args:
        parts += (uint(len(arg)), arg)
    return parts


def _encode_redis_write(command: RedisWrite, parts: list[bytes]) -> list[bytes]:
    parts += (uint(command.client_id), uint(command.seq))
    return _write_args(command.args, parts)


def _write_commands(commands: tuple[tuple[bytes, ...], ...], parts: list[bytes]) -> list[bytes]:
    parts.append(uint(len(commands)))
    for args in commands:
        _write_args(args, parts)
    return parts


def _encode_redis_exec(command: RedisExec, parts: list[bytes]) -> list[bytes]:
    parts += (uint(command.client_id), uint(command.seq))
    _write_commands(command.commands, parts)
    parts.append(uint(len(command.watched)))
    for key, version in command.watched:
        zigzag = version << 1 if version >= 0 else ((-version) << 1) - 1
        parts += (uint(len(key)), key, uint(zigzag))
    return parts


_REDIS_WRITERS = {
    RedisWrite: _encode_redis_write,
    RedisExec: _encode_redis_exec,
    RedisRead: lambda command, parts: _write_args(command.args, parts),
    RedisReads: lambda command, parts: _write_commands(command.commands, parts),
    RedisVersions: lambda command, parts: _write_args(command.keys, parts),
    Purge: lambda command, parts: _write_args(command.keys, parts),
}


def _plainly_valid(command: object) -> bool:
    """Whether a Get, Put or Append is plainly valid: ASCII text (bytes = characters) in its
    limits and ids in range. False only means "check it the careful way"."""
    cls = type(command)
    if cls is RedisRead or cls is RedisWrite:
        return _plain_args(command)
    if cls is Get:
        key = command.key  # type: ignore[attr-defined]
        return type(key) is str and 0 < len(key) <= KEY_BYTES_MAX and key.isascii()
    if cls is not Put and cls is not Append:
        return False
    key, value = command.key, command.value  # type: ignore[attr-defined]
    client_id, seq = command.client_id, command.seq  # type: ignore[attr-defined]
    return (
        type(key) is str
        and 0 < len(key) <= KEY_BYTES_MAX
        and type(value) is str
        and len(value) <= VALUE_BYTES_MAX
        and type(client_id) is int
        and 0 < client_id <= CLIENT_ID_MAX
        and type(seq) is int
        and 0 < seq <= SEQ_MAX
        and key.isascii()
        and value.isascii()
    )


def _plain_args(command: RedisRead | RedisWrite) -> bool:
    """Whether a Redis command is plainly valid: a tuple of bytes whose total is within one
    value's limit, ids in range (a write)."""
    args = command.args
    if type(args) is not tuple or not args or len(args) > ARGS_MAX:
        return False
    total = 0
    for arg in args:
        if type(arg) is not bytes:
            return False
        total += len(arg)
    if total > VALUE_BYTES_MAX:
        return False
    if type(command) is RedisRead:
        return True
    client_id, seq = command.client_id, command.seq  # type: ignore[union-attr]
    return (
        type(client_id) is int and 0 < client_id <= CLIENT_ID_MAX
        and type(seq) is int and 0 < seq <= SEQ_MAX
    )  # fmt: skip


def decode_command(data: bytes | bytearray | memoryview) -> Command | WriteBatch:
    """The command in a log entry (or an RPC). Raises CommandError for anything but a valid
    encoding: wrong magic or version, unknown op, truncation, trailing bytes, a non-canonical
    varint, bad UTF-8, a field that breaks a limit; the error names the byte offset."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CommandError(f"a command must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if data[:2] != _HEAD:
        raise CommandError(f"not an encoded command (header {data[:2]!r}, expected {_HEAD!r})")
    if len(data) < 3:
        raise CommandError("truncated: expected an operation code at byte 2")
    op = data[2]
    if op == _WRITE_BATCH_OP:
        return _read_write_batch(data)
    cls = _OP_TYPES.get(op)
    if cls is None:
        raise CommandError(f"unknown operation code {op} at byte 2")
    command, pos = _read_fields(cls, data, 3)
    if pos != len(data):
        raise CommandError(f"{len(data) - pos} trailing bytes at byte {pos}")
    return command


def decode_entry(data: bytes | bytearray | memoryview) -> tuple[int | None, Command | WriteBatch]:
    """The stamp (None if unstamped) and the command of a log entry; CommandError as
    `decode_command` for anything else."""
    if not isinstance(data, (bytes, bytearray, memoryview)) or data[:3] != _STAMPED_HEAD:
        return None, decode_command(data)
    data = bytes(data)
    pos = 3 + _STAMP_BYTES
    if len(data) < pos:
        raise CommandError(f"truncated: expected an {_STAMP_BYTES}-byte stamp at byte 3")
    now_ms = int.from_bytes(data[3:pos], "little")
    if now_ms > NOW_MS_MAX:
        raise CommandError(f"stamp {now_ms} is out of range [0, {NOW_MS_MAX}] at byte 3")
    if data[pos : pos + 3] == _STAMPED_HEAD:
        raise CommandError(f"a stamp inside a stamp at byte {pos}")
    try:
        return now_ms, decode_command(data[pos:])
    except CommandError as exc:
        raise CommandError(f"after the {pos}-byte stamp: {exc}") from None


def _read_fields(cls: type, data: bytes, pos: int) -> tuple[Command, int]:
    """The fields of one command from `pos`, and the position after them. Every limit of
    `validate_command` is enforced as read: text sizes in bytes, ids in range."""
    if cls is Register:
        return Register(), pos
    if cls in _REDIS_READERS:
        return _REDIS_READERS[cls](data, pos)
    if cls is Get:
        key, pos = text_at(data, pos, KEY_BYTES_MAX, 1)
        return Get(key), pos
    client_id, pos = uint_at(data, pos, CLIENT_ID_MAX, 1)
    seq, pos = uint_at(data, pos, SEQ_MAX, 1)
    key, pos = text_at(data, pos, KEY_BYTES_MAX, 1)
    if cls is Put or cls is Append:
        value, pos = text_at(data, pos, VALUE_BYTES_MAX)
        return cls(key, value, client_id, seq), pos
    if cls is Delete:
        return Delete(key, client_id, seq), pos
    if pos >= len(data):
        raise CommandError(f"truncated: expected a byte at byte {pos}")
    flag = data[pos]
    if flag > 1:
        raise CommandError(f"Cas expected-value flag must be 0 or 1, not {flag} at byte {pos}")
    expected = None
    if flag:
        expected, pos = text_at(data, pos + 1, VALUE_BYTES_MAX)
    else:
        pos += 1
    new, pos = text_at(data, pos, VALUE_BYTES_MAX)
    return Cas(key, expected, new, client_id, seq), pos


def _ids_at(data: bytes, pos: int) -> tuple[int, int, int]:
    client_id, pos = uint_at(data, pos, CLIENT_ID_MAX, 1)
    seq, pos = uint_at(data, pos, SEQ_MAX, 1)
    return client_id, seq, pos


def _read_redis_write(data: bytes, pos: int) -> tuple[Command, int]:
    client_id, seq, pos = _ids_at(data, pos)
    args, pos = args_at(data, pos, ARGS_MAX, VALUE_BYTES_MAX, 1)
    return RedisWrite(args, client_id, seq), pos


def _commands_at(data: bytes, pos: int, count_min: int = 0) -> tuple[tuple, int]:
    count, pos = uint_at(data, pos, BATCH_COMMANDS_MAX, count_min)
    commands = []
    for _ in range(count):
        args, pos = args_at(data, pos, ARGS_MAX, VALUE_BYTES_MAX, 1)
        commands.append(args)
    return tuple(commands), pos


def _read_redis_exec(data: bytes, pos: int) -> tuple[Command, int]:
    client_id, seq, pos = _ids_at(data, pos)
    commands, pos = _commands_at(data, pos)
    count, pos = uint_at(data, pos, BATCH_COMMANDS_MAX)
    watched = []
    for _ in range(count):
        key, pos = blob_at(data, pos, KEY_BYTES_MAX)
        zigzag, pos = uint_at(data, pos, _VERSION_ZIGZAG_MAX)
        watched.append((key, zigzag >> 1 if not zigzag & 1 else -((zigzag + 1) >> 1)))
    return RedisExec(commands, tuple(watched), client_id, seq), pos


def _read_redis_reads(data: bytes, pos: int) -> tuple[Command, int]:
    commands, pos = _commands_at(data, pos, 1)
    return RedisReads(commands), pos


def _read_redis_read(data: bytes, pos: int) -> tuple[Command, int]:
    args, pos = args_at(data, pos, ARGS_MAX, VALUE_BYTES_MAX, 1)
    return RedisRead(args), pos


def _read_keys(cls: type, data: bytes, pos: int) -> tuple[Command, int]:
    keys, pos = args_at(data, pos, PURGE_KEYS_MAX, KEY_BYTES_MAX)
    return cls(keys), pos


_REDIS_READERS = {
    RedisWrite: _read_redis_write,
    RedisExec: _read_redis_exec,
    RedisRead: _read_redis_read,
    RedisReads: _read_redis_reads,
    RedisVersions: lambda data, pos: _read_keys(RedisVersions, data, pos),
    Purge: lambda data, pos: _read_keys(Purge, data, pos),
}


def _read_write_batch(data: bytes) -> WriteBatch:
    """The writes of a WriteBatch entry (after its op code, at byte 3)."""
    count, pos = uint_at(data, 3, WRITE_BATCH_MAX, 2)
    writes: list[Write] = []
    last_client_id = 0
    for _ in range(count):
        write, end = blob_at(data, pos, ENTRY_BYTES_MAX, 1)
        if write[:2] != _HEAD or len(write) < 3 or write[2] not in _WRITE_OPS:
            raise CommandError(f"a write batch holds writes only (byte {pos})")
        command, at = _read_fields(_OP_TYPES[write[2]], write, 3)
        if at != len(write):
            raise CommandError(f"{len(write) - at} trailing bytes in the write at byte {pos}")
        if command.client_id <= last_client_id:  # type: ignore[union-attr]
            raise CommandError(f"write batch client ids must strictly increase (byte {pos})")
        last_client_id = command.client_id  # type: ignore[union-attr]
        writes.append(command)  # type: ignore[arg-type]
        pos = end
    if pos != len(data):
        raise CommandError(f"{len(data) - pos} trailing bytes at byte {pos}")
    return WriteBatch(tuple(writes))
