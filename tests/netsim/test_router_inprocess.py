"""The router's routing logic driven in-process (no router process): sockets pairs stand in
for endpoint connections, and the test turns the loop's crank itself."""

from __future__ import annotations

import socket
import struct
from multiprocessing import Pipe

import pytest

from sentinel.netsim import protocol as p
from sentinel.netsim.router import DEPARTED_KEPT, Router
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
        router.counters_of(endpoint).sent_msgs = 1
    waiting = router.counters_of(p.CLIENT_ID_FIRST + departed)  # gone, a message in flight
    waiting.sent_msgs, waiting.in_flight_msgs = 1, 1
    live = _attach(router, 1)
    router.counters_of(1).sent_msgs = 1
    router.retire_departed()
    report = router.report()
    listed = {item.endpoint_id for item in report.stats}
    newest = range(p.CLIENT_ID_FIRST + departed - DEPARTED_KEPT, p.CLIENT_ID_FIRST + departed)
    assert listed == {1, p.CLIENT_ID_FIRST + departed, *newest}
    assert report.totals.sent_msgs == departed + 2  # nothing folded is lost from the totals
    assert router.retired.sent_msgs == departed - DEPARTED_KEPT
    live.close()


def test_a_report_for_some_endpoints_lists_only_them_with_totals_over_all(router: Router) -> None:
    clients = range(p.CLIENT_ID_FIRST, p.CLIENT_ID_FIRST + 500)
    for endpoint in (1, 2, *clients):
        router.counters_of(endpoint).sent_msgs = 2
    router.statuses.update({1: b"node one", 2: b"node two", p.CLIENT_ID_FIRST: b"a client"})
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
        router.counters_of(endpoint).sent_msgs = 2
    router.statuses.update({1: b"node one", p.CLIENT_ID_FIRST: b"a client"})
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
