"""The commands the front door answers itself: connection, server introspection, COMMAND.

Each handler takes the shared `FrontDoor`, the calling `Client` and the request (name
included, arity already checked) and returns a reply value (`sentinel.redis.replies`), or an
awaitable of one when it needs the backend (INFO). Transactions (MULTI/EXEC/WATCH...) are in
`connection`, which owns the pipeline they interact with.
"""

from __future__ import annotations

import hmac
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from sentinel.redis import introspect, limits
from sentinel.redis.replies import OK, PONG, Error, Simple, error
from sentinel.redis.session import REDIS_COMPAT_VERSION, Client, FrontDoor

Handler = Callable[[FrontDoor, Client, list[bytes]], Any]

WRONGPASS = Error("WRONGPASS invalid username-password pair or user is disabled.")
NOAUTH = Error("NOAUTH Authentication required.")
SYNTAX = error("syntax error")
NOT_AN_INTEGER = error("value is not an integer or out of range")
_NO_PASSWORD = error(
    "AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?"
)
_HELLO_NOAUTH = Error(
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
    "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and "
    "select the RESP protocol version at the same time"
)


def parse_int(raw: bytes) -> int | None:
    """A strict decimal integer in the signed 64-bit range, as Redis's string2ll; else None."""
    text = raw[1:] if raw[:1] == b"-" else raw
    if not text.isdigit() or len(raw) > 20 or (len(text) > 1 and text[:1] == b"0"):
        return None
    value = int(raw)
    return value if -(2**63) <= value < 2**63 else None


def check_password(door: FrontDoor, user: bytes, password: bytes) -> bool:
    """`user`/`password` are the default user and its password (any, if none is set)."""
    if user.lower() != b"default":
        return False
    expected = door.options.password
    return expected is None or hmac.compare_digest(password, expected.encode("utf-8"))


def valid_name(raw: bytes) -> bool:
    """A client or library name: printable ASCII without spaces, bounded."""
    return len(raw) <= limits.NAME_BYTES_MAX and all(33 <= b <= 126 for b in raw)


def cmd_ping(door: FrontDoor, client: Client, args: list[bytes]) -> Any:
    """PING [message]"""
    if len(args) > 2:
        return error("wrong number of arguments for 'ping' command")
    return PONG if len(args) == 1 else args[1]


def cmd_echo(door: FrontDoor, client: Client, args: list[bytes]) -> Any:
    """ECHO message"""
    return args[1]


def cmd_auth(door: FrontDoor, client: Client, args: list[bytes]) -> Any:
    """AUTH [username] password"""
    if len(args) > 3:
        return SYNTAX
    if len(args) == 2 and door.options.password is None:
        return _NO_PASSWORD
    user, password = (b"default", args[1]) if len(args) == 2 else (args[1], args[2])
    if not check_password(door, user, password):
        return WRONGPASS
    client.authenticated = True
    return OK


def cmd_hello(door: FrontDoor, client: Client, args: list[bytes]) -> Any:
    """HELLO [protover [AUTH username password] [SETNAME clientname]]"""
    proto = client.proto
    if len(args) > 1:
        version = parse_int(args[1])
        if version is None:
            return error("Protocol version is not an integer or out of range")
        if version not in (2, 3):
            return Error("NOPROTO unsupported protocol version")
        proto = version
    auth: tuple[bytes, bytes] | None = None
    name: bytes | None = None
    pos = 2
    while pos < len(args):
        option = args[pos].lower()
        if option == b"auth" and pos + 2 < len(args):
            auth = (args[pos + 1], args[pos + 2])
            pos += 3
        elif option == b"setname" and pos + 1 < len(args):
            name = args[pos + 1]
            pos += 2
        else:
            return error(f"Syntax error in HELLO option '{args[pos].decode('latin-1')}'")
    if auth is not None and not check_password(door, *auth):
        return WRONGPASS
    if auth is None and not client.authenticated:
        return _HELLO_NOAUTH
    if name is not None and not valid_name(name):
        return error("Client names cannot contain spaces, newlines or special characters.")
    client.authenticated = True
    if name is not None:
        client.name = name.decode("ascii")
    client.proto = proto
    return {"server": "redis", "version": REDIS_COMPAT_VERSION, "proto": proto,
            "id": client.id, "mode": "standalone", "role": "master", "modules": []}  # fmt: skip


def cmd_quit(door: FrontDoor, client: Client, args: list[bytes]) -> Any:
    """QUIT: +OK, then the connection closes."""
    client.quitting = True
    return OK


def cmd_reset(door: FrontDoor, client: Client, args: list[bytes]) -> Any:
    """RESET: leave any transaction, forget watches, name and protocol, log out."""
    client.reset(door.options.password is not None)
    return Simple("RESET")


