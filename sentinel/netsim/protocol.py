"""What travels between endpoints, the router and the supervisor.

Endpoint <-> router: every message is one multiprocessing-connection message (a 4-byte
big-endian length, then the bytes, exactly what `Connection.send_bytes` writes) made of a
fixed ROUTE header and an opaque payload:

    src (u32) | dst (u32) | request_id (u64) | flags (u8)        little-endian, 17 bytes

The router reads only this header. It checks that `src` is the sender's own id (no forging),
and forwards the very same bytes; the payload (normally a `sentinel.wire` frame) is never
unpickled by the router. `request_id` is 0 for one-way messages; an RPC request and its reply
carry the caller's request id. Flags:

* REQUEST / REPLY: how the fault policy treats the message (6.824 requests vs replies);
* FAILED (router -> caller): the RPC `request_id` to or from `src` was lost or had no path;
* HELLO (router -> client, once, first): the client's endpoint id is the header's `dst`;
* STATUS (endpoint -> router, dst 0): store the payload as this endpoint's status blob;
* QUERY (endpoint -> router, dst 0): reply (REPLY, same request id) with a `RouterReport`;
* REFUSED (node -> router, dst 0): the client whose id (u32, little-endian) is the payload
  sent this node a frame it refused; the router cuts off a client refused too often.

Supervisor <-> router: a control pipe carrying `sentinel.wire` messages (below); the router
decodes these with the restricted unpickler (they come from its parent, not from endpoints).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from sentinel.netsim.faults import ROUTER_ID as ROUTER_ID
from sentinel.netsim.faults import FaultConfig, Topology
from sentinel.netsim.stats import EndpointStats
from sentinel.wire import FRAME_BYTES_MAX, HEADER_BYTES, message

ROUTE = struct.Struct("<IIQB")
ROUTE_BYTES = ROUTE.size

F_REQUEST = 0x01
F_REPLY = 0x02
F_FAILED = 0x04
F_HELLO = 0x08
F_STATUS = 0x10
F_QUERY = 0x20
F_REFUSED = 0x40
#: Flags an endpoint may set on a message to another endpoint or to the router.
ENDPOINT_FLAGS = F_REQUEST | F_REPLY | F_STATUS | F_QUERY | F_REFUSED

#: Largest message (route header + payload) the router accepts; larger ones close the link.
MSG_BYTES_MAX = ROUTE_BYTES + HEADER_BYTES + FRAME_BYTES_MAX
#: Largest status blob an endpoint may post.
STATUS_BYTES_MAX = 256 * 1024
#: Node endpoint ids are 1..NODE_ID_MAX; clients get ids from CLIENT_ID_FIRST upwards.
NODE_ID_MAX = 999
CLIENT_ID_FIRST = 1000

SOCKET_NAME = "router.sock"
AUTHKEY_NAME = "authkey"
AUTHKEY_BYTES = 32
UNIX_PATH_BYTES_MAX = 100


def socket_path(cluster_dir: str | os.PathLike[str]) -> Path:
    """Where the router listens for clients."""
    return Path(cluster_dir) / SOCKET_NAME


def create_authkey(cluster_dir: str | os.PathLike[str]) -> bytes:
    """Write a fresh random auth key to `<dir>/authkey` with 0600 permissions; return it."""
    path = Path(cluster_dir) / AUTHKEY_NAME
    key = os.urandom(AUTHKEY_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # O_CREAT's mode does not apply to an existing file
        os.write(fd, key)
    finally:
        os.close(fd)
    return key


def read_authkey(cluster_dir: str | os.PathLike[str]) -> bytes:
    """The cluster's auth key."""
    key = (Path(cluster_dir) / AUTHKEY_NAME).read_bytes()
    if len(key) != AUTHKEY_BYTES:
        raise ValueError(f"auth key in {cluster_dir} has {len(key)} bytes, not {AUTHKEY_BYTES}")
    return key


def short_address(path: Path, dir_fd: int) -> str:
    """An AF_UNIX address for `path` that fits the ~108-byte limit: the path itself when it
    is short, else `/proc/self/fd/<dir_fd>/<name>` (Linux) through an open directory fd."""
    text = str(path)
    if len(text.encode()) <= UNIX_PATH_BYTES_MAX:
        return text
    return f"/proc/self/fd/{dir_fd}/{path.name}"


# -- control messages (supervisor -> router) ------------------------------------------------


@message
class SetFaults:
    """Switch the router's fault configuration."""

    config: FaultConfig


@message
class Partition:
    """Cut the network into groups of endpoint ids (replacing any earlier partition)."""

    groups: tuple[tuple[int, ...], ...]


@message
class Heal:
    """Remove partitions and reconnect every endpoint."""


@message
class SetConnected:
    """Connect or disconnect one endpoint."""

    endpoint: int
    connected: bool


@message
class SetLinkDelay:
    """An extra delay on the one-way link src -> dst (0 removes it)."""

    src: int
    dst: int
    delay_ms: int


@message
class RegisterNode:
    """A node endpoint's connection follows on the control pipe as a passed file descriptor."""

    endpoint: int


@message
class GetReport:
    """Ask for a RouterReport. With `endpoints`, it lists the counters and statuses of those
    endpoints only (the totals still cover every endpoint): a supervisor that watches the
    nodes need not pay, five times a second, for every client that is connected."""

    endpoints: tuple[int, ...] | None = None


def checked_endpoints(endpoints: object, limit: int) -> tuple[int, ...] | None:
    """A GetReport's endpoint filter, checked: None, or at most `limit` ints."""
    if endpoints is None:
        return None
    if type(endpoints) is not tuple or len(endpoints) > limit:
        raise ValueError(f"endpoints must be a tuple of at most {limit} ids")
    if any(type(e) is not int for e in endpoints):
        raise TypeError("endpoint ids must be ints")
    return endpoints


@message
class Shutdown:
    """Stop the router."""


@message
class Ack:
    """The router's answer to a control message that needs no data."""

    ok: bool
    error: str = ""


@message
class RouterReport:
    """Counters per endpoint, their sum, the last status blob of each endpoint, and the
    current fault settings."""

    stats: tuple[EndpointStats, ...]
    totals: EndpointStats
    statuses: dict[int, bytes]
    config: FaultConfig
    topology: Topology
    in_flight_msgs: int
