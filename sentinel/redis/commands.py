"""The command table, as data: every command the front door knows, with Redis's metadata.

Each row is what `COMMAND INFO` reports (name, arity, flags, first/last key and step) plus the
group, the version of Redis that introduced it and a one-line summary (`COMMAND DOCS`), and
`local`: True when the front door answers it itself (connection state, server introspection),
False when it goes to the backend. Arity follows Redis: `n` means exactly n words including
the name, `-n` means at least n. Container commands (CLIENT, CONFIG, COMMAND) list their
subcommands, each with its own arity (errors name them `'config|get'`).

The collection commands of issue #25 (hashes, lists, sets, sorted sets) are added as rows here;
nothing else in the front door changes for a new backend command.
"""

# ruff: noqa: E501  (the table keeps one command per line)
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Command:
    """One command (or subcommand) and its metadata."""

    name: str  # lower case; for a subcommand "container|sub"
    arity: int
    flags: tuple[str, ...]
    first_key: int
    last_key: int
    step: int
    group: str
    since: str
    summary: str
    local: bool
    subcommands: dict[str, Command] = field(default_factory=dict)

    @property
    def is_write(self) -> bool:
        """The command changes data (`write` flag)."""
        return "write" in self.flags

    def arity_ok(self, argc: int) -> bool:
        """`argc` words (name included) satisfy the arity."""
        return argc == self.arity if self.arity >= 0 else argc >= -self.arity

    def keys(self, args: list[bytes]) -> list[bytes]:
        """The key arguments of a request (`args` includes the name), by first/last/step."""
        if self.first_key <= 0:
            return []
        last = self.last_key if self.last_key >= 0 else len(args) + self.last_key
        return args[self.first_key : last + 1 : self.step]


_CONN = ("noscript", "loading", "stale", "fast", "no_auth", "allow_busy")
_TX = ("noscript", "loading", "stale", "fast", "allow_busy")
_ADMIN = ("admin", "noscript", "loading", "stale")

