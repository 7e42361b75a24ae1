"""The command table of the keyspace: names, arities, key positions, and the checks a
command passes before it may reach the log.

`COMMANDS` maps an upper-case command name to its `CommandSpec`. Arity follows Redis's
convention (N: exactly N arguments counting the name; -N: at least N), and so do the key
positions (`first_key`, `last_key` (negative counts from the end), `key_step`), so the
front door can answer COMMAND, COMMAND COUNT and COMMAND DOCS from it and find the keys of
a command. `write` says whether the command goes through the log (a read may be answered
after a ReadIndex round; it never changes the state).

`validate(args)` is the check of Limits: known command, right arity, every key at most
KEY_BYTES_MAX bytes, every other argument at most VALUE_BYTES_MAX bytes, and every argument
a command stores as a collection's element (from `elements_from` on) at most
ELEMENT_BYTES_MAX bytes. (How many elements a collection may hold is checked when the
command is applied: it depends on the state.) The front door
calls it before a command reaches the log; `Keyspace.apply` calls it again, so a log entry
that breaks a limit changes nothing and answers the same error on every replica.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sentinel.kvraft.keyspace import hashes, keys, setops, sets, strings
from sentinel.kvraft.keyspace.replies import Error, Reply, arity_error, unknown_command
from sentinel.kvraft.keyspace.store import Store
from sentinel.kvraft.keyspace.values import KEY_BYTES_MAX, VALUE_BYTES_MAX
from sentinel.kvraft.limits import ELEMENT_BYTES_MAX

Handler = Callable[[Store, list[bytes], int], Reply]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One command: how to run it and how it looks to the front door."""

    name: str  # lower case, as Redis names commands in errors and COMMAND
    handler: Handler
    arity: int
    write: bool
    first_key: int
    last_key: int
    key_step: int
    #: The index of the first argument stored as a collection's element (0: none).
    elements_from: int = 0

    def key_indexes(self, argc: int) -> range:
        """The indexes of the keys in a command of `argc` arguments."""
        if self.first_key == 0:
            return range(0)
        last = self.last_key if self.last_key > 0 else argc + self.last_key
        return range(self.first_key, last + 1, self.key_step)


