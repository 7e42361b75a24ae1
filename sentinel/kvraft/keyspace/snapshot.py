"""The keyspace's snapshot format: typed records, expiry times and WATCH versions.

    b"RKS" | version (1 byte) | header | key columns | tombstone columns | crc32 (4, BE)

    header:     clock, floor, now_floor_ms (int64 LE), n_keys, n_tombstones (uint64 LE)
    keys:       key sizes (uint32 LE * n) | tags (1 byte * n) | expiry ms (int64 * n,
                0 = none) | versions (int64 * n) | payload sizes (uint64 * n)
                | all keys, concatenated | all payloads, concatenated
    tombstones: key sizes (uint32 * m) | versions (int64 * m) | keys, concatenated

Records are sorted by key and tombstones keep their eviction order, so the same state
always gives the same bytes, whatever order its dicts were filled in. The tag of a record
(values.TypeTag) chooses the codec of its payload in `PAYLOAD_CODECS`; a string's payload
is its bytes, a hash's and a set's are their elements in their dense order (members.py:
that order is state, SPOP's draws depend on it). Issue #25 adds a codec per collection
type; a reader refuses a tag it has no codec for (so an older reader refuses a snapshot
holding a type it does not know, rather than misreading it), and a change of an existing
record's format bumps VERSION.

Speed: the columns are packed and unpacked with `array` and one join each, not a Python
call per field, and the SCAN index is built at the first SCAN, not at restore; so 100,000
string keys encode and decode in a small fraction of a second
(tests/kvraft/keyspace/test_keyspace_snapshot.py measures it). `decode` checks the
checksum, every size, the key order, the tags and the limits, and raises SnapshotError
naming the problem; it builds a new Store and never touches a live one.
"""

from __future__ import annotations

import struct
import sys
import zlib
from array import array
from collections.abc import Callable
from itertools import accumulate

from sentinel.kvraft.keyspace.expiry import ExpiryIndex
from sentinel.kvraft.keyspace.members import Hash, RedisSet
from sentinel.kvraft.keyspace.store import Store
from sentinel.kvraft.keyspace.values import (
    KEY_BYTES_MAX,
    VALUE_BYTES_MAX,
    TypeTag,
    Value,
    type_tag,
)
from sentinel.kvraft.snapshot import SnapshotError

MAGIC = b"RKS"
VERSION = 1
_HEAD = MAGIC + bytes([VERSION])
_HEADER = struct.Struct("<qqqQQ")
_CRC_BYTES = 4
_SWAP = sys.byteorder == "big"  # the format is little-endian on every machine


def _string_payload(value: Value) -> bytes:
    return value


def _string_value(payload: bytes) -> Value:
    if len(payload) > VALUE_BYTES_MAX:
        raise SnapshotError(f"a {len(payload)}-byte string is over the limit")
    return payload


#: Tag -> (value to payload bytes, payload bytes to value).
PAYLOAD_CODECS: dict[TypeTag, tuple[Callable[[Value], bytes], Callable[[bytes], Value]]] = {
    TypeTag.STRING: (_string_payload, _string_value),
    TypeTag.HASH: (Hash.to_payload, Hash.from_payload),  # type: ignore[dict-item]
    TypeTag.SET: (RedisSet.to_payload, RedisSet.from_payload),  # type: ignore[dict-item]
}


def _column(code: str, values: list[int]) -> bytes:
    column = array(code, values)
    if _SWAP:
        column.byteswap()
    return column.tobytes()


def encode(store: Store) -> bytes:
    """Deterministic snapshot bytes of `store`."""
    data, at_ms, versions = store.data, store.expiry.at_ms, store.versions
    keys = sorted(data)
    values = [data[key] for key in keys]
    tags = [type_tag(value) for value in values]
    payloads = [
        value if tag is TypeTag.STRING else PAYLOAD_CODECS[tag][0](value)
        for tag, value in zip(tags, values, strict=True)
    ]
    tombstones = list(store.tombstones.items())
    parts = [
        _HEAD,
        _HEADER.pack(store.clock, store.floor, store.now_floor_ms, len(keys), len(tombstones)),
        _column("I", [len(key) for key in keys]),
        bytes(tags),
        _column("q", [at_ms.get(key, 0) for key in keys]),
        _column("q", [versions[key] for key in keys]),
        _column("Q", [len(payload) for payload in payloads]),
        b"".join(keys),
        b"".join(payloads),
        _column("I", [len(key) for key, _ in tombstones]),
        _column("q", [stamp for _, stamp in tombstones]),
        b"".join(key for key, _ in tombstones),
    ]
    body = b"".join(parts)
    return body + zlib.crc32(body).to_bytes(_CRC_BYTES, "big")


