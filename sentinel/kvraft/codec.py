"""Commands <-> the bytes of a raft log entry.

The form is compact (a Put of a one-byte key and value from a small client is about 10 bytes)
and deterministic, so log size stays far below `maxraftstate`:

    b"K" | version (1) | op (1 byte) | fields

with fields, in order, as unsigned LEB128 varints (ints) or varint length + UTF-8 (text):

    Register: (nothing)          Get: key
    Put, Append: client_id, seq, key, value
    Delete: client_id, seq, key
    Cas: client_id, seq, key, has_expected (0 or 1), [expected], new

`decode_command` refuses anything else (wrong magic or version, unknown op, truncation,
trailing bytes, bad UTF-8, a field that breaks a limit) with a `CommandError` naming the
problem. It is a pure function of the bytes, so every replica reaches the same verdict.
"""

from __future__ import annotations

from sentinel.kvraft.binary import Reader, Writer
from sentinel.kvraft.commands import (
    Append,
    Cas,
    Command,
    Delete,
    Get,
    Put,
    Register,
    validate_command,
)
from sentinel.kvraft.limits import CLIENT_ID_MAX, KEY_BYTES_MAX, SEQ_MAX, VALUE_BYTES_MAX

MAGIC = b"K"
VERSION = 1
_HEAD = MAGIC + bytes([VERSION])
_OP_CODES: dict[type, int] = {Register: 1, Get: 2, Put: 3, Append: 4, Delete: 5, Cas: 6}
_OP_TYPES: dict[int, type] = {code: cls for cls, code in _OP_CODES.items()}


class CommandError(ValueError):
    """Bytes that are not a valid encoded command."""


def encode_command(command: Command) -> bytes:
    """The log-entry bytes for `command`. Validates first: InvalidRequest if it is bad."""
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


def decode_command(data: bytes | bytearray | memoryview) -> Command:
    """The command in a log entry. Raises CommandError for anything but a valid encoding."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CommandError(f"a command must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if data[:2] != _HEAD:
        raise CommandError(f"not an encoded command (header {data[:2]!r}, expected {_HEAD!r})")
    reader = Reader(data, CommandError, start=2)
    op = reader.byte()
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
