"""The router's routing logic driven in-process (no router process): sockets pairs stand in
for endpoint connections, and the test turns the loop's crank itself."""

from __future__ import annotations

import contextlib
import socket
import struct
from multiprocessing import Pipe

import pytest

from sentinel.netsim import protocol as p
from sentinel.netsim.framing import Splitter
from sentinel.netsim.ledger import DEPARTED_KEPT
from sentinel.netsim.links import CLIENT_READ_BYTES, CLIENT_SHARE_MSGS_MAX, Link, framed
from sentinel.netsim.router import REFUSED_FRAMES_MAX, Router
from sentinel.netsim.stats import Counters
from sentinel.wire import decode, encode

LENGTH = struct.Struct("!i")


@pytest.fixture
def router(tmp_path):
    directory = tmp_path / "r"
    directory.mkdir()
    p.create_authkey(directory)
    ours, theirs = Pipe(duplex=True)
    router = Router(theirs, directory, seed=1, msg_bytes_max=p.MSG_BYTES_MAX)
    yield router
    router.close()
    ours.close()
    theirs.close()


def _attach(router: Router, endpoint: int) -> socket.socket:
    ours, theirs = socket.socketpair()
    router.add_link(theirs.detach(), endpoint)
    ours.settimeout(5)
    return ours


def _send(sock: socket.socket, src: int, dst: int, request_id: int, flags: int, body: bytes):
    msg = p.ROUTE.pack(src, dst, request_id, flags) + body
    sock.sendall(LENGTH.pack(len(msg)) + msg)


def _recv(sock: socket.socket) -> tuple[tuple[int, int, int, int], bytes]:
    (size,) = LENGTH.unpack(sock.recv(4, socket.MSG_WAITALL))
    msg = sock.recv(size, socket.MSG_WAITALL)
    return p.ROUTE.unpack_from(msg), msg[p.ROUTE_BYTES :]


def _turn(router: Router, now: float | None = None) -> None:
    for link in list(router.links.values()):
        router.on_readable(link)
    if now is not None:
        router.run_timers(now)
    router.flush_dirty()


def test_forwarding_counters_and_unreachable_notice(router: Router) -> None:
    one, two = _attach(router, 1), _attach(router, 2)
    _send(one, 1, 2, 0, p.F_REQUEST, b"hello")
    _send(one, 1, 3, 5, p.F_REQUEST, b"to nobody")  # endpoint 3 does not exist
    _turn(router)
    assert _recv(two) == ((1, 2, 0, p.F_REQUEST), b"hello")
    _turn(router, now=1e12)  # far in the future: every timer is due
    assert _recv(one) == ((3, 1, 5, p.F_FAILED), b"")
    stats = {item.endpoint_id: item for item in router.report().stats}
    assert stats[1].sent_msgs == 2 and stats[1].sent_bytes == len(b"hello") + len(b"to nobody")
    assert stats[1].unreachable_msgs == 1
    assert stats[2].received_msgs == 1 and stats[2].received_bytes == 5
    one.close()
    two.close()


def test_outstanding_requests_fail_when_the_server_goes(router: Router) -> None:
    client, server = _attach(router, 1), _attach(router, 2)
    _send(client, 1, 2, 7, p.F_REQUEST, b"q1")
    _send(client, 1, 2, 8, p.F_REQUEST, b"q2")
    _turn(router)
    _recv(server)
    _recv(server)
    _send(server, 2, 1, 7, p.F_REPLY, b"a1")  # 7 is answered, 8 never is
    _turn(router)
    assert _recv(client) == ((2, 1, 7, p.F_REPLY), b"a1")
    server.close()
    _turn(router, now=1e12)  # end of file on the server's link, then the notice
    router.run_timers(1e12)
    router.flush_dirty()
    assert _recv(client) == ((2, 1, 8, p.F_FAILED), b"")
    assert 2 not in router.links
    client.close()


def test_counters_of_departed_clients_are_folded_into_totals(router: Router) -> None:
    departed = 1000
    for endpoint in range(p.CLIENT_ID_FIRST, p.CLIENT_ID_FIRST + departed):
        router.ledger.counters_of(endpoint).sent_msgs = 1
    waiting = router.ledger.counters_of(p.CLIENT_ID_FIRST + departed)  # gone, a message in flight
    waiting.sent_msgs, waiting.in_flight_msgs = 1, 1
    live = _attach(router, 1)
    router.ledger.counters_of(1).sent_msgs = 1
    router.ledger.retire_departed(router.links)
    report = router.report()
    listed = {item.endpoint_id for item in report.stats}
    newest = range(p.CLIENT_ID_FIRST + departed - DEPARTED_KEPT, p.CLIENT_ID_FIRST + departed)
    assert listed == {1, p.CLIENT_ID_FIRST + departed, *newest}
    assert report.totals.sent_msgs == departed + 2  # nothing folded is lost from the totals
    assert router.ledger.retired.sent_msgs == departed - DEPARTED_KEPT
    live.close()


