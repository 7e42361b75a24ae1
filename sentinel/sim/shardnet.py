"""The traffic between the raft groups of a sharded simulation (shards.py), and its clients'.

Each raft group (the controller's, each shard group's) is a `GroupCluster`: a `SimCluster`
of its own, with its own virtual network, fault schedule and invariant checker, whose nodes
run the production servers (`ShardCtlApp`, `ShardGroupApp`) through the node driver. What
crosses groups goes through the `Router`: a node's application calls its context's
`endpoint.request(dst, RpcCall)` as in a node process (a group leader asking the controller
for the next configuration, pulling shards, telling a source to delete them), and clients
call `Router.call`. Node ids are those of `config.node_id_of`: 1-99 the controller's nodes,
100 * gid + i node i of group gid. A request enters the target group's network from its
`GATEWAY` endpoint, so that network's loss, delay and partitions (the gateway is in no
partition: it reaches both sides) and its nodes' crashes and pauses apply; the target
node's RPC service answers it (kvserve.serve_rpc, now or when its Deferred resolves) back to
the gateway. Replies, failure notices and timeouts reach the caller as events of the shared
clock at the instant they happen, after every group has run up to it, so one group's work
never runs inside another's step. A reply for a node is dropped when that node crashed,
restarted or is paused since it asked (its leader work asks again at the next poll).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sentinel.netsim.endpoint import Failure, Reply
from sentinel.netsim.rpc import RpcCall, RpcReply
from sentinel.netsim.vnet import Delivery
from sentinel.sim.cluster import SimCluster
from sentinel.sim.kv import CLIENT_ENDPOINT
from sentinel.sim.node import SimNode
from sentinel.wire import decode, encode

if TYPE_CHECKING:
    from sentinel.sim.shards import ShardSim

#: Where requests from outside a group enter its network (and where its replies go).
GATEWAY = CLIENT_ENDPOINT
#: Node ids of group gid are GROUP_IDS * gid + i (config.node_id_of).
GROUP_IDS = 100
#: Calls awaiting an answer at once, over every caller.
PENDING_MAX = 10_000
#: A node's own request (a leader's task) is forgotten after this long.
NODE_TIMEOUT_US = 200_000

ReplyCallback = Callable[[RpcReply | None], None]


class GroupCluster(SimCluster):
    """One raft group of a sharded simulation: `gid` 0 is the controller."""

    def __init__(self, router: Router, gid: int, *args: Any, **kw: Any) -> None:
        self.router = router  # before the nodes start: `start` gives each an endpoint
        self.gid = gid
        super().__init__(*args, **kw)
        self.net.add_endpoint(GATEWAY)
        self.rpc_client = lambda delivery: router.on_delivery(delivery)

    def start(self, i: int) -> None:
        """Start node i (see SimCluster.start) with an endpoint to the other groups."""
        super().start(i)
        node = self.nodes[i]
        assert node.ctx is not None
        node.ctx.endpoint = NodeEndpoint(self.router, self, node)  # type: ignore[attr-defined]


class NodeEndpoint:
    """A simulated node's `endpoint`: its requests to other groups (one incarnation's)."""

    def __init__(self, router: Router, cluster: GroupCluster, node: SimNode) -> None:
        self.router = router
        self.cluster = cluster
        self.node = node
        self.incarnation = node.incarnation

    def request(self, dst: int, call: RpcCall) -> int:
        """Send `call` to node `dst` of another group; the answer (a `Reply` with the
        `RpcReply`, or a `Failure`) comes to the application's `on_message`."""
        request_id = 0

        def answer(reply: RpcReply | None) -> None:
            node = self.node
            if node.incarnation != self.incarnation or not node.active or node.app is None:
                return
            if reply is None:
                node.app.on_message(dst, Failure(dst, request_id))
            else:
                node.app.on_message(dst, Reply(dst, request_id, reply))
            self.cluster.process(node)

        request_id = self.router.call(dst, call.method, call.args, NODE_TIMEOUT_US, answer)
        return request_id


class Router:
    """Calls into the groups' networks by node id; answers as events (module docstring)."""

    def __init__(self, sim: ShardSim) -> None:
        self.sim = sim
        self.clusters: dict[int, GroupCluster] = {}
        self._pending: dict[int, ReplyCallback] = {}
        self._ids = itertools.count(1)

    def cluster_of(self, node_id: int) -> tuple[GroupCluster, int]:
        """The group of node `node_id` and the node's id in it."""
        gid, i = divmod(node_id, GROUP_IDS)
        return self.clusters[gid], i

    def call(
        self, dst: int, method: str, args: Any, timeout_us: int, callback: ReplyCallback
    ) -> int:
        """Send one RPC to node `dst`; `callback` runs once, with the reply or None (lost,
        failed or timed out). Returns the request id."""
        request_id = next(self._ids)
        if len(self._pending) >= PENDING_MAX:
            self.sim.at(0, lambda: callback(None))
            return request_id
        cluster, i = self.cluster_of(dst)
        self._pending[request_id] = callback
        now = self.sim.now
        self.sim.at(timeout_us, lambda: self._answer(request_id, None))
        cluster.net.send(now, GATEWAY, i, encode(RpcCall(method, args)), False, request_id)
        return request_id

    def on_delivery(self, delivery: Delivery) -> None:
        """A reply (or failure notice) reached a group's gateway: answer at this instant."""
        if delivery.request_id not in self._pending:
            return  # timed out already
        reply = None
        if not delivery.failed:
            reply = decode(delivery.payload, RpcReply)
            assert isinstance(reply, RpcReply)
        self.sim.at(0, lambda: self._answer(delivery.request_id, reply))

    def _answer(self, request_id: int, reply: RpcReply | None) -> None:
        callback = self._pending.pop(request_id, None)
        if callback is not None:
            callback(reply)
