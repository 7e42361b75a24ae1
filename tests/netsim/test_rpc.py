"""Endpoint parsing, RPC dispatch and deferred replies, in one process over a plain Pipe,
and the router link's bounded, non-blocking output (no processes needed)."""

from __future__ import annotations

import socket
from multiprocessing import Pipe
from multiprocessing.connection import wait

import pytest

from sentinel.netsim import protocol as p
from sentinel.netsim.endpoint import (
    REFUSALS_REPORTED_PER_S,
    Endpoint,
    Failure,
    Message,
    Reply,
    Request,
)
from sentinel.netsim.links import OUT_MSGS_MAX, Link, ProtocolError, framed
from sentinel.netsim.rpc import Deferred, RpcCall, RpcReply, RpcServer
from sentinel.netsim.stats import Counters
from sentinel.wire import decode, encode


class Store:
    def __init__(self) -> None:
        self.waiting: list[Deferred] = []

    def get(self, key: str) -> str:
        return key.upper()

    def put_when_applied(self, value: str) -> Deferred:
        deferred = Deferred()
        self.waiting.append(deferred)
        return deferred

    def boom(self, args: object) -> None:
        raise ValueError("handler bug")


@pytest.fixture
def pair():
    peer, mine = Pipe(duplex=True)
    endpoint = Endpoint(mine, 1)
    yield peer, endpoint
    peer.close()
    mine.close()


def _from_peer(peer, flags: int, obj, request_id: int = 0, src: int = 2) -> None:
    peer.send_bytes(p.ROUTE.pack(src, 1, request_id, flags) + encode(obj))


def _reply_at_peer(peer) -> tuple[int, int, int, object]:
    assert peer.poll(5)
    msg = peer.recv_bytes()
    src, dst, request_id, flags = p.ROUTE.unpack_from(msg)
    assert (src, dst) == (1, 2) and flags == p.F_REPLY
    return request_id, decode(msg[p.ROUTE_BYTES :])


def test_incoming_kinds(pair) -> None:
    peer, endpoint = pair
    assert wait([endpoint], timeout=0) == []  # usable with connection.wait
    _from_peer(peer, p.F_REQUEST, "one-way")
    _from_peer(peer, p.F_REPLY, "one-way reply")
    _from_peer(peer, p.F_REQUEST, "call", request_id=9)
    _from_peer(peer, p.F_REPLY, "answer", request_id=4)
    peer.send_bytes(p.ROUTE.pack(2, 1, 6, p.F_FAILED))
    assert wait([endpoint], timeout=5) == [endpoint]
    items = []
    while len(items) < 5:
        items += endpoint.poll(5)
    assert items[0] == Message(2, "one-way", False)
    assert items[1] == Message(2, "one-way reply", True)
    assert isinstance(items[2], Request) and items[2].obj == "call"
    assert items[3] == Reply(2, 4, "answer")
    assert items[4] == Failure(2, 6)
    items[2].respond("done")
    assert _reply_at_peer(peer) == (9, "done")


def test_rpc_server_dispatch_errors_and_deferred(pair) -> None:
    peer, endpoint = pair
    store = Store()
    server = RpcServer(endpoint)
    server.add_service(store, "KV")
    _from_peer(peer, p.F_REQUEST, RpcCall("KV.get", "k"), request_id=1)
    _from_peer(peer, p.F_REQUEST, RpcCall("KV.put_when_applied", "v"), request_id=2)
    _from_peer(peer, p.F_REQUEST, RpcCall("KV.nope", None), request_id=3)
    _from_peer(peer, p.F_REQUEST, RpcCall("KV.boom", None), request_id=4)
    _from_peer(peer, p.F_REQUEST, "not a call", request_id=5)
    _from_peer(peer, p.F_REQUEST, "plain message")
    rest: list = []
    handled = 0
    while handled < 6:
        batch = endpoint.poll(5)
        handled += len(batch)
        rest += server.handle(batch)
    # "not a call" and the one-way message are left to the caller
    assert [type(item) for item in rest] == [Request, Message]
    rest[0].respond(RpcReply(None, "mine"))
    answers = dict(_reply_at_peer(peer) for _ in range(4))
    assert answers[1] == RpcReply("K")
    assert "unknown method" in answers[3].error
    assert "ValueError" in answers[4].error
    assert answers[5].error == "mine"
    assert 2 not in answers and not peer.poll(0.05)  # deferred: nothing yet
    store.waiting[0].resolve("applied")
    assert _reply_at_peer(peer) == (2, RpcReply("applied"))