def test_a_report_for_some_endpoints_lists_only_them_with_totals_over_all(router: Router) -> None:
    clients = range(p.CLIENT_ID_FIRST, p.CLIENT_ID_FIRST + 500)
    for endpoint in (1, 2, *clients):
        router.ledger.counters_of(endpoint).sent_msgs = 2
    router.ledger.statuses.update({1: b"node one", 2: b"node two", p.CLIENT_ID_FIRST: b"a client"})
    report = router.report((2, 1, 3))  # 3 is unknown to the router: simply not listed
    assert [item.endpoint_id for item in report.stats] == [1, 2]
    assert report.statuses == {1: b"node one", 2: b"node two"}
    assert report.totals.sent_msgs == 2 * (2 + len(clients))
    whole = router.report()
    assert len(whole.stats) == 2 + len(clients) and whole.totals == report.totals
    assert len(whole.statuses) == 3


def test_an_endpoints_own_query_lists_the_nodes_and_itself(router: Router) -> None:
    """Every connected client may query over the data path: its answer must not cost the
    router a walk over every client's counters."""
    clients = range(p.CLIENT_ID_FIRST, p.CLIENT_ID_FIRST + 500)
    for endpoint in (1, 2, *clients):
        router.ledger.counters_of(endpoint).sent_msgs = 2
    router.ledger.statuses.update({1: b"node one", p.CLIENT_ID_FIRST: b"a client"})
    asker = _attach(router, p.CLIENT_ID_FIRST + 7)
    _send(asker, p.CLIENT_ID_FIRST + 7, p.ROUTER_ID, 42, p.F_QUERY, b"")
    _turn(router)
    route, body = _recv(asker)
    assert route == (p.ROUTER_ID, p.CLIENT_ID_FIRST + 7, 42, p.F_REPLY)
    report = decode(body)
    assert [item.endpoint_id for item in report.stats] == [1, 2, p.CLIENT_ID_FIRST + 7]
    assert report.statuses == {1: b"node one"}
    assert report.totals.sent_msgs == 2 * (2 + len(clients))
    asker.close()


@pytest.mark.parametrize(
    "endpoints",
    [[1, 2], (1, "2"), tuple(range(5000)), "12"],
    ids=["a list", "a str id", "too many", "a str"],
)
def test_a_bad_report_filter_is_refused_and_the_router_keeps_serving(
    tmp_path, endpoints: object
) -> None:
    p.create_authkey(tmp_path)
    ours, theirs = Pipe(duplex=True)
    router = Router(theirs, tmp_path, seed=1, msg_bytes_max=p.MSG_BYTES_MAX)
    try:
        ours.send_bytes(encode(p.GetReport(endpoints)))  # type: ignore[arg-type]
        router.on_control()
        answer = decode(ours.recv_bytes())
        assert isinstance(answer, p.Ack) and not answer.ok
        assert "endpoint" in answer.error
        ours.send_bytes(encode(p.GetReport((1,))))
        router.on_control()
        assert isinstance(decode(ours.recv_bytes()), p.RouterReport)
    finally:
        router.close()
        ours.close()
        theirs.close()


#: A client payload that begins like a wire frame, so the router passes it on.
JUNK = b"SN\x01junk"
FLOOD_FRAMES = 30_000  # more than a link's whole output queue held (OUT_MSGS_MAX)
FLOOD_CHUNK = 1_000  # frames per write and turn: less than the router reads of a client
TURNS_MAX = 1_000


