"""Checked records, the write-ahead log's record types, and reading a log back.

A record is `magic b"RW" | length u32 | crc32 u32 | payload`, the crc covering the length
and the payload, so a flipped bit anywhere is caught. Each `Storage.save` appends ONE record
(a batch), so a crash can tear only the last record: a bad record with no valid record after
it is a torn tail (cut off, with a warning); a bad record followed by a valid one was once
synced, so it is corruption in the middle (an error: the node must not start).

WAL payloads: BATCH (entries; an entry at an index already stored replaces the stored suffix
from there) and MARK (the snapshot (index, term) the log starts after; first record only).
"""

from __future__ import annotations

import operator
import struct
import zlib
from collections.abc import Sequence

from sentinel.raft.errors import CorruptLogError, CorruptStateError
from sentinel.raft.messages import Entry, EntryKind, SnapshotMeta

MAGIC = b"RW"
_HEADER = struct.Struct(">2sII")
HEADER_BYTES = _HEADER.size
#: Largest record accepted (a batch or a whole snapshot).
RECORD_BYTES_MAX = 1 << 30

BATCH = 1
MARK = 2
_U32 = struct.Struct(">I")
_MARK = struct.Struct(">BQQ")
_ENTRY = struct.Struct(">BQQI")
_KINDS = {kind.value: kind for kind in EntryKind}
_INDEX = operator.attrgetter("index")


def frame(payload: bytes) -> bytes:
    """One checked record."""
    if len(payload) > RECORD_BYTES_MAX:
        raise ValueError(f"record of {len(payload)} bytes is over {RECORD_BYTES_MAX}")
    length = _U32.pack(len(payload))
    return _HEADER.pack(MAGIC, len(payload), zlib.crc32(payload, zlib.crc32(length))) + payload


def payload_bytes(header: bytes) -> int | None:
    """The payload length a record header announces; None if it is not a record header."""
    if len(header) < HEADER_BYTES:
        return None
    magic, length, _crc = _HEADER.unpack_from(header)
    return length if magic == MAGIC else None


def unframe_at(data: bytes, pos: int) -> tuple[bytes, int] | None:
    """The payload of a whole, valid record at `pos` and where it ends; None if there is none."""
    if len(data) - pos < HEADER_BYTES:
        return None
    magic, length, crc = _HEADER.unpack_from(data, pos)
    end = pos + HEADER_BYTES + length
    if magic != MAGIC or length > RECORD_BYTES_MAX or end > len(data):
        return None
    payload = data[pos + HEADER_BYTES : end]
    if zlib.crc32(payload, zlib.crc32(_U32.pack(length))) != crc:
        return None
    return payload, end


def unframe_one(data: bytes) -> bytes | None:
    """The payload of a file that holds exactly one record, or None when it is damaged."""
    got = unframe_at(data, 0)
    if got is None or got[1] != len(data):
        return None
    return got[0]


def scan(data: bytes, what: str) -> tuple[list[bytes], int]:
    """Payloads of the valid records and the offset where they end.

    The offset is len(data) for a clean file and less for a torn tail. Raises CorruptLogError
    when a bad record is followed by a valid one.
    """
    payloads: list[bytes] = []
    pos = 0
    while pos < len(data):
        got = unframe_at(data, pos)
        if got is None:
            break
        payloads.append(got[0])
        pos = got[1]
    if pos < len(data):
        later = data.find(MAGIC, pos + 1)
        while later != -1:
            if unframe_at(data, later) is not None:
                raise CorruptLogError(
                    f"{what}: corrupt record at byte {pos}, followed by a valid record at byte "
                    f"{later}: this is damage in the middle of the log, not a torn write"
                )
            later = data.find(MAGIC, later + 1)
    return payloads, pos


def encode_batch(entries: Sequence[Entry]) -> bytes:
    """A BATCH payload."""
    parts = [bytes([BATCH]), _U32.pack(len(entries))]
    for e in entries:
        parts.append(_ENTRY.pack(e.kind.value, e.term, e.index, len(e.data)))
        parts.append(e.data)
    return b"".join(parts)


def encode_mark(meta: SnapshotMeta) -> bytes:
    """A MARK payload."""
    return _MARK.pack(MARK, meta.index, meta.term)


def decode_record(payload: bytes, what: str) -> SnapshotMeta | list[Entry]:
    """A MARK's SnapshotMeta or a BATCH's entries. A payload with a valid crc that does not
    parse was written wrong: CorruptLogError."""
    try:
        kind = payload[0]
        if kind == MARK:
            _, index, term = _MARK.unpack(payload)
            return SnapshotMeta(index, term)
        if kind != BATCH:
            raise ValueError(f"unknown record type {kind}")
        (count,) = _U32.unpack_from(payload, 1)
        pos = 1 + _U32.size
        entries = []
        append, kinds = entries.append, _KINDS
        unpack, head = _ENTRY.unpack_from, _ENTRY.size
        for _ in range(count):
            kind_value, term, index, size = unpack(payload, pos)
            pos += head
            end = pos + size
            if end > len(payload):
                raise ValueError("entry data runs past the record")
            append(Entry(term, index, payload[pos:end], kinds[kind_value]))
            pos = end
        if pos != len(payload):
            raise ValueError("trailing bytes in a batch")
        return entries
    except (IndexError, KeyError, ValueError, struct.error) as exc:
        raise CorruptLogError(f"{what}: unreadable record: {exc}") from exc


def misplaced(batch: Sequence[Entry], first: int, count: int) -> str | None:
    """Why `batch` (one save's entries) cannot go into a log of `count` entries from index
    `first` on, or None when it can: it is contiguous and starts at most right after the
    log's end (replacing the log's suffix from its first index on)."""
    start, n = batch[0].index, len(batch)
    if not first <= start <= first + count:
        return f"entry {start} leaves a gap after a log of entries {first}..{first + count - 1}"
    if batch[-1].index != start + n - 1 or (
        n > 2 and list(map(_INDEX, batch)) != list(range(start, start + n))
    ):
        return f"batch at entry {start} is not contiguous"
    return None


def read_log(
    data: bytes, what: str
) -> tuple[SnapshotMeta | None, list[Entry], tuple[int, int, bool] | None]:
    """A log's MARK (None when it has none), its entries, and (end, size, torn) when bytes
    follow its last whole record: a torn tail, or zeros only (space the file system
    allocated ahead of the appends, not torn). CorruptStateError for a batch that does not
    fit (see `misplaced`) or a MARK after the first record."""
    payloads, end = scan(data, what)
    mark = None
    entries: list[Entry] = []
    for k, payload in enumerate(payloads):
        record = decode_record(payload, what)
        if isinstance(record, SnapshotMeta):
            if k != 0:
                raise CorruptStateError(f"{what}: snapshot mark in record {k}")
            mark = record
            continue
        if not record:
            continue
        first = mark.index + 1 if mark else 1
        if why := misplaced(record, first, len(entries)):
            raise CorruptStateError(f"{what}: {why}")
        del entries[record[0].index - first :]
        entries.extend(record)
    if end == len(data):
        return mark, entries, None
    return mark, entries, (end, len(data), data.count(0, end) != len(data) - end)
