"""The Redis front door's TCP server: listen, accept within `maxclients`, serve connections.

    server = RedisServer(backend, Options(port=7379))
    await server.start()      # ProtectedModeError if bound beyond loopback without a password
    ...
    await server.close()

It binds 127.0.0.1 unless told otherwise, and refuses to listen on any other address without
a password (Redis's protected mode, made a hard rule: the port would otherwise let anyone on
the network write the store). Everything a connection does is in `connection`.
"""

from __future__ import annotations

import asyncio
import logging

from sentinel.redis.backend import Backend
from sentinel.redis.connection import Connection
from sentinel.redis.session import FrontDoor, Options

log = logging.getLogger(__name__)


class RedisServer:
    """A RESP server in front of a `Backend`."""

    def __init__(self, backend: Backend, options: Options | None = None) -> None:
        self.options = options or Options()
        self.door = FrontDoor(backend, self.options)
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Bind and start accepting (port 0 picks a free port; see `address`)."""
        self.options.check()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Connection(self.door), self.options.bind, self.options.port
        )
        self.door.port = self._server.sockets[0].getsockname()[1]
        log.info("redis front door listening on %s:%d", self.options.bind, self.door.port)

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) actually bound."""
        return self.options.bind, self.door.port

    @property
    def connections(self) -> int:
        """Clients connected now."""
        return len(self.door.clients)

    @property
    def commands_total(self) -> int:
        """Commands started since the server began (for a commands/s rate)."""
        return self.door.commands_total

    async def close(self) -> None:
        """Stop accepting and drop every connection."""
        if self._server is None:
            return
        self._server.close()
        for conn in list(self.door.clients.values()):
            if conn.transport is not None:
                conn.transport.abort()
        await self._server.wait_closed()
        self._server = None
