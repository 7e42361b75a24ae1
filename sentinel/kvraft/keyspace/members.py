"""The value classes of Redis sets and hashes: members kept in a dense, ordered array.

A `RedisSet` holds distinct members; a `Hash` holds distinct fields, each with a value.
Both keep their members in a Python list plus a dict from member to its position, so a
member is added, found and removed in O(1) (a removal moves the last member into the hole),
and a uniformly random member is `items[randrange(n)]`, also O(1). That order is part of
the state: it is a function of the commands applied, so every replica holds the same
order, a snapshot stores it (see `to_payload`), and SPOP / SRANDMEMBER / HRANDFIELD pick by
position with a generator seeded from the log entry, so every replica picks the same one.

Changes take an `undo` callback (the store's `on_undo`): each change hands it the exact
inverse, so a command that fails half way is rolled back to the same members in the same
order. Sizes: `size_bytes` is kept up to date (the bytes of members and values).

Payloads (snapshots): count (uint32 LE) | member sizes (uint32 LE * count) | [value sizes]
| members, concatenated | [values, concatenated], in the dense order. `from_payload`
refuses (SnapshotError) a payload that is truncated, empty, repeats a member or breaks the
limits of limits.py.
"""

from __future__ import annotations

import random
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator
from itertools import accumulate

from sentinel.kvraft.limits import COLLECTION_ELEMENTS_MAX, ELEMENT_BYTES_MAX
from sentinel.kvraft.snapshot import SnapshotError

Undo = Callable[[Callable[[], None]], None]

_SWAP = sys.byteorder == "big"  # payloads are little-endian on every machine
_COUNT_BYTES = 4


def _no_undo(_: Callable[[], None]) -> None:
    """For values being built outside any command (restores, new results)."""


class _Members:
    """Distinct binary members in a dense order (see the module docstring)."""

    __slots__ = ("_index", "_items", "size_bytes")

    def __init__(self, members: Iterable[bytes] = ()) -> None:
        self._items: list[bytes] = []
        self._index: dict[bytes, int] = {}
        self.size_bytes = 0
        for member in members:
            self.add(member)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, member: object) -> bool:
        return member in self._index

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._items)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._state()!r})"

    def __eq__(self, other: object) -> bool:
        """Same type, same elements in the same dense order (the order is state)."""
        return type(other) is type(self) and other._state() == self._state()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]  # mutable

    def _state(self) -> list[bytes] | list[tuple[bytes, bytes]]:
        return self._items

    def members(self) -> list[bytes]:
        """The members in the dense order (a copy)."""
        return list(self._items)

    def add(self, member: bytes, undo: Undo = _no_undo) -> bool:
        """Add `member`; False if it was already there (then nothing changes)."""
        if member in self._index:
            return False
        self._index[member] = len(self._items)
        self._items.append(member)
        self.size_bytes += len(member)
        undo(self._drop_last)
        return True

    def discard(self, member: bytes, undo: Undo = _no_undo) -> bool:
        """Remove `member`; False if it was not there."""
        position = self._index.pop(member, None)
        if position is None:
            return False
        last = self._items.pop()
        if position < len(self._items):
            self._items[position] = last
            self._index[last] = position
        self.size_bytes -= len(member)
        undo(lambda: self._put_back(member, position))
        return True

    def _drop_last(self) -> None:
        """Reverse an `add` (the newest member is the last)."""
        member = self._items.pop()
        del self._index[member]
        self.size_bytes -= len(member)

    def _put_back(self, member: bytes, position: int) -> None:
        """Reverse a `discard`: the moved member goes back to the end."""
        if position < len(self._items):
            moved = self._items[position]
            self._index[moved] = len(self._items)
            self._items.append(moved)
            self._items[position] = member
        else:
            self._items.append(member)
        self._index[member] = position
        self.size_bytes += len(member)

    def at(self, position: int) -> bytes:
        """The member at `position` of the dense order."""
        return self._items[position]

    def positions(self, rng: random.Random, count: int, distinct: bool) -> list[int]:
        """`count` random positions: distinct ones (at most len(self)) or with repeats."""
        size = len(self._items)
        if distinct:
            return rng.sample(range(size), min(count, size))
        return [rng.randrange(size) for _ in range(count)]


class RedisSet(_Members):
    """A Redis set: distinct binary members."""

    __slots__ = ()

    def to_payload(self) -> bytes:
        """The snapshot payload of this value (same members in the same order, same bytes)."""
        items = self._items
        return b"".join([_head(len(items)), _sizes(items), *items])

    @classmethod
    def from_payload(cls, payload: bytes) -> RedisSet:
        """The value `to_payload` made `payload` from; SnapshotError for anything else."""
        reader = _Payload(payload)
        count = reader.count()
        members = reader.elements(reader.sizes(count))
        reader.finish()
        value = cls(members)
        if len(value) != count:
            raise SnapshotError("a set repeats a member")
        return value


