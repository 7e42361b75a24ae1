"""Hostile and broken peers: bad frames, wrong keys, silent or oversize clients. None of
them may harm the receiver or the router."""

from __future__ import annotations

import contextlib
import os
import pickle
import socket
import stat
import zlib
from collections import OrderedDict
from multiprocessing.connection import AuthenticationError, Client

import pytest

from sentinel.netsim import protocol as p
from sentinel.netsim.echo import EchoStatus
from sentinel.netsim.testing import wait_for
from sentinel.wire import decode, encode
from sentinel.wire.codec import HEADER, MAGIC, VERSION

pytestmark = pytest.mark.processes
CALL_S = 5.0


class Evil:
    """Unpickling this would run a shell command."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _wire_frame(payload: bytes) -> bytes:
    """A frame with a valid wire header and checksum around arbitrary pickle bytes."""
    return HEADER.pack(MAGIC, VERSION, 0, len(payload), zlib.crc32(payload)) + payload


def _raw_client(directory):
    conn = Client(
        str(p.socket_path(directory)), family="AF_UNIX", authkey=p.read_authkey(directory)
    )
    hello = conn.recv_bytes()
    _src, me, _rid, flags = p.ROUTE.unpack_from(hello)
    assert flags & p.F_HELLO
    return conn, me


def test_bad_frames_are_refused_and_everyone_keeps_serving(cluster_factory, tmp_path) -> None:
    cluster = cluster_factory(nodes=1, msg_bytes_max=64 * 1024)
    network = cluster.client()
    cluster.wait_ready(network)
    marker = tmp_path / "pwned"
    conn, me = _raw_client(cluster.directory)

    def to_node(payload: bytes, request_id: int = 0) -> bytes:
        return p.ROUTE.pack(me, 1, request_id, p.F_REQUEST) + payload

    payload_level = [  # a wire header: only the node can tell what is wrong
        to_node(_wire_frame(pickle.dumps(OrderedDict(a=1)))),  # class not registered
        to_node(_wire_frame(pickle.dumps(Evil(str(marker))))),  # __reduce__ -> os.system
        to_node(encode("truncated")[:-3]),
    ]
    route_level = [
        to_node(b"\x00 not a frame at all"),  # no wire header: the router drops it
        to_node(b"\x80\x05garbage pickle", request_id=77),
        b"short",  # shorter than the route header
        p.ROUTE.pack(1, 1, 0, p.F_REQUEST) + encode("forged source"),
        p.ROUTE.pack(me, 1, 0, 0x80) + encode("unknown flag"),
        p.ROUTE.pack(me, 0, 0, p.F_REQUEST) + b"router is not a service",
    ]
    for frame in payload_level + route_level:
        conn.send_bytes(frame)

    def node_bad_frames() -> int:
        blob = cluster.router.statuses().get(1)
        return decode(blob, EchoStatus).bad_frames if blob else 0

    wait_for(lambda: node_bad_frames() == len(payload_level))
    assert not marker.exists()
    wait_for(lambda: cluster.router.stats()[me].bad_frames == len(route_level))
    assert network.end(1).call("Echo.echo", "fine", CALL_S) == "fine"
    # oversize: the router closes that one connection and keeps serving everyone else
    with contextlib.suppress(OSError):  # the router may hang up before the end is written
        conn.send_bytes(p.ROUTE.pack(me, 1, 0, p.F_REQUEST) + b"x" * (100 * 1024))
    assert conn.poll(30)  # end of file is readable; never block the test on recv
    with pytest.raises((EOFError, OSError)):
        conn.recv_bytes()
    conn.close()
    wait_for(lambda: not cluster.router.stats()[me].connected)
    assert network.end(1).call("Echo.echo", "still fine", CALL_S) == "still fine"


def test_wrong_key_silent_and_garbage_peers_are_refused(cluster_factory) -> None:
    cluster = cluster_factory(nodes=1)
    address = str(p.socket_path(cluster.directory))
    for name in (p.SOCKET_NAME, p.AUTHKEY_NAME):
        mode = stat.S_IMODE(os.stat(cluster.directory / name).st_mode)
        assert mode == 0o600, (name, oct(mode))
    with pytest.raises(AuthenticationError):
        Client(address, family="AF_UNIX", authkey=b"w" * 32)
    silent = socket.socket(socket.AF_UNIX)
    silent.connect(address)  # says nothing: its handshake thread waits, nobody else does
    noisy = socket.socket(socket.AF_UNIX)
    noisy.connect(address)
    noisy.sendall(b"\xff" * 4096)
    try:
        network = cluster.client()
        cluster.wait_ready(network)
        assert network.end(1).call("Echo.echo", "served", CALL_S) == "served"
        second = cluster.client()
        assert second.endpoint_id != network.endpoint_id
        assert second.end(1).call("Echo.echo", "also", CALL_S) == "also"
    finally:
        silent.close()
        noisy.close()


def test_a_cluster_directory_too_long_for_a_unix_socket_still_works(cluster_factory) -> None:
    cluster = cluster_factory(nodes=1, subdir="d" * 80 + "/" + "e" * 40)
    assert len(str(p.socket_path(cluster.directory))) > 108  # over the AF_UNIX limit
    network = cluster.client()  # connects through /proc/self/fd/<dir fd>/router.sock
    cluster.wait_ready(network)
    assert network.end(1).call("Echo.echo", "far away", CALL_S) == "far away"
