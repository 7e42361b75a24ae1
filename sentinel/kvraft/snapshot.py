"""The snapshot format of the key/value state machine.

    b"KVS" | version (2) | applied_index | last_stamp_ms | keyspace_bytes | keyspace
           | n_sessions | (client_id, seq, code, last_index, reply) * n_sessions
           | crc32 (4 bytes, BE)

Ints are unsigned LEB128 varints, `keyspace` is `Keyspace.encode()` (typed values, expiry
times, WATCH versions; its own format, version and checksum), `code` is one byte (the
ResultCode value) and `reply` a varint length + a Redis write's encoded reply (empty for a
str write). Sessions are written in (last_index, client_id) order, so the same state always
gives the same bytes. `last_stamp_ms` is the highest log time applied (server.py stamps new
entries no lower).

Version 1 (the str store before the Redis keyspace) is refused with a SnapshotError naming
it: no cluster data of that format needs reading (docs/operations.md).

`decode_snapshot` checks the checksum first, then every field, and raises SnapshotError for
anything else; it builds new objects and never touches a live state machine. The keyspace
bytes are handed on undecoded (the state machine decodes them with `Keyspace.decode`).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from sentinel.kvraft.binary import UINT_MAX, Reader, Writer
from sentinel.kvraft.limits import CLIENT_ID_MAX, SEQ_MAX
from sentinel.kvraft.results import WRITE_REPLY_CODES, ResultCode
from sentinel.kvraft.sessions import Session

MAGIC = b"KVS"
VERSION = 2
_HEAD = MAGIC + bytes([VERSION])
_CRC_BYTES = 4
#: The largest session reply a snapshot accepts (an EXEC's replies fit one log entry's worth).
_REPLY_BYTES_MAX = 2**32


class SnapshotError(ValueError):
    """Bytes that are not a valid key/value snapshot."""


@dataclass(frozen=True, slots=True)
class SnapshotState:
    """Everything a snapshot holds, as plain data."""

    applied_index: int
    last_stamp_ms: int
    keyspace: bytes  # Keyspace.encode()
    sessions: tuple[Session, ...]  # sorted by (last_index, client_id)


def encode_snapshot(state: SnapshotState) -> bytes:
    """Deterministic bytes for `state` (sessions are sorted here)."""
    out = Writer(_HEAD)
    out.uint(state.applied_index)
    out.uint(state.last_stamp_ms)
    out.blob(state.keyspace)
    sessions = sorted(state.sessions, key=lambda s: (s.last_index, s.client_id))
    out.uint(len(sessions))
    for session in sessions:
        out.uint(session.client_id)
        out.uint(session.seq)
        out.byte(session.code.value)
        out.uint(session.last_index)
        out.blob(session.reply)
    body = out.getvalue()
    return body + zlib.crc32(body).to_bytes(_CRC_BYTES, "big")


def decode_snapshot(data: bytes | bytearray | memoryview) -> SnapshotState:
    """Parse and check snapshot bytes. Raises SnapshotError naming the problem."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise SnapshotError(f"a snapshot must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if data[: len(MAGIC)] == MAGIC and data[len(MAGIC) : len(_HEAD)] == b"\x01":
        raise SnapshotError(
            "a version-1 key/value snapshot (the str store before the Redis keyspace): "
            "this version reads version 2 only; start the cluster from a fresh directory"
        )
    if data[: len(_HEAD)] != _HEAD:
        raise SnapshotError(f"not a key/value snapshot (header {data[: len(_HEAD)]!r})")
    if len(data) < len(_HEAD) + _CRC_BYTES:
        raise SnapshotError(f"truncated snapshot of {len(data)} bytes")
    body, crc = data[:-_CRC_BYTES], int.from_bytes(data[-_CRC_BYTES:], "big")
    if zlib.crc32(body) != crc:
        raise SnapshotError("corrupt snapshot: checksum mismatch")
    reader = Reader(body, SnapshotError, start=len(_HEAD))
    applied_index = reader.uint(UINT_MAX)
    last_stamp_ms = reader.uint(UINT_MAX)
    keyspace = reader.blob(len(body))
    sessions = _read_sessions(reader, applied_index)
    reader.finish()
    return SnapshotState(applied_index, last_stamp_ms, keyspace, sessions)


def _read_sessions(reader: Reader, applied_index: int) -> tuple[Session, ...]:
    count = reader.uint()
    sessions: list[Session] = []
    seen: set[int] = set()
    for _ in range(count):
        client_id = reader.uint(CLIENT_ID_MAX)
        seq = reader.uint(SEQ_MAX)
        code = _read_code(reader)
        last_index = reader.uint(applied_index)
        reply = reader.blob(_REPLY_BYTES_MAX)
        if client_id == 0 or client_id in seen or client_id > last_index:
            raise reader.fail(f"bad session client id {client_id}")
        session = Session(client_id, seq, code, last_index, reply)
        if sessions and (last_index, client_id) <= (
            sessions[-1].last_index,
            sessions[-1].client_id,
        ):
            raise reader.fail("sessions out of order")
        seen.add(client_id)
        sessions.append(session)
    return tuple(sessions)


def _read_code(reader: Reader) -> ResultCode:
    raw = reader.byte()
    try:
        code = ResultCode(raw)
    except ValueError:
        raise reader.fail(f"unknown result code {raw}") from None
    if code not in WRITE_REPLY_CODES:
        raise reader.fail(f"result code {code.name} cannot be a session's reply")
    return code
