"""The snapshot format of the key/value state machine.

    b"KVS" | version (1) | applied_index | n_keys | (key, value) * n_keys
           | n_sessions | (client_id, seq, code, last_index) * n_sessions | crc32 (4 bytes, BE)

Ints are unsigned LEB128 varints, text is varint length + UTF-8, `code` is one byte (the
ResultCode value). Keys are written in sorted order and sessions in (last_index, client_id)
order, so the same state always gives the same bytes, whatever order a dict was filled in.
A store of one small key and one session is about 25 bytes (6.824 wants <= 500).

`decode_snapshot` checks the checksum first, then every field, and raises SnapshotError for
anything else; it builds new objects and never touches a live state machine.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from sentinel.kvraft.binary import UINT_MAX, Reader, Writer
from sentinel.kvraft.limits import (
    CLIENT_ID_MAX,
    KEY_BYTES_MAX,
    SEQ_MAX,
    VALUE_BYTES_MAX,
    InvalidRequest,
    validate_key,
)
from sentinel.kvraft.results import WRITE_REPLY_CODES, ResultCode
from sentinel.kvraft.sessions import Session

MAGIC = b"KVS"
VERSION = 1
_HEAD = MAGIC + bytes([VERSION])
_CRC_BYTES = 4


class SnapshotError(ValueError):
    """Bytes that are not a valid key/value snapshot."""


@dataclass(frozen=True, slots=True)
class SnapshotState:
    """Everything a snapshot holds, as plain data."""

    applied_index: int
    items: tuple[tuple[str, str], ...]  # sorted by key
    sessions: tuple[Session, ...]  # sorted by (last_index, client_id)


def encode_snapshot(state: SnapshotState) -> bytes:
    """Deterministic bytes for `state` (items and sessions are sorted here)."""
    out = Writer(_HEAD)
    out.uint(state.applied_index)
    items = sorted(state.items)
    out.uint(len(items))
    for key, value in items:
        out.text(key)
        out.text(value)
    sessions = sorted(state.sessions, key=lambda s: (s.last_index, s.client_id))
    out.uint(len(sessions))
    for session in sessions:
        out.uint(session.client_id)
        out.uint(session.seq)
        out.byte(session.code.value)
        out.uint(session.last_index)
    body = out.getvalue()
    return body + zlib.crc32(body).to_bytes(_CRC_BYTES, "big")


def decode_snapshot(data: bytes | bytearray | memoryview) -> SnapshotState:
    """Parse and check snapshot bytes. Raises SnapshotError naming the problem."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise SnapshotError(f"a snapshot must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if data[: len(_HEAD)] != _HEAD:
        raise SnapshotError(f"not a key/value snapshot (header {data[: len(_HEAD)]!r})")
    if len(data) < len(_HEAD) + _CRC_BYTES:
        raise SnapshotError(f"truncated snapshot of {len(data)} bytes")
    body, crc = data[:-_CRC_BYTES], int.from_bytes(data[-_CRC_BYTES:], "big")
    if zlib.crc32(body) != crc:
        raise SnapshotError("corrupt snapshot: checksum mismatch")
    reader = Reader(body, SnapshotError, start=len(_HEAD))
    applied_index = reader.uint(UINT_MAX)
    items = _read_items(reader)
    sessions = _read_sessions(reader, applied_index)
    reader.finish()
    return SnapshotState(applied_index, items, sessions)


def _read_items(reader: Reader) -> tuple[tuple[str, str], ...]:
    count = reader.uint()
    items: list[tuple[str, str]] = []
    for _ in range(count):
        key = reader.text(KEY_BYTES_MAX)
        value = reader.text(VALUE_BYTES_MAX)
        try:
            validate_key(key)
        except InvalidRequest as exc:
            raise reader.fail(f"bad key: {exc}") from None
        if items and key <= items[-1][0]:
            raise reader.fail(f"keys out of order or repeated: {key!r}")
        items.append((key, value))
    return tuple(items)


def _read_sessions(reader: Reader, applied_index: int) -> tuple[Session, ...]:
    count = reader.uint()
    sessions: list[Session] = []
    seen: set[int] = set()
    for _ in range(count):
        client_id = reader.uint(CLIENT_ID_MAX)
        seq = reader.uint(SEQ_MAX)
        code = _read_code(reader)
        last_index = reader.uint(applied_index)
        if client_id == 0 or client_id in seen or client_id > last_index:
            raise reader.fail(f"bad session client id {client_id}")
        session = Session(client_id, seq, code, last_index)
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
