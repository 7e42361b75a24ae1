"""The typed values a key can hold, and the registry that names and tags them.

Every key maps to exactly one value; its type is read from the value's Python class through
`VALUE_TYPES`, so no separate tag is stored beside it. A value is `bytes` (a Redis string),
a `Hash` or a `RedisSet` (members.py). Each collection class of issue #25 is registered here
and has `__len__` (its element count, never 0: an empty collection is deleted) and
`size_bytes` (the bytes it holds, for `value_bytes`). Each type has a `TypeTag`
(the byte a snapshot record starts with; the numbers are stable, never reuse one) and the
name TYPE answers and SCAN's TYPE filter matches ("hash", "list", "set", "zset").

Invariants: values are never `bytearray` or `str` (binary-safe, immutable strings), and a
string value is at most `VALUE_BYTES_MAX` bytes (commands refuse what would grow past it).
"""

from __future__ import annotations

import enum
from typing import TypeAlias

from sentinel.kvraft.keyspace.members import Hash, RedisSet
from sentinel.kvraft.limits import KEY_BYTES_MAX, VALUE_BYTES_MAX

__all__ = [
    "KEY_BYTES_MAX",
    "TYPE_BY_NAME",
    "VALUE_BYTES_MAX",
    "VALUE_TYPES",
    "TypeTag",
    "Value",
    "type_name",
    "type_tag",
    "value_bytes",
]


class TypeTag(enum.IntEnum):
    """The type of a value; the int is its tag byte in snapshots (stable)."""

    STRING = 0
    HASH = 1  # issue #25
    LIST = 2  # issue #25
    SET = 3  # issue #25
    ZSET = 4  # issue #25


#: What a key may hold. Issue #25 widens this union with its collection classes.
Value: TypeAlias = bytes | Hash | RedisSet

#: Python class of a value -> its type. Registering a class here makes TYPE, SCAN TYPE,
#: WRONGTYPE checks and snapshots aware of it (snapshot.py also needs its codec).
VALUE_TYPES: dict[type, TypeTag] = {
    bytes: TypeTag.STRING,
    Hash: TypeTag.HASH,
    RedisSet: TypeTag.SET,
}

#: The names TYPE answers, per tag (Redis's names).
TYPE_NAMES: dict[TypeTag, str] = {
    TypeTag.STRING: "string",
    TypeTag.HASH: "hash",
    TypeTag.LIST: "list",
    TypeTag.SET: "set",
    TypeTag.ZSET: "zset",
}

#: Lower-case type name (as bytes, as SCAN's TYPE option carries it) -> tag.
TYPE_BY_NAME: dict[bytes, TypeTag] = {name.encode(): tag for tag, name in TYPE_NAMES.items()}


def type_tag(value: Value) -> TypeTag:
    """The tag of a stored value."""
    return VALUE_TYPES[type(value)]


def type_name(value: Value) -> str:
    """Redis's name for the type of a stored value ("string", ...)."""
    return TYPE_NAMES[VALUE_TYPES[type(value)]]


def value_bytes(value: Value) -> int:
    """About the bytes a stored value holds (a string's length, a collection's elements)."""
    return len(value) if type(value) is bytes else value.size_bytes  # type: ignore[union-attr]
