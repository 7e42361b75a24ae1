"""The shard a kv command belongs to: every key it names must hash to one shard.

A sharded store runs each command on the one shard its keys hash to (`key_shard`). A
command whose keys span shards (MSET, MGET, RENAME, DEL of several keys, a MULTI/EXEC block
or a WATCH over keys of different shards) cannot run on one group's state machine, so it
is refused with Redis Cluster's error `CROSSSLOT` (hash tags `{...}` put keys in one
shard). Several reads at one read point (`RedisReads`) must share a shard as well; the
sharded client splits a burst of reads by shard.

Two kinds of command name no key and run on the shard their request names: `Register`
(it opens a session there) and, sent alone, a shard-wide Redis command (`SHARD_WIDE`:
KEYS, SCAN, DBSIZE, FLUSHDB, FLUSHALL), which acts on that shard's keyspace only; the
sharded client sends it to every shard and merges the replies (fanout.py). Inside a block
(an EXEC or a read batch) a shard-wide command would act on one shard only, so a block
holding one is refused (`SHARD_WIDE_IN_BLOCK_ERROR`), and any other keyless command is
refused too (`NO_KEY_ERROR`).

Pure functions of the command, used by the clerks before sending, by the group server
before proposing and by the group state machine again on apply (so a bad entry changes
nothing on any replica).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sentinel.kvraft.commands import (
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
)
from sentinel.kvraft.keyspace import COMMANDS
from sentinel.shard.config import key_shard

#: Redis Cluster's answer to a command whose keys hash to different slots.
CROSSSLOT_ERROR = "CROSSSLOT Keys in request don't hash to the same slot"
#: The answer to a command that names no key and is not shard-wide.
NO_KEY_ERROR = "ERR this command names no key; a sharded store runs only commands on keys"
#: The answer to a block (MULTI/EXEC, a read batch) holding a shard-wide command.
SHARD_WIDE_IN_BLOCK_ERROR = (
    "ERR KEYS, SCAN, DBSIZE, FLUSHDB and FLUSHALL span every shard of a sharded store; "
    "they run alone, not inside a transaction"
)
#: Redis commands that name no key and act on the whole keyspace of the shard they run on.
SHARD_WIDE = frozenset({b"KEYS", b"SCAN", b"DBSIZE", b"FLUSHDB", b"FLUSHALL"})


class ShardKeyError(ValueError):
    """A command that cannot run on one shard; the message is the Redis error text."""


def redis_keys(args: tuple[bytes, ...] | list[bytes]) -> list[bytes]:
    """The keys of one Redis command (none for an unknown command: `validate` refuses it)."""
    spec = COMMANDS.get(bytes(args[0]).upper()) if args else None
    if spec is None:
        return []
    return [args[i] for i in spec.key_indexes(len(args)) if i < len(args)]


def is_shard_wide(args: Sequence[bytes]) -> bool:
    """Whether the Redis command `args` is shard-wide (`SHARD_WIDE`)."""
    return bool(args) and bytes(args[0]).upper() in SHARD_WIDE


def command_keys(command: Command) -> Iterator[str | bytes]:
    """Every key `command` names, in order (repeats possible)."""
    cls = type(command)
    if cls in (Get, Put, Append, Delete, Cas):
        yield command.key  # type: ignore[union-attr]
    elif cls is RedisWrite or cls is RedisRead:
        yield from redis_keys(command.args)  # type: ignore[union-attr]
    elif cls is RedisExec or cls is RedisReads:
        for args in command.commands:  # type: ignore[union-attr]
            yield from redis_keys(args)
        for key, _ in getattr(command, "watched", ()):
            yield key
    elif cls is RedisVersions or cls is Purge:
        yield from command.keys  # type: ignore[union-attr]


def command_shard(command: Command, nshards: int) -> int | None:
    """The one shard `command`'s keys hash to; None for a command that runs on the shard
    its request names (a Register, a shard-wide Redis command alone). ShardKeyError
    (CROSSSLOT, a block holding a shard-wide command, another keyless command) when there
    is no such shard."""
    cls = type(command)
    if (cls is RedisRead or cls is RedisWrite) and is_shard_wide(command.args):  # type: ignore[union-attr]
        return None
    if (cls is RedisExec or cls is RedisReads) and any(
        is_shard_wide(args)
        for args in command.commands  # type: ignore[union-attr]
    ):
        raise ShardKeyError(SHARD_WIDE_IN_BLOCK_ERROR)
    shard: int | None = None
    for key in command_keys(command):
        this = key_shard(key, nshards)
        if shard is not None and this != shard:
            raise ShardKeyError(CROSSSLOT_ERROR)
        shard = this
    if shard is None and type(command) is not Register:
        raise ShardKeyError(NO_KEY_ERROR)
    return shard