def cmd_select(door: FrontDoor, client: Client, args: list[bytes]) -> Any:
    """SELECT index: only database 0 exists."""
    index = parse_int(args[1])
    if index is None:
        return NOT_AN_INTEGER
    return OK if index == 0 else error("DB index is out of range")


def cmd_time(door: FrontDoor, client: Client, args: list[bytes]) -> Any:
    """TIME: [seconds, microseconds] of this process's clock."""
    now_us = time.time_ns() // 1000
    return [str(now_us // 1_000_000).encode(), str(now_us % 1_000_000).encode()]


def client_line(door: FrontDoor, client: Client) -> str:
    """One CLIENT LIST line (the fields Redis prints that mean something here)."""
    now = time.monotonic()
    conn = door.clients.get(client.id)
    omem = conn.output_bytes() if conn is not None else 0
    multi = -1 if client.multi is None else len(client.multi)
    flags = "x" if client.multi is not None else "N"
    return (f"id={client.id} addr={client.addr} laddr={client.laddr} name={client.name} "
            f"age={int(now - client.created_s)} idle={int(now - client.last_command_s)} "
            f"flags={flags} db=0 sub=0 psub=0 ssub=0 multi={multi} watch="
            f"{len(client.watched)} omem={omem} cmd={client.last_command} user=default "
            f"resp={client.proto} lib-name={client.lib_name} "
            f"lib-ver={client.lib_ver}\n")  # fmt: skip


def cmd_client(door: FrontDoor, client: Client, args: list[bytes]) -> Any:
    """CLIENT ID | SETNAME | GETNAME | SETINFO | LIST | INFO (dispatched by subcommand)."""
    sub = args[1].lower()
    if sub == b"id":
        return client.id
    if sub == b"getname":
        return client.name.encode() if client.name else None
    if sub == b"setname":
        if not valid_name(args[2]):
            return error("Client names cannot contain spaces, newlines or special characters.")
        client.name = args[2].decode("ascii")
        return OK
    if sub == b"setinfo":
        attr = args[2].lower()
        if attr not in (b"lib-name", b"lib-ver"):
            return error(f"Unrecognized option '{args[2].decode('latin-1')}'")
        if not valid_name(args[3]):
            return error(f"{attr.decode()} cannot contain spaces, newlines or special characters.")
        setattr(client, "lib_name" if attr == b"lib-name" else "lib_ver", args[3].decode())
        return OK
    if sub == b"info":
        return client_line(door, client)
    return _client_list(door, args[2:])


def _client_list(door: FrontDoor, options: list[bytes]) -> Any:
    """CLIENT LIST [TYPE normal] [ID id ...]"""
    wanted: set[int] | None = None
    if options:
        head = options[0].lower()
        if head == b"type" and len(options) == 2 and options[1].lower() == b"normal":
            pass
        elif head == b"id" and len(options) > 1:
            ids = [parse_int(raw) for raw in options[1:]]
            if any(i is None or i <= 0 for i in ids):
                return error("Invalid client ID")
            wanted = {i for i in ids if i is not None}
        else:
            return SYNTAX
    conns = [c for c in door.clients.values() if wanted is None or c.client.id in wanted]
    return "".join(client_line(door, c.client) for c in conns)


def info_server(door: FrontDoor) -> list[str]:
    """INFO's server section."""
    uptime_s = int(time.monotonic() - door.started_s)
    return ["# Server", f"redis_version:{REDIS_COMPAT_VERSION}", "redis_mode:standalone",
            "server_name:sentinel", f"os:{sys.platform}", "arch_bits:64",
            f"process_id:{os.getpid()}", f"tcp_port:{door.port}",
            f"uptime_in_seconds:{uptime_s}", f"uptime_in_days:{uptime_s // 86400}"]  # fmt: skip


def cmd_command(door: FrontDoor, client: Client, args: list[bytes]) -> Any:
    """COMMAND [COUNT | DOCS | INFO | LIST]"""
    return introspect.command(args)


def cmd_config(door: FrontDoor, client: Client, args: list[bytes]) -> Any:
    """CONFIG GET | SET | RESETSTAT"""
    return introspect.config(door, args)


def cmd_info(door: FrontDoor, client: Client, args: list[bytes]) -> Any:
    """INFO [section ...]: an awaitable reply (the raft and keyspace sections ask the backend)."""
    return introspect.info(door, client, args, info_server(door))


#: The local commands' handlers by name (transactions are handled by the connection).
HANDLERS: dict[str, Handler] = {
    "ping": cmd_ping, "echo": cmd_echo, "auth": cmd_auth, "hello": cmd_hello,
    "quit": cmd_quit, "reset": cmd_reset, "select": cmd_select, "time": cmd_time,
    "client": cmd_client, "command": cmd_command, "config": cmd_config, "info": cmd_info,
}  # fmt: skip
