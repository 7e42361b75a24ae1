"""sentinel.netsim: the network.

* `faults`: the pure, seeded fault policy (6.824 presets, partitions, verdicts);
* `vnet`: a virtual-time in-process network with that policy (for the simulator);
* `router`, `endpoint`, `rpc`, `procs`: the router process, the per-process endpoint and
  RPC layer, and process control (import those modules directly).
"""

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
    "Delivery",
    "EndpointStats",
    "Fate",
    "FaultConfig",
    "FaultPolicy",
    "Topology",
    "Verdict",
    "VirtualNetwork",
    "decide",
    "make_topology",
]
