"""The production kv server (`KVServerApp`) on a simulated node; its RPCs on the virtual net.

Each node of a kv run hosts a real `KVServerApp` as its driver's application, with a
`SimContext` (host.py) as its `NodeContext`: proposals, ReadIndex reads (leased or not) and
compactions go through the node's `NodeDriver`, and reply deadlines run on virtual time.
Clients (kv.py) reach the server's "KVServer" RPC service over the `VirtualNetwork`: a
request is a delivery with a request id carrying an `RpcCall`; `serve_rpc` looks the method
up in the node's `RpcServer` and sends the reply (at once, or when its `Deferred` resolves)
back with the same request id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sentinel.kvraft.logclock import LogClock
from sentinel.kvraft.server import KVServerApp
from sentinel.netsim.rpc import Deferred, RpcCall, RpcReply
from sentinel.netsim.vnet import Delivery
from sentinel.raft import Application, Config
from sentinel.shard.groupserver import ShardGroupApp
from sentinel.wire import decode, encode

if TYPE_CHECKING:
    from sentinel.sim.cluster import SimCluster
    from sentinel.sim.host import SimContext

#: Deferred replies are answered RETRY after this long (the server's `reply_timeout_ms`).
REPLY_TIMEOUT_MS = 100
TICK_S = 0.01


def lease_s(config: Config) -> float:
    """The read lease of a simulated leader: as `NodeSpec.lease_ms`, 80% of the shortest
    time a follower that heard from it refuses to vote for another."""
    return 0.8 * (config.election_ticks - 1) * TICK_S


#: The wall-clock time (ms) at virtual time 0: any fixed value keeps runs reproducible.
SIM_EPOCH_MS = 1_700_000_000_000


def virtual_wall_ms(ctx: SimContext) -> int:
    """The wall clock of a simulated node, in ms: virtual time after SIM_EPOCH_MS."""
    return SIM_EPOCH_MS + int(ctx.clock() * 1000)


def attach(ctx: SimContext, app: Application) -> None:
    """Put a started kv server or shard group server (when the application is one) on
    virtual time, and count the gets of a kv server's read points."""
    if isinstance(app, ShardGroupApp):
        app.wall_ms = lambda: virtual_wall_ms(ctx)
    if not isinstance(app, KVServerApp):
        return
    app.monotonic = ctx.clock
    # Log time too comes from the virtual clock, so a seed replays to the same stamps.
    app.clock = LogClock(app.sm, wall=lambda: virtual_wall_ms(ctx))
    ctx.gets_of = lambda context: len(app.reads.get(context, ()))


def serve_rpc(cluster: SimCluster, delivery: Delivery) -> None:
    """Run one client's RPC request on its node; reply over the virtual network."""
    node = cluster.nodes[delivery.dst]
    if not node.active or node.ctx is None:
        return  # a paused or down node answers nothing: the client times out
    call = decode(delivery.payload, RpcCall)
    assert isinstance(call, RpcCall)
    handler = node.ctx.rpc.handler(call.method)
    assert handler is not None, f"unknown method {call.method}"
    result = handler(call.args)
    incarnation = node.incarnation

    def reply(value: Any) -> None:
        if node.incarnation == incarnation and node.up:
            cluster.net.send(
                cluster.now_us, node.id, delivery.src, encode(RpcReply(value)), True,
                delivery.request_id,
            )  # fmt: skip

    if isinstance(result, Deferred):
        result.on_resolve(reply)
    else:
        reply(result)
    cluster.process(node)
