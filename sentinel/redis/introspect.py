"""What the server says about itself: COMMAND (from the command table), CONFIG, INFO.

CONFIG GET answers only parameters whose value is true of Sentinel (`save` is empty because
there are no RDB save points; `appendonly yes` and `appendfsync always` because every write is
fsynced on a majority before it is acknowledged). None of them can be changed at run time:
CONFIG SET refuses each with Redis's error for an immutable or unknown parameter.
"""

from __future__ import annotations

import logging
from typing import Any

from sentinel.kvraft.keyspace.glob import glob_match
from sentinel.redis import limits
from sentinel.redis.commands import COMMANDS, Command
from sentinel.redis.replies import OK, ReplySet, Simple, Verbatim, error
from sentinel.redis.session import Client, FrontDoor

log = logging.getLogger(__name__)

_INFO_DEFAULT = ("server", "clients", "stats", "keyspace", "raft")


#: Redis's ACL category of a command group, where the names differ.
_CATEGORY_OF_GROUP = {
    "generic": "keyspace",
    "transactions": "transaction",
    "sorted_set": "sortedset",
}


def command_info(cmd: Command) -> list[Any]:
    """One COMMAND INFO entry (Redis 7's ten fields)."""
    categories = ["@write" if cmd.is_write else "@read" if "readonly" in cmd.flags else "",
                  "@fast" if "fast" in cmd.flags else "@slow",
                  "@admin" if "admin" in cmd.flags else "",
                  "@" + _CATEGORY_OF_GROUP.get(cmd.group, cmd.group)]  # fmt: skip
    return [cmd.name.encode(), cmd.arity, ReplySet(Simple(f) for f in cmd.flags),
            cmd.first_key, cmd.last_key, cmd.step,
            ReplySet(Simple(c) for c in categories if c), [], [],
            [command_info(sub) for sub in cmd.subcommands.values()]]  # fmt: skip


def command_docs(cmd: Command) -> dict[str, Any]:
    """One COMMAND DOCS entry: summary, since, group (and the subcommands')."""
    doc: dict[str, Any] = {"summary": cmd.summary, "since": cmd.since, "group": cmd.group}
    if cmd.subcommands:
        doc["subcommands"] = {s.name: command_docs(s) for s in cmd.subcommands.values()}
    return doc


def _lookup(raw: bytes) -> Command | None:
    """A command or `container|sub` by name."""
    name, _, sub = raw.decode("latin-1").lower().partition("|")
    cmd = COMMANDS.get(name)
    return cmd.subcommands.get(sub) if cmd is not None and sub else cmd


def command(args: list[bytes]) -> Any:
    """COMMAND, COMMAND COUNT | DOCS [name ...] | INFO [name ...] | LIST"""
    if len(args) == 1:
        return [command_info(c) for c in COMMANDS.values()]
    sub = args[1].lower()
    if sub == b"count":
        return len(COMMANDS)
    if sub == b"list":
        return [name.encode() for name in COMMANDS]
    wanted = [_lookup(raw) for raw in args[2:]] if len(args) > 2 else list(COMMANDS.values())
    if sub == b"info":
        return [command_info(c) if c is not None else None for c in wanted]
    return {c.name: command_docs(c) for c in wanted if c is not None}  # DOCS


def config_values(door: FrontDoor) -> dict[str, str]:
    """The parameters CONFIG GET knows, with their true values."""
    out_max = door.options.output_bytes_max
    return {
        "save": "", "appendonly": "yes", "appendfsync": "always", "maxmemory": "0",
        "maxmemory-policy": "noeviction", "databases": "1",
        "maxclients": str(door.options.maxclients), "port": str(door.port),
        "bind": door.options.bind, "protected-mode": "yes", "timeout": "0",
        "proto-max-bulk-len": str(limits.BULK_BYTES_MAX),
        "client-query-buffer-limit": str(limits.QUERY_BYTES_MAX),
        "client-output-buffer-limit": f"normal {out_max} {out_max} 0",
    }  # fmt: skip


def config(door: FrontDoor, args: list[bytes]) -> Any:
    """CONFIG GET pattern [pattern ...] | SET parameter value ... | RESETSTAT"""
    sub = args[1].lower()
    values = config_values(door)
    if sub == b"get":
        patterns = [p.lower() for p in args[2:]]
        return {name: value for name, value in values.items()
                if any(glob_match(p, name.encode()) for p in patterns)}  # fmt: skip
    if sub == b"resetstat":
        door.commands_total = door.connections_total = door.rejected_connections = 0
        return OK
    if len(args) % 2:
        return error("wrong number of arguments for 'config|set' command")
    name = args[2].decode("latin-1").lower()
    if name in values:
        return error(f"CONFIG SET failed (possibly related to argument '{name}') - "
                     "can't set immutable config")  # fmt: skip
    return error(f"Unknown option or number of arguments for CONFIG SET - '{name}'")


async def info(door: FrontDoor, client: Client, args: list[bytes], server: list[str]) -> Any:
    """INFO [section ...]: the text of the asked sections (default: all of ours)."""
    asked = {raw.decode("latin-1").lower() for raw in args[1:]} or {"default"}
    if asked & {"default", "all", "everything"}:
        asked = set(_INFO_DEFAULT)
    lines: list[str] = []
    if "server" in asked:
        lines += [*server, ""]
    if "clients" in asked:
        lines += ["# Clients", f"connected_clients:{len(door.clients)}",
                  f"maxclients:{door.options.maxclients}", "blocked_clients:0", ""]  # fmt: skip
    if "stats" in asked:
        lines += ["# Stats", f"total_connections_received:{door.connections_total}",
                  f"total_commands_processed:{door.commands_total}",
                  f"rejected_connections:{door.rejected_connections}", ""]  # fmt: skip
    if asked & {"keyspace", "raft"}:
        status = await door.backend.status()
        if "raft" in asked:
            lines += ["# Raft", f"role:{status.role}", f"term:{status.term}",
                      f"leader:{status.leader}", f"commit_index:{status.commit_index}",
                      f"applied_index:{status.applied_index}", ""]  # fmt: skip
        if "keyspace" in asked:
            lines.append("# Keyspace")
            if status.keys:
                lines.append(f"db0:keys={status.keys},expires={status.expires},avg_ttl=0")
            lines.append("")
    text = "\r\n".join(lines)
    return Verbatim(text) if client.proto == 3 else text.encode()