def _table() -> dict[bytes, CommandSpec]:
    rows: list[
        tuple[str, Handler, int, bool, int, int, int]
        | tuple[str, Handler, int, bool, int, int, int, int]
    ] = [
        # strings
        ("get", strings.get, 2, False, 1, 1, 1),
        ("set", strings.set_, -3, True, 1, 1, 1),
        ("setnx", strings.setnx, 3, True, 1, 1, 1),
        ("setex", strings.setex, 4, True, 1, 1, 1),
        ("psetex", strings.setex, 4, True, 1, 1, 1),
        ("getset", strings.getset, 3, True, 1, 1, 1),
        ("getdel", strings.getdel, 2, True, 1, 1, 1),
        ("getex", strings.getex, -2, True, 1, 1, 1),
        ("mget", strings.mget, -2, False, 1, -1, 1),
        ("mset", strings.mset, -3, True, 1, -1, 2),
        ("msetnx", strings.mset, -3, True, 1, -1, 2),
        ("append", strings.append, 3, True, 1, 1, 1),
        ("strlen", strings.strlen, 2, False, 1, 1, 1),
        ("getrange", strings.getrange, 4, False, 1, 1, 1),
        ("setrange", strings.setrange, 4, True, 1, 1, 1),
        ("incr", strings.incr, 2, True, 1, 1, 1),
        ("decr", strings.incr, 2, True, 1, 1, 1),
        ("incrby", strings.incr, 3, True, 1, 1, 1),
        ("decrby", strings.incr, 3, True, 1, 1, 1),
        ("incrbyfloat", strings.incrbyfloat, 3, True, 1, 1, 1),
        # keys
        ("del", keys.delete, -2, True, 1, -1, 1),
        ("unlink", keys.delete, -2, True, 1, -1, 1),
        ("exists", keys.exists, -2, False, 1, -1, 1),
        ("type", keys.type_, 2, False, 1, 1, 1),
        ("keys", keys.keys, 2, False, 0, 0, 0),
        ("scan", keys.scan, -2, False, 0, 0, 0),
        ("rename", keys.rename, 3, True, 1, 2, 1),
        ("renamenx", keys.rename, 3, True, 1, 2, 1),
        ("expire", keys.expire, -3, True, 1, 1, 1),
        ("pexpire", keys.expire, -3, True, 1, 1, 1),
        ("expireat", keys.expire, -3, True, 1, 1, 1),
        ("pexpireat", keys.expire, -3, True, 1, 1, 1),
        ("ttl", keys.ttl, 2, False, 1, 1, 1),
        ("pttl", keys.ttl, 2, False, 1, 1, 1),
        ("expiretime", keys.ttl, 2, False, 1, 1, 1),
        ("pexpiretime", keys.ttl, 2, False, 1, 1, 1),
        ("persist", keys.persist, 2, True, 1, 1, 1),
        ("dbsize", keys.dbsize, 1, False, 0, 0, 0),
        ("flushdb", keys.flush, -1, True, 0, 0, 0),
        ("flushall", keys.flush, -1, True, 0, 0, 0),
        # hashes
        ("hset", hashes.hset, -4, True, 1, 1, 1, 2),
        ("hmset", hashes.hset, -4, True, 1, 1, 1, 2),
        ("hsetnx", hashes.hsetnx, 4, True, 1, 1, 1, 2),
        ("hget", hashes.hget, 3, False, 1, 1, 1),
        ("hmget", hashes.hmget, -3, False, 1, 1, 1),
        ("hdel", hashes.hdel, -3, True, 1, 1, 1),
        ("hexists", hashes.hexists, 3, False, 1, 1, 1),
        ("hlen", hashes.hlen, 2, False, 1, 1, 1),
        ("hgetall", hashes.hgetall, 2, False, 1, 1, 1),
        ("hkeys", hashes.hkeys, 2, False, 1, 1, 1),
        ("hvals", hashes.hkeys, 2, False, 1, 1, 1),
        ("hstrlen", hashes.hstrlen, 3, False, 1, 1, 1),
        ("hincrby", hashes.hincrby, 4, True, 1, 1, 1, 2),
        ("hincrbyfloat", hashes.hincrbyfloat, 4, True, 1, 1, 1, 2),
        ("hrandfield", hashes.hrandfield, -2, False, 1, 1, 1),
        ("hscan", hashes.hscan, -3, False, 1, 1, 1),
        # sets
        ("sadd", sets.sadd, -3, True, 1, 1, 1, 2),
        ("srem", sets.srem, -3, True, 1, 1, 1),
        ("smembers", sets.smembers, 2, False, 1, 1, 1),
        ("sismember", sets.sismember, 3, False, 1, 1, 1),
        ("smismember", sets.smismember, -3, False, 1, 1, 1),
        ("scard", sets.scard, 2, False, 1, 1, 1),
        ("spop", sets.spop, -2, True, 1, 1, 1),
        ("srandmember", sets.srandmember, -2, False, 1, 1, 1),
        ("smove", sets.smove, 4, True, 1, 2, 1, 3),
        ("sinter", setops.combine, -2, False, 1, -1, 1),
        ("sintercard", setops.sintercard, -3, False, 0, 0, 0),
        ("sunion", setops.combine, -2, False, 1, -1, 1),
        ("sdiff", setops.combine, -2, False, 1, -1, 1),
        ("sinterstore", setops.combine_store, -3, True, 1, -1, 1),
        ("sunionstore", setops.combine_store, -3, True, 1, -1, 1),
        ("sdiffstore", setops.combine_store, -3, True, 1, -1, 1),
        ("sscan", sets.sscan, -3, False, 1, 1, 1),
    ]
    return {row[0].upper().encode(): CommandSpec(*row) for row in rows}


#: Upper-case command name -> spec.
COMMANDS: dict[bytes, CommandSpec] = _table()


def lookup(args: list[bytes]) -> CommandSpec | Error:
    """The spec of the command `args` names, or Redis's unknown-command / arity error."""
    if not args:
        return unknown_command(args)
    spec = COMMANDS.get(args[0].upper())
    if spec is None:
        return unknown_command(args)
    arity = spec.arity
    if (arity >= 0 and len(args) != arity) or len(args) < -arity:
        return arity_error(spec.name)
    return spec


def validate(args: list[bytes]) -> Error | None:
    """None if `args` is a known command of the right arity within the limits; else the
    error to answer (nothing should reach the log then)."""
    spec = lookup(args)
    if isinstance(spec, Error):
        return spec
    return _check_sizes(spec, args)


def _check_sizes(spec: CommandSpec, args: list[bytes]) -> Error | None:
    key_indexes = spec.key_indexes(len(args))
    for index in key_indexes:
        if len(args[index]) > KEY_BYTES_MAX:
            size = len(args[index])
            return Error(f"ERR key is {size} bytes; the limit is {KEY_BYTES_MAX} bytes")
    for arg in args:
        if len(arg) > VALUE_BYTES_MAX:
            size = len(arg)
            return Error(f"ERR argument is {size} bytes; the limit is {VALUE_BYTES_MAX} bytes")
    if spec.elements_from:
        for arg in args[spec.elements_from :]:
            if len(arg) > ELEMENT_BYTES_MAX:
                size = len(arg)
                return Error(f"ERR element is {size} bytes; the limit is {ELEMENT_BYTES_MAX} bytes")
    return None


def checked(args: list[bytes]) -> CommandSpec | Error:
    """`lookup` plus the size checks of `validate`: what `Keyspace.apply` runs first."""
    spec = lookup(args)
    if isinstance(spec, Error):
        return spec
    return _check_sizes(spec, args) or spec