def _flood(router: Router, sock: socket.socket, src: int, dst: int) -> None:
    msg = p.ROUTE.pack(src, dst, 0, p.F_REQUEST) + JUNK
    chunk = (LENGTH.pack(len(msg)) + msg) * FLOOD_CHUNK
    assert len(chunk) <= CLIENT_READ_BYTES
    for _ in range(FLOOD_FRAMES // FLOOD_CHUNK):
        sock.sendall(chunk)
        _turn(router)


def _drain(sock: socket.socket, splitter: Splitter) -> list[tuple[int, int, int, int]]:
    """The route headers of the whole messages the kernel holds for `sock`, not waiting."""
    routes = []
    sock.setblocking(False)
    try:
        while True:
            try:
                chunk = sock.recv(1 << 20)
            except BlockingIOError:
                break
            routes += [p.ROUTE.unpack_from(m) for m in splitter.feed(chunk)]
    finally:
        sock.settimeout(5)
    return routes


def _write_turn(router: Router) -> None:
    """One turn of the loop that only writes: every link waiting for room is writable."""
    router.dirty.update(link for link in router.links.values() if link.want_write)
    router.flush_dirty()


def test_a_client_flood_never_delays_or_drops_a_peer_message(router: Router) -> None:
    """The leader of a cluster, flooded by one client, must still hear its peers at once
    (check-quorum deposes it otherwise), and other clients must still get through."""
    flooder, other = p.CLIENT_ID_FIRST, p.CLIENT_ID_FIRST + 1
    node, peer = _attach(router, 1), _attach(router, 2)
    flooding, honest = _attach(router, flooder), _attach(router, other)
    _flood(router, flooding, flooder, 1)  # node 1 reads nothing meanwhile
    assert router.links[1].want_write, "the flood never filled the kernel's buffer"
    _send(peer, 2, 1, 9, p.F_REQUEST, b"heartbeat")
    _send(honest, other, 1, 5, p.F_REQUEST, JUNK)
    _turn(router)
    splitter = Splitter(p.MSG_BYTES_MAX, keep_prefix=False)
    held = _drain(node, splitter)  # what the kernel held before; now there is room
    assert all(route[0] == flooder for route in held)
    _write_turn(router)
    arrived = _drain(node, splitter)
    assert arrived[0] == (2, 1, 9, p.F_REQUEST)  # first in the next write
    for _ in range(TURNS_MAX):  # the honest client's request waits its turn, and comes
        if any(route[0] == other for route in arrived):
            break
        _write_turn(router)
        arrived = _drain(node, splitter)
    else:
        pytest.fail("the honest client's request never arrived")
    stats = {item.endpoint_id: item for item in router.report().stats}
    assert stats[2].overflow_msgs == stats[other].overflow_msgs == 0
    assert stats[flooder].overflow_msgs >= FLOOD_FRAMES - CLIENT_SHARE_MSGS_MAX - len(held)
    for sock in (node, peer, flooding, honest):
        sock.close()


def test_a_half_written_client_message_is_finished_before_a_peer_message() -> None:
    ours, theirs = socket.socketpair()
    link = Link(ours.detach(), 1, Counters(), p.MSG_BYTES_MAX)
    client = p.CLIENT_ID_FIRST
    big = framed(p.ROUTE.pack(client, 1, 0, p.F_REQUEST) + JUNK + bytes(4 << 20))
    beat = framed(p.ROUTE.pack(2, 1, 0, p.F_REQUEST) + b"beat")
    splitter = Splitter(p.MSG_BYTES_MAX, keep_prefix=True)
    got: list[bytes] = []
    try:
        assert link.put(big, client)
        assert link.flush() is False  # the kernel took a part of it
        assert link.put(beat, 2)
        for _ in range(TURNS_MAX):
            theirs.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                got += splitter.feed(theirs.recv(1 << 20))
            if link.flush() and len(got) == 2:
                break
        assert got == [big, beat]  # whole, in the one byte stream
        assert (link.out_bytes, link.client_bytes, link.share_msgs) == (0, 0, {})
    finally:
        link.close()
        theirs.close()


def test_a_client_that_nodes_refuse_too_often_is_cut_off(router: Router) -> None:
    """A node reports each frame of a client it refused (F_REFUSED); past
    REFUSED_FRAMES_MAX the router closes the client. A client cannot report another."""
    node, junk_id, other_id = 1, p.CLIENT_ID_FIRST, p.CLIENT_ID_FIRST + 1
    from_node, junk, other = (
        _attach(router, node),
        _attach(router, junk_id),
        _attach(router, other_id),
    )
    refusal = junk_id.to_bytes(4, "little")
    for _ in range(REFUSED_FRAMES_MAX):
        _send(from_node, node, p.ROUTER_ID, 0, p.F_REFUSED, refusal)
    for _ in range(2 * REFUSED_FRAMES_MAX):  # believed from nodes only
        _send(other, other_id, p.ROUTER_ID, 0, p.F_REFUSED, refusal)
    _turn(router)
    assert junk_id in router.links
    assert router.ledger.counters_of(other_id).bad_frames == 2 * REFUSED_FRAMES_MAX
    _send(from_node, node, p.ROUTER_ID, 0, p.F_REFUSED, refusal)
    _turn(router)
    assert junk_id not in router.links and other_id in router.links
    assert junk.recv(1) == b""  # its connection is closed
    for sock in (from_node, junk, other):
        sock.close()


def test_a_turn_reads_only_a_slice_of_a_clients_flood(router: Router) -> None:
    """Routing costs per message: a turn must not spend ~25 ms on one client's junk while
    every peer's message waits for the turn's writes."""
    client_id = p.CLIENT_ID_FIRST
    node, client = _attach(router, 1), _attach(router, client_id)
    msg = p.ROUTE.pack(client_id, 1, 0, p.F_REQUEST) + JUNK
    frame = LENGTH.pack(len(msg)) + msg
    client.sendall(frame * (3 * CLIENT_READ_BYTES // len(frame)))
    router.on_readable(router.links[client_id])
    assert 0 < router.ledger.counters_of(client_id).sent_msgs <= CLIENT_READ_BYTES // len(frame)
    node.close()
    client.close()
