"""sentinel.kvraft.keyspace: the pure, deterministic Redis keyspace (strings, hashes, sets,
keys, expiry, transactions, snapshots) that every replica applies from the log.

Entry points: `Keyspace` (apply, apply_batch, versions, expired_keys, purge_expired,
encode, decode), `validate` (the front door's check before the log), `COMMANDS` (the
command table: arity, key positions, read or write) and the reply types of `replies`.
Imports only the standard library and kvraft's pure modules (limits, snapshot's error).
"""

from sentinel.kvraft.keyspace.commands import COMMANDS, CommandSpec, validate
from sentinel.kvraft.keyspace.keyspace import (
    BATCH_COMMANDS_MAX,
    PURGE_KEYS_MAX,
    Keyspace,
)
from sentinel.kvraft.keyspace.replies import (
    Array,
    Bulk,
    Double,
    Error,
    Int,
    Map,
    Null,
    Reply,
    Simple,
)
from sentinel.kvraft.keyspace.scan import SCAN_BUCKETS
from sentinel.kvraft.keyspace.store import TOMBSTONES_MAX
from sentinel.kvraft.keyspace.values import KEY_BYTES_MAX, VALUE_BYTES_MAX, TypeTag

__all__ = [
    "BATCH_COMMANDS_MAX",
    "COMMANDS",
    "KEY_BYTES_MAX",
    "PURGE_KEYS_MAX",
    "SCAN_BUCKETS",
    "TOMBSTONES_MAX",
    "VALUE_BYTES_MAX",
    "Array",
    "Bulk",
    "CommandSpec",
    "Double",
    "Error",
    "Int",
    "Keyspace",
    "Map",
    "Null",
    "Reply",
    "Simple",
    "TypeTag",
    "validate",
]
