"""sentinel.netsim: the network.

* `faults`: the pure, seeded fault policy (6.824 presets, partitions, verdicts);
* `vnet`: a virtual-time in-process network with that policy (for the simulator);
* `router` (the router process), `control` (the supervisor's `RouterHandle`), `endpoint`
  (a process's loop-driven connection), `rpc` (services, `ClientEnd`, `Deferred`), `client`
  (`connect(cluster_dir)` for clients), `procs` (spawn/kill/pause/resume/restart);
* `protocol`: the route header and control messages; `stats`: per-endpoint counters.
"""

from sentinel.netsim.client import Network, connect
from sentinel.netsim.control import RouterError, RouterHandle
from sentinel.netsim.endpoint import Endpoint, Failure, Incoming, Message, Reply, Request
from sentinel.netsim.faults import (
    LONG_DELAYS,
    LONG_REORDERING,
    PRESETS,
    RELIABLE,
    ROUTER_ID,
    UNRELIABLE,
    Fate,
    FaultConfig,
    FaultPolicy,
    Topology,
    Verdict,
    decide,
    make_topology,
)
from sentinel.netsim.procs import ProcessGroup, install_sigterm_handler
from sentinel.netsim.protocol import RouterReport
from sentinel.netsim.rpc import ClientEnd, Deferred, RpcCall, RpcError, RpcReply, RpcServer
from sentinel.netsim.stats import EndpointStats
from sentinel.netsim.vnet import US_PER_MS, Delivery, VirtualNetwork

__all__ = [
    "LONG_DELAYS",
    "LONG_REORDERING",
    "PRESETS",
    "RELIABLE",
    "ROUTER_ID",
    "UNRELIABLE",
    "US_PER_MS",
    "ClientEnd",
    "Deferred",
    "Delivery",
    "Endpoint",
    "EndpointStats",
    "Failure",
    "Fate",
    "FaultConfig",
    "FaultPolicy",
    "Incoming",
    "Message",
    "Network",
    "ProcessGroup",
    "Reply",
    "Request",
    "RouterError",
    "RouterHandle",
    "RouterReport",
    "RpcCall",
    "RpcError",
    "RpcReply",
    "RpcServer",
    "Topology",
    "Verdict",
    "VirtualNetwork",
    "connect",
    "decide",
    "install_sigterm_handler",
    "make_topology",
]