class Hash(_Members):
    """A Redis hash: distinct binary fields (the members) each with a binary value."""

    __slots__ = ("_values",)

    def __init__(self, pairs: Iterable[tuple[bytes, bytes]] = ()) -> None:
        self._values: list[bytes] = []
        super().__init__()
        for field, value in pairs:
            self.put(field, value)

    def get(self, field: bytes) -> bytes | None:
        """The value of `field`, or None."""
        position = self._index.get(field)
        return None if position is None else self._values[position]

    def value_at(self, position: int) -> bytes:
        """The value of the field at `position` of the dense order."""
        return self._values[position]

    def _state(self) -> list[tuple[bytes, bytes]]:
        return self.pairs()

    def pairs(self) -> list[tuple[bytes, bytes]]:
        """(field, value) in the dense order."""
        return list(zip(self._items, self._values, strict=True))

    def values(self) -> list[bytes]:
        """The values in the dense order (a copy)."""
        return list(self._values)

    def put(self, field: bytes, value: bytes, undo: Undo = _no_undo) -> bool:
        """Set `field` to `value`; True if the field is new."""
        position = self._index.get(field)
        if position is None:
            self._values.append(value)
            self.size_bytes += len(value)
            return self.add(field, undo)
        old = self._values[position]
        self._values[position] = value
        self.size_bytes += len(value) - len(old)
        undo(lambda: self._revalue(position, old))
        return False

    def _revalue(self, position: int, value: bytes) -> None:
        self.size_bytes += len(value) - len(self._values[position])
        self._values[position] = value

    def discard(self, member: bytes, undo: Undo = _no_undo) -> bool:
        """Remove the field `member` and its value; False if it was not there."""
        position = self._index.get(member)
        if position is None:
            return False
        value = self._values[position]
        last = self._values.pop()
        if position < len(self._values):
            self._values[position] = last
        self.size_bytes -= len(value)
        undo(lambda: self._value_back(position, value))
        return super().discard(member, undo)

    def _value_back(self, position: int, value: bytes) -> None:
        """Reverse the value half of a `discard` (runs after the member half)."""
        if position < len(self._values):
            self._values.append(self._values[position])
            self._values[position] = value
        else:
            self._values.append(value)
        self.size_bytes += len(value)

    def _drop_last(self) -> None:
        self.size_bytes -= len(self._values.pop())
        super()._drop_last()

    def to_payload(self) -> bytes:
        """The snapshot payload of this hash (fields, then values, in the dense order)."""
        items, values = self._items, self._values
        return b"".join([_head(len(items)), _sizes(items), _sizes(values), *items, *values])

    @classmethod
    def from_payload(cls, payload: bytes) -> Hash:
        """The hash `to_payload` made `payload` from; SnapshotError for anything else."""
        reader = _Payload(payload)
        count = reader.count()
        field_sizes, value_sizes = reader.sizes(count), reader.sizes(count)
        fields, values = reader.elements(field_sizes), reader.elements(value_sizes)
        reader.finish()
        value = cls(zip(fields, values, strict=True))
        if len(value) != count:
            raise SnapshotError("a hash repeats a field")
        return value


def _head(count: int) -> bytes:
    return count.to_bytes(_COUNT_BYTES, "little")


def _sizes(elements: list[bytes]) -> bytes:
    column = array("I", map(len, elements))
    if _SWAP:
        column.byteswap()
    return column.tobytes()


class _Payload:
    """Reads a collection's payload, checking every size against the limits."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.pos = 0

    def take(self, size: int) -> bytes:
        end = self.pos + size
        if end > len(self.payload):
            raise SnapshotError(f"truncated collection: {size} bytes wanted at {self.pos}")
        chunk = self.payload[self.pos : end]
        self.pos = end
        return chunk

    def count(self) -> int:
        count = int.from_bytes(self.take(_COUNT_BYTES), "little")
        if not 0 < count <= COLLECTION_ELEMENTS_MAX:
            raise SnapshotError(f"a collection of {count} elements (empty or over the limit)")
        return count

    def sizes(self, count: int) -> list[int]:
        column = array("I")
        column.frombytes(self.take(count * column.itemsize))
        if _SWAP:
            column.byteswap()
        if max(column) > ELEMENT_BYTES_MAX:
            raise SnapshotError("a collection element is over the size limit")
        return column.tolist()

    def elements(self, sizes: list[int]) -> list[bytes]:
        blob = self.take(sum(sizes))
        return [blob[end - size : end] for size, end in zip(sizes, accumulate(sizes), strict=True)]

    def finish(self) -> None:
        if self.pos != len(self.payload):
            raise SnapshotError(f"{len(self.payload) - self.pos} trailing bytes in a collection")
