"""A tiny endpoint process for tests, the demo and the benchmark: an echo RPC service.

`echo_node_main(conn, endpoint_id)` runs the same single-threaded loop shape a raft node
uses: poll the endpoint until the next tick, dispatch RPCs, post a status blob each tick.
"""

from __future__ import annotations

import os
from multiprocessing.connection import Connection

from sentinel.netsim.endpoint import Endpoint, Message
from sentinel.netsim.rpc import Deferred, RpcServer
from sentinel.wire import message

TICK_S = 0.05


@message
class EchoStatus:
    """What an echo node posts to the router each tick."""

    endpoint_id: int
    pid: int
    handled: int
    pending_deferred: int


class Echo:
    """The echo service: `Echo.echo` answers at once, `Echo.later` one tick later."""

    def __init__(self) -> None:
        self.handled = 0
        self.deferred: list[tuple[Deferred, object]] = []

    def echo(self, args: object) -> object:
        """Return the arguments."""
        self.handled += 1
        return args

    def later(self, args: object) -> Deferred:
        """Return the arguments, answered on the next tick (a deferred reply)."""
        self.handled += 1
        deferred = Deferred()
        self.deferred.append((deferred, args))
        return deferred

    def pid(self, args: object) -> int:
        """This process's pid."""
        return os.getpid()

    def tick(self) -> None:
        """Resolve the deferred replies of the previous tick."""
        ready, self.deferred = self.deferred, []
        for deferred, args in ready:
            deferred.resolve(args)


def echo_node_main(conn: Connection, endpoint_id: int) -> None:
    """Serve Echo on `conn` until the router goes away. One-way messages are echoed back
    to their sender as one-way replies."""
    endpoint = Endpoint(conn, endpoint_id)
    service = Echo()
    server = RpcServer(endpoint)
    server.add_service(service, "Echo")
    try:
        while True:
            for item in server.handle(endpoint.poll(TICK_S)):
                if isinstance(item, Message) and not item.is_reply:
                    endpoint.send(item.src, item.obj, reply=True)
            service.tick()
            status = EchoStatus(endpoint_id, os.getpid(), service.handled, len(service.deferred))
            endpoint.post_status(encode_status(status))
    except (EOFError, OSError):
        return  # the router is gone: so is the network


def encode_status(status: EchoStatus) -> bytes:
    """The status blob (a wire frame) for the router to keep."""
    from sentinel.wire import encode

    return encode(status)
