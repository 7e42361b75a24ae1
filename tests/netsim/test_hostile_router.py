"""Hostile use of the router's client socket: bursts of clients, slow and silent peers that
would hold handshake slots, a client that floods malformed frames. Every honest client
still gets in, every hostile one is cut off in bounded time, and the nodes keep serving."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Client

import pytest

from sentinel.netsim import protocol as p
from sentinel.netsim.client import connect
from sentinel.netsim.listener import HANDSHAKE_DEADLINE_S, HANDSHAKES_MAX
from sentinel.netsim.router import BAD_FRAMES_MAX
from sentinel.netsim.testing import wait_for

pytestmark = pytest.mark.processes
CALL_S = 5.0
BURST_CLIENTS = 500
HOSTILE_PEERS = 100
#: How long past its deadline a hostile handshake may last (a loaded, shared machine).
CUT_SLACK_S = 5.0


def test_500_clients_connect_at_once_and_all_are_served(cluster_factory) -> None:
    cluster = cluster_factory(nodes=1)
    cluster.wait_ready(cluster.client())
    start = threading.Barrier(BURST_CLIENTS)

    def one(_: int):
        start.wait(60)
        return connect(cluster.directory, timeout_s=60)

    with ThreadPoolExecutor(BURST_CLIENTS) as pool:
        futures = [pool.submit(one, i) for i in range(BURST_CLIENTS)]
        outcomes = []
        for future in futures:
            try:
                outcomes.append(future.result(120))
            except Exception as exc:  # every failure is reported, not just the first
                outcomes.append(exc)
    networks = [o for o in outcomes if not isinstance(o, BaseException)]
    try:
        failed = [repr(o) for o in outcomes if isinstance(o, BaseException)]
        assert not failed, f"{len(failed)} of {BURST_CLIENTS} failed: {failed[:5]}"
        assert len({n.endpoint_id for n in networks}) == BURST_CLIENTS
        for network in networks[:: BURST_CLIENTS // 10]:
            assert network.end(1).call("Echo.echo", network.endpoint_id, CALL_S) == (
                network.endpoint_id
            )
    finally:
        for network in networks:
            network.close()


def _dribble(sock: socket.socket, stop: threading.Event) -> None:
    """Announce a 128-byte answer to the challenge, then send it a byte every half second,
    as long as the router listens (a minute, unless it cuts the peer off)."""
    with contextlib.suppress(OSError):
        sock.send(b"\x00\x00\x00\x80")
    while not stop.wait(0.5):
        try:
            sock.send(b"\x00")
        except OSError:
            return


def test_slow_and_silent_peers_do_not_lock_clients_out(cluster_factory) -> None:
    assert HOSTILE_PEERS > HANDSHAKES_MAX  # more than can hold a handshake slot
    cluster = cluster_factory(nodes=1)
    address = str(p.socket_path(cluster.directory))
    stop = threading.Event()
    peers: list[socket.socket] = []
    dribblers: list[threading.Thread] = []
    try:
        for i in range(HOSTILE_PEERS):
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(address)
            peers.append(sock)
            if i % 2:  # half dribble a byte every half second; half say nothing at all
                dribblers.append(threading.Thread(target=_dribble, args=(sock, stop)))
                dribblers[-1].start()
        opened = time.monotonic()
        network = connect(cluster.directory, timeout_s=60)  # waits in the backlog, if must
        cluster.networks.append(network)
        cluster.wait_ready(network)
        assert network.end(1).call("Echo.echo", "through", CALL_S) == "through"
        for sock in peers:  # each hostile peer was cut off at its handshake's deadline
            cut_by = opened + 2 * HANDSHAKE_DEADLINE_S + CUT_SLACK_S
            sock.settimeout(max(0.1, cut_by - time.monotonic()))
            with contextlib.suppress(ConnectionResetError):
                while sock.recv(4096):  # the challenge, then end of file
                    pass
        assert network.end(1).call("Echo.echo", "still", CALL_S) == "still"
    finally:
        stop.set()
        for thread in dribblers:
            thread.join(10)
        for sock in peers:
            sock.close()


def test_a_client_flooding_malformed_frames_is_cut_off(cluster_factory) -> None:
    cluster = cluster_factory(nodes=1)
    network = cluster.client()
    cluster.wait_ready(network)
    conn = Client(
        str(p.socket_path(cluster.directory)),
        family="AF_UNIX",
        authkey=p.read_authkey(cluster.directory),
    )
    _src, me, _rid, _flags = p.ROUTE.unpack_from(conn.recv_bytes())
    junk = [
        p.ROUTE.pack(me, 1, 0, p.F_REQUEST) + b"junk, not a wire frame",
        p.ROUTE.pack(me + 1, 1, 0, p.F_REQUEST) + b"forged source",
        b"short",
    ]
    with contextlib.suppress(OSError):  # the router may hang up before the flood ends
        for i in range(BAD_FRAMES_MAX * 3):
            conn.send_bytes(junk[i % len(junk)])
    assert conn.poll(30)  # end of file is readable; never block the test on recv
    with pytest.raises((EOFError, OSError)):
        conn.recv_bytes()
    conn.close()

    def gone():
        stats = cluster.router.stats()[me]
        return None if stats.connected else stats

    stats = wait_for(gone)
    assert BAD_FRAMES_MAX < stats.bad_frames <= BAD_FRAMES_MAX * 3
    assert stats.sent_msgs == 0  # no junk reached the node
    assert network.end(1).call("Echo.echo", "unharmed", CALL_S) == "unharmed"
    assert cluster.client().end(1).call("Echo.echo", "newcomer", CALL_S) == "newcomer"


def _fake_router(tmp_path, behaviour):
    """A listening socket in `tmp_path` whose peer is handled by `behaviour(conn)`."""
    p.create_authkey(tmp_path)
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(p.socket_path(tmp_path)))
    server.listen(4)

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = server.accept()
            with conn:
                behaviour(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server, thread


def test_a_router_that_hangs_up_or_stays_silent_is_named(tmp_path) -> None:
    server, thread = _fake_router(tmp_path, lambda conn: None)  # accepts, then hangs up
    try:
        with pytest.raises(ConnectionError) as info:
            connect(tmp_path, timeout_s=10)
        assert f"router at {tmp_path} is not accepting connections" in str(info.value)
        assert "closed the connection" in str(info.value)
    finally:
        server.close()
        thread.join(10)
    (tmp_path / p.SOCKET_NAME).unlink()
    quiet = threading.Event()
    server, thread = _fake_router(tmp_path, lambda conn: quiet.wait(10))  # says nothing
    try:
        started = time.monotonic()
        with pytest.raises(ConnectionError) as info:
            connect(tmp_path, timeout_s=0.5)
        assert time.monotonic() - started < 5
        assert "not accepting connections: no answer within 0.5 s" in str(info.value)
    finally:
        quiet.set()
        server.close()
        thread.join(10)
