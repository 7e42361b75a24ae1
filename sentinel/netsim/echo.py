"""A tiny endpoint process for tests, the demo and the benchmark: an echo RPC service.

`echo_node_main(conn, endpoint_id)` runs the same single-threaded loop shape a raft node
uses: poll the endpoint until the next tick, dispatch RPCs, post a status blob each tick.
"""

from __future__ import annotations

import os
from multiprocessing.connection import Connection

from sentinel.netsim.endpoint import Endpoint, Failure, Message, Reply
from sentinel.netsim.rpc import Deferred, RpcCall, RpcReply, RpcServer
from sentinel.wire import encode, message

TICK_S = 0.05
RELAYS_MAX = 1000


@message
class EchoStatus:
    """What an echo node posts to the router each tick."""

    endpoint_id: int
    pid: int
    handled: int
    pending_deferred: int
    bad_frames: int


class Echo:
    """The echo service: `Echo.echo` answers at once, `Echo.later` one tick later,
    `Echo.relay((dst, value))` asks endpoint `dst` to echo `value` and answers with its reply
    (or "unreachable"): node-to-node traffic and a deferred reply in one."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.handled = 0
        self.deferred: list[tuple[Deferred, object]] = []
        self.relayed: dict[int, Deferred] = {}

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

    def relay(self, args: tuple[int, object]) -> Deferred:
        """Ask `args[0]` to echo `args[1]`; answer with what it said."""
        self.handled += 1
        dst, value = args
        deferred = Deferred()
        if len(self.relayed) >= RELAYS_MAX:
            deferred.resolve("busy")
            return deferred
        request_id = self.endpoint.request(dst, RpcCall("Echo.echo", value))
        self.relayed[request_id] = deferred
        return deferred

    def _on_answer(self, item: Reply | Failure) -> None:
        """A relayed request finished."""
        deferred = self.relayed.pop(item.request_id, None)
        if deferred is not None:
            ok = isinstance(item, Reply) and isinstance(item.obj, RpcReply)
            deferred.resolve(item.obj.value if ok else "unreachable")  # type: ignore[union-attr]

    def hang(self, args: object) -> Deferred:
        """Never answer (a call that is in flight when this node dies)."""
        self.handled += 1
        return Deferred()

    def pid(self, args: object) -> int:
        """This process's pid."""
        return os.getpid()

    def _tick(self) -> None:
        """Resolve the deferred replies of the previous tick (private: not an RPC method)."""
        ready, self.deferred = self.deferred, []
        for deferred, args in ready:
            deferred.resolve(args)


def echo_node_main(conn: Connection, endpoint_id: int) -> None:
    """Serve Echo on `conn` until the router goes away. One-way messages are echoed back
    to their sender as one-way replies."""
    endpoint = Endpoint(conn, endpoint_id)
    service = Echo(endpoint)
    server = RpcServer(endpoint)
    server.add_service(service, "Echo")
    try:
        while True:
            for item in server.handle(endpoint.poll(TICK_S)):
                if isinstance(item, Message) and not item.is_reply:
                    endpoint.send(item.src, item.obj, reply=True)
                elif isinstance(item, Reply | Failure):
                    service._on_answer(item)
            service._tick()
            status = EchoStatus(
                endpoint_id, os.getpid(), service.handled, len(service.deferred),
                endpoint.bad_frames,
            )  # fmt: skip
            endpoint.post_status(encode(status))
    except (EOFError, OSError):
        return  # the router is gone: so is the network