# name, arity, flags, first, last, step, group, since, summary; local or backend below.
_LOCAL_ROWS: list[tuple] = [
    ("ping", -1, ("fast",), 0, 0, 0, "connection", "1.0.0", "Returns the server's liveliness response."),
    ("echo", 2, ("fast",), 0, 0, 0, "connection", "1.0.0", "Returns the given string."),
    ("hello", -1, _CONN, 0, 0, 0, "connection", "6.0.0", "Handshakes with the server: protocol version, authentication, name."),
    ("auth", -2, _CONN, 0, 0, 0, "connection", "1.0.0", "Authenticates the connection."),
    ("quit", -1, _CONN, 0, 0, 0, "connection", "1.0.0", "Closes the connection."),
    ("reset", 1, _CONN, 0, 0, 0, "connection", "6.2.0", "Resets the connection."),
    ("select", 2, ("loading", "stale", "fast"), 0, 0, 0, "connection", "1.0.0", "Changes the selected database (only 0 exists)."),
    ("client", -2, (), 0, 0, 0, "connection", "2.4.0", "A container for client connection commands."),
    ("info", -1, ("loading", "stale"), 0, 0, 0, "server", "1.0.0", "Returns information and statistics about the server and the cluster."),
    ("time", 1, ("loading", "stale", "fast"), 0, 0, 0, "server", "2.6.0", "Returns the server time."),
    ("config", -2, (), 0, 0, 0, "server", "2.0.0", "A container for server configuration commands."),
    ("command", -1, ("loading", "stale"), 0, 0, 0, "server", "2.8.13", "Returns detailed information about all commands."),
    ("multi", 1, _TX, 0, 0, 0, "transactions", "1.2.0", "Starts a transaction."),
    ("exec", 1, ("noscript", "loading", "stale", "skip_slowlog"), 0, 0, 0, "transactions", "1.2.0", "Executes all commands in a transaction, as one log entry."),
    ("discard", 1, _TX, 0, 0, 0, "transactions", "2.0.0", "Discards a transaction."),
    ("watch", -2, _TX, 1, -1, 1, "transactions", "2.2.0", "Monitors changes to keys to determine the execution of a transaction."),
    ("unwatch", 1, _TX, 0, 0, 0, "transactions", "2.2.0", "Forgets about watched keys of a transaction."),
]  # fmt: skip
_BACKEND_ROWS: list[tuple] = [
    ("dbsize", 1, ("readonly", "fast"), 0, 0, 0, "server", "1.0.0", "Returns the number of keys."),
    ("flushdb", -1, ("write",), 0, 0, 0, "server", "1.0.0", "Removes all keys."),
    ("flushall", -1, ("write",), 0, 0, 0, "server", "1.0.0", "Removes all keys."),
    ("del", -2, ("write",), 1, -1, 1, "generic", "1.0.0", "Deletes one or more keys."),
    ("unlink", -2, ("write", "fast"), 1, -1, 1, "generic", "4.0.0", "Deletes one or more keys."),
    ("exists", -2, ("readonly", "fast"), 1, -1, 1, "generic", "1.0.0", "Determines whether one or more keys exist."),
    ("type", 2, ("readonly", "fast"), 1, 1, 1, "generic", "1.0.0", "Determines the type of value stored at a key."),
    ("keys", 2, ("readonly",), 0, 0, 0, "generic", "1.0.0", "Returns all key names that match a pattern."),
    ("scan", -2, ("readonly",), 0, 0, 0, "generic", "2.8.0", "Iterates over the key names."),
    ("rename", 3, ("write",), 1, 2, 1, "generic", "1.0.0", "Renames a key and overwrites the destination."),
    ("renamenx", 3, ("write", "fast"), 1, 2, 1, "generic", "1.0.0", "Renames a key only when the target key name doesn't exist."),
    ("expire", -3, ("write", "fast"), 1, 1, 1, "generic", "1.0.0", "Sets the expiration time of a key in seconds."),
    ("pexpire", -3, ("write", "fast"), 1, 1, 1, "generic", "2.6.0", "Sets the expiration time of a key in milliseconds."),
    ("expireat", -3, ("write", "fast"), 1, 1, 1, "generic", "1.2.0", "Sets the expiration time of a key to a Unix timestamp."),
    ("pexpireat", -3, ("write", "fast"), 1, 1, 1, "generic", "2.6.0", "Sets the expiration time of a key to a Unix milliseconds timestamp."),
    ("ttl", 2, ("readonly", "fast"), 1, 1, 1, "generic", "1.0.0", "Returns the expiration time in seconds of a key."),
    ("pttl", 2, ("readonly", "fast"), 1, 1, 1, "generic", "2.6.0", "Returns the expiration time in milliseconds of a key."),
    ("expiretime", 2, ("readonly", "fast"), 1, 1, 1, "generic", "7.0.0", "Returns the expiration time of a key as a Unix timestamp."),
    ("persist", 2, ("write", "fast"), 1, 1, 1, "generic", "2.2.0", "Removes the expiration time of a key."),
    ("get", 2, ("readonly", "fast"), 1, 1, 1, "string", "1.0.0", "Returns the string value of a key."),
    ("set", -3, ("write", "denyoom"), 1, 1, 1, "string", "1.0.0", "Sets the string value of a key, ignoring its type."),
    ("setnx", 3, ("write", "denyoom", "fast"), 1, 1, 1, "string", "1.0.0", "Set the string value of a key only when the key doesn't exist."),
    ("setex", 4, ("write", "denyoom"), 1, 1, 1, "string", "2.0.0", "Sets the string value and expiration time of a key."),
    ("psetex", 4, ("write", "denyoom"), 1, 1, 1, "string", "2.6.0", "Sets the string value and expiration time in milliseconds of a key."),
    ("getset", 3, ("write", "denyoom", "fast"), 1, 1, 1, "string", "1.0.0", "Returns the previous string value of a key after setting it to a new value."),
    ("getdel", 2, ("write", "fast"), 1, 1, 1, "string", "6.2.0", "Returns the string value of a key after deleting the key."),
    ("getex", -2, ("write", "fast"), 1, 1, 1, "string", "6.2.0", "Returns the string value of a key after setting its expiration time."),
    ("mget", -2, ("readonly", "fast"), 1, -1, 1, "string", "1.0.0", "Atomically returns the string values of one or more keys."),
    ("mset", -3, ("write", "denyoom"), 1, -1, 2, "string", "1.0.1", "Atomically creates or modifies the string values of one or more keys."),
    ("msetnx", -3, ("write", "denyoom"), 1, -1, 2, "string", "1.0.1", "Atomically modifies the string values of one or more keys only when all keys don't exist."),
    ("append", 3, ("write", "denyoom", "fast"), 1, 1, 1, "string", "2.0.0", "Appends a string to the value of a key. Creates the key if it doesn't exist."),
    ("strlen", 2, ("readonly", "fast"), 1, 1, 1, "string", "2.2.0", "Returns the length of a string value."),
    ("getrange", 4, ("readonly",), 1, 1, 1, "string", "2.4.0", "Returns a substring of the string stored at a key."),
    ("setrange", 4, ("write", "denyoom"), 1, 1, 1, "string", "2.2.0", "Overwrites a part of a string value with another by an offset."),
    ("incr", 2, ("write", "denyoom", "fast"), 1, 1, 1, "string", "1.0.0", "Increments the integer value of a key by one."),
    ("incrby", 3, ("write", "denyoom", "fast"), 1, 1, 1, "string", "1.0.0", "Increments the integer value of a key by a number."),
    ("decr", 2, ("write", "denyoom", "fast"), 1, 1, 1, "string", "1.0.0", "Decrements the integer value of a key by one."),
    ("decrby", 3, ("write", "denyoom", "fast"), 1, 1, 1, "string", "1.0.0", "Decrements a number from the integer value of a key."),
    ("incrbyfloat", 3, ("write", "denyoom", "fast"), 1, 1, 1, "string", "2.6.0", "Increment the floating point value of a key by a number."),
    ("hset", -4, ("write", "denyoom", "fast"), 1, 1, 1, "hash", "2.0.0", "Creates or modifies the value of a field in a hash."),
    ("hmset", -4, ("write", "denyoom", "fast"), 1, 1, 1, "hash", "2.0.0", "Sets the values of multiple fields."),
    ("hsetnx", 4, ("write", "denyoom", "fast"), 1, 1, 1, "hash", "2.0.0", "Sets the value of a field in a hash only when the field doesn't exist."),
    ("hget", 3, ("readonly", "fast"), 1, 1, 1, "hash", "2.0.0", "Returns the value of a field in a hash."),
    ("hmget", -3, ("readonly", "fast"), 1, 1, 1, "hash", "2.0.0", "Returns the values of all fields in a hash."),
    ("hdel", -3, ("write", "fast"), 1, 1, 1, "hash", "2.0.0", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain."),
    ("hexists", 3, ("readonly", "fast"), 1, 1, 1, "hash", "2.0.0", "Determines whether a field exists in a hash."),
    ("hlen", 2, ("readonly", "fast"), 1, 1, 1, "hash", "2.0.0", "Returns the number of fields in a hash."),
    ("hgetall", 2, ("readonly",), 1, 1, 1, "hash", "2.0.0", "Returns all fields and values in a hash."),
    ("hkeys", 2, ("readonly",), 1, 1, 1, "hash", "2.0.0", "Returns all fields in a hash."),
    ("hvals", 2, ("readonly",), 1, 1, 1, "hash", "2.0.0", "Returns all values in a hash."),
    ("hstrlen", 3, ("readonly", "fast"), 1, 1, 1, "hash", "3.2.0", "Returns the length of the value of a field."),
    ("hincrby", 4, ("write", "denyoom", "fast"), 1, 1, 1, "hash", "2.0.0", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist."),
    ("hincrbyfloat", 4, ("write", "denyoom", "fast"), 1, 1, 1, "hash", "2.6.0", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist."),
    ("hrandfield", -2, ("readonly",), 1, 1, 1, "hash", "6.2.0", "Returns one or more random fields from a hash."),
    ("hscan", -3, ("readonly",), 1, 1, 1, "hash", "2.8.0", "Iterates over fields and values of a hash."),
    ("sadd", -3, ("write", "denyoom", "fast"), 1, 1, 1, "set", "1.0.0", "Adds one or more members to a set. Creates the key if it doesn't exist."),
    ("srem", -3, ("write", "fast"), 1, 1, 1, "set", "1.0.0", "Removes one or more members from a set. Deletes the set if the last member was removed."),
    ("smembers", 2, ("readonly",), 1, 1, 1, "set", "1.0.0", "Returns all members of a set."),
    ("sismember", 3, ("readonly", "fast"), 1, 1, 1, "set", "1.0.0", "Determines whether a member belongs to a set."),
    ("smismember", -3, ("readonly", "fast"), 1, 1, 1, "set", "6.2.0", "Determines whether multiple members belong to a set."),
    ("scard", 2, ("readonly", "fast"), 1, 1, 1, "set", "1.0.0", "Returns the number of members in a set."),
    ("spop", -2, ("write", "fast"), 1, 1, 1, "set", "1.0.0", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped."),
    ("srandmember", -2, ("readonly",), 1, 1, 1, "set", "1.0.0", "Get one or multiple random members from a set."),
    ("smove", 4, ("write", "fast"), 1, 2, 1, "set", "1.0.0", "Moves a member from one set to another."),
    ("sinter", -2, ("readonly",), 1, -1, 1, "set", "1.0.0", "Returns the intersect of multiple sets."),
    ("sintercard", -3, ("readonly", "movablekeys"), 0, 0, 0, "set", "7.0.0", "Returns the number of members of the intersect of multiple sets."),
    ("sunion", -2, ("readonly",), 1, -1, 1, "set", "1.0.0", "Returns the union of multiple sets."),
    ("sdiff", -2, ("readonly",), 1, -1, 1, "set", "1.0.0", "Returns the difference of multiple sets."),
    ("sinterstore", -3, ("write", "denyoom"), 1, -1, 1, "set", "1.0.0", "Stores the intersect of multiple sets in a key."),
    ("sunionstore", -3, ("write", "denyoom"), 1, -1, 1, "set", "1.0.0", "Stores the union of multiple sets in a key."),
    ("sdiffstore", -3, ("write", "denyoom"), 1, -1, 1, "set", "1.0.0", "Stores the difference of multiple sets in a key."),
    ("sscan", -3, ("readonly",), 1, 1, 1, "set", "2.8.0", "Iterates over members of a set."),
]  # fmt: skip
# container, sub, arity, flags, since, summary
_SUB_ROWS: list[tuple] = [
    ("client", "id", 2, ("noscript", "loading", "stale"), "5.0.0", "Returns the unique client ID of the connection."),
    ("client", "setname", 3, ("noscript", "loading", "stale"), "2.6.9", "Sets the connection name."),
    ("client", "getname", 2, ("noscript", "loading", "stale"), "2.6.9", "Returns the name of the connection."),
    ("client", "setinfo", 4, ("noscript", "loading", "stale"), "7.2.0", "Sets information specific to the client or connection."),
    ("client", "list", -2, _ADMIN, "2.4.0", "Lists open connections."),
    ("client", "info", 2, ("noscript", "loading", "stale"), "6.2.0", "Returns information about the connection."),
    ("config", "get", -3, _ADMIN, "2.0.0", "Returns the effective values of configuration parameters."),
    ("config", "set", -4, _ADMIN, "2.0.0", "Sets configuration parameters (none can be changed at run time)."),
    ("config", "resetstat", 2, _ADMIN, "2.0.0", "Resets the server's statistics."),
    ("command", "count", 2, ("loading", "stale"), "2.8.13", "Returns a count of commands."),
    ("command", "docs", -2, ("loading", "stale"), "7.0.0", "Returns documentary information about one, multiple or all commands."),
    ("command", "info", -2, ("loading", "stale"), "2.8.13", "Returns information about one, multiple or all commands."),
    ("command", "list", -2, ("loading", "stale"), "7.0.0", "Returns a list of command names."),
]  # fmt: skip


def _build() -> dict[str, Command]:
    """The table keyed by lower-case name, subcommands inside their containers."""
    subs: dict[str, dict[str, Command]] = {}
    for container, sub, arity, flags, since, summary in _SUB_ROWS:
        group = "connection" if container == "client" else "server"
        subs.setdefault(container, {})[sub] = Command(
            f"{container}|{sub}", arity, flags, 0, 0, 0, group, since, summary, True
        )
    table: dict[str, Command] = {}
    for rows, local in ((_LOCAL_ROWS, True), (_BACKEND_ROWS, False)):
        for name, arity, flags, first, last, step, group, since, summary in rows:
            table[name] = Command(name, arity, flags, first, last, step, group, since, summary,
                                  local, subs.get(name, {}))  # fmt: skip
    return table


#: Every command by lower-case name.
COMMANDS: dict[str, Command] = _build()
