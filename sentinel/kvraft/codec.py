"""Commands <-> the bytes of a raft log entry.

The form is compact (a Put of a one-byte key and value from a small client is about 10 bytes)
and deterministic, so log size stays far below `maxraftstate`:

    b"K" | version (1) | op (1 byte) | fields

with fields, in order, as unsigned LEB128 varints (ints) or varint length + UTF-8 (text):

    Register: (nothing)          Get: key
    Put, Append: client_id, seq, key, value
    Delete: client_id, seq, key
    Cas: client_id, seq, key, has_expected (0 or 1), [expected], new
    WriteBatch: count, then count x (length, the encoding of one Put, Append, Delete or Cas)

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

from sentinel.kvraft.binary import Reader, Writer
from sentinel.kvraft.commands import (
    Append,
    Cas,
    Command,
    Delete,
    Get,
    Put,
    Register,
    Write,
    validate_command,
)
from sentinel.kvraft.limits import CLIENT_ID_MAX, KEY_BYTES_MAX, SEQ_MAX, VALUE_BYTES_MAX

#: An upper bound on one write's encoding inside a batch (a log entry is smaller anyway).
ENTRY_BYTES_MAX = 4 * 1024 * 1024

MAGIC = b"K"
VERSION = 1
_HEAD = MAGIC + bytes([VERSION])
_OP_CODES: dict[type, int] = {Register: 1, Get: 2, Put: 3, Append: 4, Delete: 5, Cas: 6}
_OP_TYPES: dict[int, type] = {code: cls for cls, code in _OP_CODES.items()}
_WRITE_BATCH_OP = 7
_WRITE_OPS = frozenset(bytes([_OP_CODES[cls]]) for cls in (Put, Append, Delete, Cas))
_WRITE_BATCH_HEAD = _HEAD + bytes([_WRITE_BATCH_OP])
#: Writes in one WriteBatch entry.
WRITE_BATCH_MAX = 4096


@dataclass(frozen=True, slots=True)
class WriteBatch:
    """One log entry holding several writes, in strictly increasing client id order."""

    writes: tuple[Write, ...]


def _uint_bytes(value: int) -> bytes:
    out = Writer()
    out.uint(value)
    return out.getvalue()


def encode_write_batch(encoded: list[bytes]) -> bytes:
    """The entry for several writes given in their own encodings (`encode_command` output,
    already in strictly increasing client id order: the caller sorts; decoding checks)."""
    assert 2 <= len(encoded) <= WRITE_BATCH_MAX, len(encoded)
    parts = [_WRITE_BATCH_HEAD, _uint_bytes(len(encoded))]
    for data in encoded:
        parts.append(_uint_bytes(len(data)))
        parts.append(data)
    return b"".join(parts)


class CommandError(ValueError):
    """Bytes that are not a valid encoded command."""


def encode_command(command: Command) -> bytes:
    """The log-entry bytes for `command`. Validates first: InvalidRequest if it is bad.

    A Put or Append of ASCII text well inside the limits (a server's hot path: every write
    it proposes) is checked and joined directly; anything else goes the careful way, which
    names the problem of a bad command. Both give the same bytes."""
    cls = type(command)
    if (cls is Put or cls is Append) and _plain_write(command):  # type: ignore[arg-type]
        return encode_valid_command(command)
    return _encode_checked(command)


def _plain_write(command: Put | Append) -> bool:
    """Whether every field is plainly valid: ASCII text (bytes = characters) in its limits
    and ids in range. False only means "check it the careful way"."""
    key, value, client_id, seq = command.key, command.value, command.client_id, command.seq
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


def _encode_checked(command: Command) -> bytes:
    """`encode_command` the careful way: every field validated, then written."""
    validate_command(command)
    out = Writer(_HEAD)
    out.byte(_OP_CODES[type(command)])
    if isinstance(command, Register):
        return out.getvalue()
    if isinstance(command, Get):
        out.text(command.key)
        return out.getvalue()
    out.uint(command.client_id)
    out.uint(command.seq)
    out.text(command.key)
    if isinstance(command, (Put, Append)):
        out.text(command.value)
    elif isinstance(command, Cas):
        out.byte(0 if command.expected is None else 1)
        if command.expected is not None:
            out.text(command.expected)
        out.text(command.new)
    return out.getvalue()


#: The encodings of 0..127 as varints (one byte each).
_SMALL_UINTS = tuple(bytes([value]) for value in range(0x80))
_OP_HEADS = {cls: _HEAD + bytes([code]) for cls, code in _OP_CODES.items()}


def _uint(value: int) -> bytes:
    if value < 0x80:
        return _SMALL_UINTS[value]
    out = Writer()
    out.uint(value)
    return out.getvalue()


def encode_valid_command(command: Command) -> bytes:
    """`encode_command(command)` for a command that already passed `validate_command` (a
    client's prepared call): the same bytes, without checking every field again. Gets,
    Puts and Appends, a client's hot path, are joined directly; the rest go the long way."""
    cls = type(command)
    if cls is Put or cls is Append:
        key = command.key.encode()  # type: ignore[union-attr]
        value = command.value.encode()  # type: ignore[union-attr]
        return b"".join((_OP_HEADS[cls], _uint(command.client_id), _uint(command.seq),  # type: ignore[union-attr]
                         _uint(len(key)), key, _uint(len(value)), value))  # fmt: skip
    if cls is Get:
        key = command.key.encode()  # type: ignore[union-attr]
        return b"".join((_OP_HEADS[Get], _uint(len(key)), key))
    return encode_command(command)


def decode_command(data: bytes | bytearray | memoryview) -> Command | WriteBatch:
    """The command in a log entry. Raises CommandError for anything but a valid encoding."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CommandError(f"a command must be bytes, not {type(data).__name__}")
    data = bytes(data)
    fast = _decode_plain(data)
    if fast is not None:
        return fast
    if data[:2] != _HEAD:
        raise CommandError(f"not an encoded command (header {data[:2]!r}, expected {_HEAD!r})")
    reader = Reader(data, CommandError, start=2)
    op = reader.byte()
    if op == _WRITE_BATCH_OP:
        return _read_write_batch(reader)  # checks that every byte was read
    cls = _OP_TYPES.get(op)
    if cls is None:
        raise CommandError(f"unknown operation code {op}")
    command = _read_fields(cls, reader)
    reader.finish()
    return command


def _read_fields(cls: type, reader: Reader) -> Command:
    """The fields of one command. The reader enforces every limit of `validate_command`:
    the types are right by construction, text sizes and int ranges are checked as read."""
    if cls is Register:
        return Register()
    if cls is Get:
        return Get(reader.text(KEY_BYTES_MAX, 1))
    client_id = reader.uint(CLIENT_ID_MAX, 1)
    seq = reader.uint(SEQ_MAX, 1)
    key = reader.text(KEY_BYTES_MAX, 1)
    if cls is Put or cls is Append:
        return cls(key, reader.text(VALUE_BYTES_MAX), client_id, seq)
    if cls is Delete:
        return Delete(key, client_id, seq)
    flag = reader.byte()
    if flag not in (0, 1):
        raise reader.fail(f"Cas expected-value flag must be 0 or 1, not {flag}")
    expected = reader.text(VALUE_BYTES_MAX) if flag else None
    return Cas(key, expected, reader.text(VALUE_BYTES_MAX), client_id, seq)


def _read_write_batch(reader: Reader) -> WriteBatch:
    """The writes of a WriteBatch entry (after its op code)."""
    count = reader.uint(WRITE_BATCH_MAX, 2)
    writes: list[Write] = []
    last_client_id = 0
    for _ in range(count):
        blob = reader.blob(ENTRY_BYTES_MAX, 1)
        if blob[2:3] not in _WRITE_OPS:  # before decoding: no batch inside a batch
            raise reader.fail("a write batch holds Put, Append, Delete and Cas only")
        command = decode_command(blob)
        if command.client_id <= last_client_id:
            raise reader.fail("write batch client ids must strictly increase")
        last_client_id = command.client_id
        writes.append(command)
    reader.finish()
    return WriteBatch(tuple(writes))


class _NotPlain(Exception):
    """Not the plain shape `_decode_plain` takes: the checked reader decides."""


def _varint_at(data: bytes, pos: int) -> tuple[int, int]:
    """A canonical varint at `pos` and the position after it (IndexError if truncated)."""
    value = shift = 0
    while True:
        part = data[pos]
        pos += 1
        value |= (part & 0x7F) << shift
        if part < 0x80:
            if part == 0 and shift:
                raise _NotPlain
            return value, pos
        shift += 7
        if shift >= 7 * 10:
            raise _NotPlain


def _decode_plain(data: bytes) -> Command | None:
    """Get, Put and Append, the hot path of every replica, decoded without the general
    reader; None for anything else or anything doubtful (truncation, a bad varint, a field
    out of its limits, bad UTF-8), which the checked reader then refuses with its error.
    What it does return is exactly what the reader would (tests compare them)."""
    try:
        if data[0] != 0x4B or data[1] != VERSION:  # b"K"
            return None
        op = data[2]
        if op == 2:  # Get
            size, pos = _varint_at(data, 3)
            if not 1 <= size <= KEY_BYTES_MAX or pos + size != len(data):
                return None
            return Get(data[pos:].decode())
        if op != 3 and op != 4:  # Put, Append
            return None
        client_id, pos = _varint_at(data, 3)
        seq, pos = _varint_at(data, pos)
        size, pos = _varint_at(data, pos)
        if not (1 <= client_id <= CLIENT_ID_MAX and 1 <= seq <= SEQ_MAX
                and 1 <= size <= KEY_BYTES_MAX):  # fmt: skip
            return None
        key = data[pos : pos + size].decode()
        pos += size
        size, pos = _varint_at(data, pos)
        if size > VALUE_BYTES_MAX or pos + size != len(data):
            return None
        value = data[pos:].decode()
    except (IndexError, UnicodeDecodeError, _NotPlain):
        return None
    return (Put if op == 3 else Append)(key, value, client_id, seq)
