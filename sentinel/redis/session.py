"""The state the front door keeps: per server (`FrontDoor`) and per connection (`Client`).

Kept apart from the code that drives a connection (`connection`) and the command handlers
(`frontdoor`) so that both read the same plain records and neither imports the other.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field
from typing import Any

from sentinel.redis import limits
from sentinel.redis.backend import Backend, Caller, Version

#: The Redis version whose protocol and commands the front door follows (INFO, HELLO).
REDIS_COMPAT_VERSION = "7.2.0"
DEFAULT_PORT = 7379


class ProtectedModeError(ValueError):
    """Refusing to listen beyond loopback without a password (Redis's protected mode)."""


@dataclass(frozen=True)
class Options:
    """How the front door listens and what it allows."""

    bind: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    password: str | None = None
    maxclients: int = limits.MAXCLIENTS_DEFAULT
    output_bytes_max: int = limits.OUTPUT_BYTES_MAX

    def check(self) -> None:
        """ProtectedModeError when bound beyond loopback without a password; ValueError for
        a nonsensical limit."""
        if not is_loopback(self.bind) and not self.password:
            raise ProtectedModeError(
                f"refusing to listen on {self.bind} without a password: the Redis port would be"
                " open to the network with no AUTH (protected mode). Give a password, or bind"
                " 127.0.0.1."
            )
        if self.maxclients < 1 or self.output_bytes_max < 1:
            raise ValueError("maxclients and output_bytes_max must be at least 1")


def is_loopback(host: str) -> bool:
    """`host` is a loopback address or `localhost`."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Client:
    """One connection's state: identity, protocol, authentication, transaction."""

    id: int
    addr: str
    laddr: str
    authenticated: bool
    proto: int = 2
    name: str = ""
    lib_name: str = ""
    lib_ver: str = ""
    created_s: float = field(default_factory=time.monotonic)
    last_command_s: float = field(default_factory=time.monotonic)
    last_command: str = "NULL"
    #: Commands queued since MULTI; None outside a transaction.
    multi: list[list[bytes]] | None = None
    #: A command queued since MULTI was refused: EXEC must abort.
    multi_failed: bool = False
    watched: dict[bytes, Version] = field(default_factory=dict)
    #: Set by QUIT: close once every reply before it is written.
    quitting: bool = False

    _caller: Caller | None = field(default=None, repr=False, compare=False)

    @property
    def caller(self) -> Caller:
        """This connection as the backend sees it (one object while id and name hold)."""
        caller = self._caller
        if caller is None or caller.client_id != self.id or caller.name != self.name:
            caller = self._caller = Caller(self.id, self.name)
        return caller

    def reset(self, password_set: bool) -> None:
        """RESET: back to a fresh connection's state (keeping id and addresses)."""
        self.proto = 2
        self.name = ""
        self.authenticated = not password_set
        self.multi = None
        self.multi_failed = False
        self.watched = {}


@dataclass
class FrontDoor:
    """The server-wide state every connection shares."""

    backend: Backend
    options: Options
    clients: dict[int, Any] = field(default_factory=dict)  # id -> Connection
    next_client_id: int = 1
    started_s: float = field(default_factory=time.monotonic)
    port: int = 0  # the port actually bound
    connections_total: int = 0
    commands_total: int = 0
    rejected_connections: int = 0

    def new_client_id(self) -> int:
        """A fresh id for CLIENT ID, increasing from 1 as Redis's."""
        client_id = self.next_client_id
        self.next_client_id += 1
        return client_id