class _Cursor:
    """Reads columns in order from a checked snapshot body."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.pos = len(_HEAD)

    def take(self, size: int) -> bytes:
        end = self.pos + size
        if size < 0 or end > len(self.body):
            raise SnapshotError(f"truncated snapshot: {size} bytes wanted at byte {self.pos}")
        chunk = self.body[self.pos : end]
        self.pos = end
        return chunk

    def column(self, code: str, count: int) -> list[int]:
        column = array(code)
        column.frombytes(self.take(count * column.itemsize))
        if _SWAP:
            column.byteswap()
        return column.tolist()

    def split(self, sizes: list[int]) -> list[bytes]:
        blob = self.take(sum(sizes))
        ends = list(accumulate(sizes))
        return [blob[end - size : end] for size, end in zip(sizes, ends, strict=True)]


def decode(data: bytes) -> Store:
    """A new Store from snapshot bytes; SnapshotError for anything that is not one."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise SnapshotError(f"a snapshot must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if data[: len(_HEAD)] != _HEAD:
        raise SnapshotError(f"not a keyspace snapshot (header {data[: len(_HEAD)]!r})")
    if len(data) < len(_HEAD) + _HEADER.size + _CRC_BYTES:
        raise SnapshotError(f"truncated snapshot of {len(data)} bytes")
    body, crc = data[:-_CRC_BYTES], int.from_bytes(data[-_CRC_BYTES:], "big")
    if zlib.crc32(body) != crc:
        raise SnapshotError("corrupt snapshot: checksum mismatch")
    cursor = _Cursor(body)
    clock, floor, now_floor_ms, n_keys, n_tombs = _HEADER.unpack(cursor.take(_HEADER.size))
    if n_keys > len(body) or n_tombs > len(body):
        raise SnapshotError(f"{n_keys} keys and {n_tombs} tombstones cannot fit the snapshot")
    key_sizes = cursor.column("I", n_keys)
    tags = list(cursor.take(n_keys))
    expiries = cursor.column("q", n_keys)
    stamps = cursor.column("q", n_keys)
    payload_sizes = cursor.column("Q", n_keys)
    keys = cursor.split(key_sizes)
    payloads = cursor.split(payload_sizes)
    tomb_sizes = cursor.column("I", n_tombs)
    tomb_stamps = cursor.column("q", n_tombs)
    tomb_keys = cursor.split(tomb_sizes)
    if cursor.pos != len(body):
        raise SnapshotError(f"{len(body) - cursor.pos} trailing bytes in the snapshot")
    _check(keys, tags, expiries, stamps, clock)
    store = Store()
    if set(tags) <= {TypeTag.STRING}:
        if payload_sizes and max(payload_sizes) > VALUE_BYTES_MAX:
            raise SnapshotError("a string is over the size limit")
        store.data = dict(zip(keys, payloads, strict=True))
    else:
        decoders = [PAYLOAD_CODECS[TypeTag(tag)][1] for tag in tags]
        store.data = {k: dec(p) for k, dec, p in zip(keys, decoders, payloads, strict=True)}
    if len(store.data) != len(keys):
        raise SnapshotError("a key is repeated")
    store.expiry = ExpiryIndex({key: at for key, at in zip(keys, expiries, strict=True) if at})
    store.versions = dict(zip(keys, stamps, strict=True))
    store.tombstones = dict(zip(tomb_keys, tomb_stamps, strict=True))
    if any(key in store.data for key in store.tombstones) or len(store.tombstones) != n_tombs:
        raise SnapshotError("tombstones repeat a key or name a live key")
    store.clock, store.floor, store.now_floor_ms = clock, floor, now_floor_ms
    return store


def _check(
    keys: list[bytes],
    tags: list[int],
    expiries: list[int],
    stamps: list[int],
    clock: int,
) -> None:
    """Refuse what no Store could hold."""
    if keys != sorted(keys):  # sorting sorted keys is one linear pass in C
        raise SnapshotError("keys are not in strictly increasing order")
    if keys and max(map(len, keys)) > KEY_BYTES_MAX:
        raise SnapshotError("a key is over the size limit")
    unknown = set(tags) - {int(tag) for tag in PAYLOAD_CODECS}
    if unknown:
        raise SnapshotError(f"unknown value type tags {sorted(unknown)}")
    if expiries and min(expiries) < 0:
        raise SnapshotError("a negative expiry time")
    if stamps and (min(stamps) < 1 or max(stamps) > clock):
        raise SnapshotError("a key version outside [1, clock]")