def test_bad_frames_counted_not_raised(pair) -> None:
    peer, endpoint = pair
    peer.send_bytes(b"tiny")
    peer.send_bytes(p.ROUTE.pack(2, 1, 0, p.F_REQUEST) + b"garbage")
    _from_peer(peer, p.F_REQUEST, "good")
    items: list = []
    while not items:
        items = endpoint.poll(5)
    assert items == [Message(2, "good", False)]
    assert endpoint.bad_frames == 2


def test_a_bad_frame_from_a_client_is_reported_to_the_router(pair) -> None:
    """So that the router can cut off a client that floods junk (router.REFUSED_FRAMES_MAX);
    a bad frame from a peer node is only counted."""
    peer, endpoint = pair
    client = p.CLIENT_ID_FIRST + 5
    peer.send_bytes(p.ROUTE.pack(2, 1, 0, p.F_REQUEST) + b"SN\x01 from a node")
    peer.send_bytes(p.ROUTE.pack(client, 1, 9, p.F_REQUEST) + b"SN\x01 from a client")
    _from_peer(peer, p.F_REQUEST, "good", src=client)
    items: list = []
    while not items:
        items = endpoint.poll(5)
    assert items == [Message(client, "good", False)] and endpoint.bad_frames == 2
    assert peer.poll(5)
    report = peer.recv_bytes()
    assert p.ROUTE.unpack_from(report) == (1, p.ROUTER_ID, 0, p.F_REFUSED)
    assert report[p.ROUTE_BYTES :] == client.to_bytes(4, "little")
    assert not peer.poll(0.05)  # one report: the node's bad frame is not one


def test_refusal_reports_are_bounded_per_second(pair) -> None:
    """A flood of junk must not make the reports a flood (nor block on a full pipe)."""
    peer, endpoint = pair
    header = p.ROUTE.pack(p.CLIENT_ID_FIRST, 1, 0, p.F_REQUEST)
    for _ in range(10 * REFUSALS_REPORTED_PER_S):  # well within two seconds
        assert endpoint.parse(header + b"SN\x01junk") is None
    reports = 0
    while peer.poll(0.05):
        assert p.ROUTE.unpack_from(peer.recv_bytes())[3] == p.F_REFUSED
        reports += 1
    assert REFUSALS_REPORTED_PER_S <= reports <= 2 * REFUSALS_REPORTED_PER_S


def test_link_output_is_bounded_and_never_blocks() -> None:
    ours, theirs = socket.socketpair()
    link = Link(ours.detach(), 7, Counters(), 1 << 20)
    try:
        msg = framed(b"m" * 1000)
        for _ in range(10_000):  # fill the kernel's buffer: the peer never reads
            assert link.put(msg, 2)
            if link.flush() is False:  # returned instead of blocking
                break
        else:
            pytest.fail("the kernel buffer never filled")
        while link.put(msg, 2):
            pass
        assert len(link.out) == OUT_MSGS_MAX  # the router counts the next one as overflow
        assert link.flush() is False
    finally:
        link.close()
        theirs.close()


def test_link_splits_messages_and_refuses_impossible_lengths() -> None:
    ours, theirs = socket.socketpair()
    link = Link(ours.detach(), 7, Counters(), 100)
    buffer = bytearray(64)
    try:
        theirs.sendall(b"\x00\x00\x00\x03abc\x00\x00\x00\x05hel")
        assert link.read_messages(buffer) == [b"\x00\x00\x00\x03abc"]
        theirs.sendall(b"lo")
        assert link.read_messages(buffer) == [b"\x00\x00\x00\x05hello"]
        theirs.sendall(b"\x00\x00\x01\x00")  # 256 bytes: over this link's limit
        with pytest.raises(ProtocolError):
            link.read_messages(buffer)
        theirs.close()
        assert link.read_messages(buffer) is None  # end of file
    finally:
        link.close()
