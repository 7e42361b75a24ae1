"""Hostile use of the supervisor's control socket: a hundred slow, silent or dribbling
connections at once. The operator's `status`, `kill`, `restart` and `down` still get through
at once, every hostile connection is cut off at its deadline, and nothing is lost."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from pathlib import Path

from sentinel.cluster import ctlsock
from sentinel.cluster.ctlsock import ControlServer, request

HOSTILE = 100
#: How much later than its deadline a hostile connection may be cut (a loaded machine).
CUT_SLACK_S = 5.0
#: An honest request must be answered within this while the hostile ones sit there.
ANSWER_S = 3.0


class Hostiles:
    """Keeps `count` hostile connections open on a control socket: silent ones, ones that
    dribble a request a byte at a time, ones that send half a request and stop. A connection
    the server cuts off is replaced, so the socket is under attack all along."""

    KINDS = ("silent", "dribble", "half")

    def __init__(self, path: Path, count: int) -> None:
        self.path = str(path)
        self.count = count
        self.socks: list[tuple[socket.socket, str]] = []
        self.cut = 0  # connections the server closed
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Hostiles:
        for i in range(self.count):
            self.socks.append(self._open(self.KINDS[i % len(self.KINDS)]))
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)
        for sock, _kind in self.socks:
            sock.close()

    def _open(self, kind: str) -> tuple[socket.socket, str]:
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(self.path)
        sock.setblocking(False)
        if kind == "half":
            sock.send(b'{"cmd": "do')
        return sock, kind

    def _run(self) -> None:
        while not self.stop.wait(0.5):
            for i, (sock, kind) in enumerate(self.socks):
                try:
                    if sock.recv(4096) == b"":
                        raise ConnectionResetError
                except BlockingIOError:
                    if kind == "dribble":
                        with contextlib.suppress(OSError):
                            sock.send(b" ")  # whitespace: a request that never ends
                    continue
                except OSError:
                    pass
                sock.close()  # the server answered or hung up: it is cut off; open another
                self.cut += 1
                with contextlib.suppress(OSError):
                    self.socks[i] = self._open(kind)


def _timed(fn, *args):
    started = time.monotonic()
    return fn(*args), time.monotonic() - started


def test_requests_get_through_a_hundred_hostile_connections(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(ctlsock, "REQUEST_DEADLINE_S", 1.0)
    server = ControlServer(tmp_path, lambda req: {"ok": True, "echo": req})
    try:
        with Hostiles(ctlsock.socket_path(tmp_path), HOSTILE) as hostiles:
            for n in range(5):
                reply, took_s = _timed(request, tmp_path, {"cmd": "status", "n": n})
                assert reply == {"ok": True, "echo": {"cmd": "status", "n": n}}
                assert took_s < ANSWER_S, took_s
            deadline = time.monotonic() + 1.0 + CUT_SLACK_S
            while hostiles.cut < HOSTILE and time.monotonic() < deadline:
                time.sleep(0.1)
            assert hostiles.cut >= HOSTILE  # every one of the first hundred was cut off
            assert request(tmp_path, {"cmd": "last"})["ok"]
    finally:
        server.close()


def test_past_the_connection_limit_new_ones_wait_in_the_backlog(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(ctlsock, "CONNECTIONS_MAX", 8)
    monkeypatch.setattr(ctlsock, "REQUEST_DEADLINE_S", 1.0)
    server = ControlServer(tmp_path, lambda req: {"ok": True})
    silent = []
    try:
        for _ in range(30):  # more than can be open: the rest wait in the backlog
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(str(ctlsock.socket_path(tmp_path)))
            silent.append(sock)
        reply, took_s = _timed(request, tmp_path, {"cmd": "x"}, 30.0)
        assert reply == {"ok": True}  # waited its turn: 30 / 8 deadlines of 1 s
        assert took_s < 4 * 1.0 + CUT_SLACK_S, took_s
    finally:
        for sock in silent:
            sock.close()
        server.close()


def test_status_kill_restart_and_down_get_through(start_plain, cli, cluster_dir, procs, helpers):
    up = start_plain("-n", "3", "--seed", "11")
    procs.track(up.pid)
    cli.stable_leader(3)
    assert cli.ok("put", "kept", "yes").strip() == "OK"
    with Hostiles(ctlsock.socket_path(cluster_dir), HOSTILE) as hostiles:
        status = json.loads(cli.ok("status", "--json"))
        assert [n["state"] for n in status["nodes"]] == ["running"] * 3
        assert "node 3 killed" in cli.ok("kill", "3")
        assert "node 3 restarted" in cli.ok("restart", "3")  # and it reported its state
        assert "leader" in cli.ok("status")
        assert cli.ok("get", "kept").strip() == "yes"
        helpers.wait_for(lambda: hostiles.cut >= HOSTILE, "the server to cut them off", 30)
        assert cli.ok("status", "--json")  # the next hundred are already there
        assert "stopped" in cli.ok("down")
        assert up.wait(60) == 0
    helpers.no_process_left(procs)


def test_the_client_asks_a_busy_supervisor_again_within_its_deadline(tmp_path) -> None:
    answers = iter(
        [{"ok": False, "error": "too many requests waiting", ctlsock.BUSY_KEY: True}] * 3
    )
    seen = []

    def handler(req):
        seen.append(req)
        return next(answers, {"ok": True, "message": "done"})

    server = ControlServer(tmp_path, handler)
    try:
        assert request(tmp_path, {"cmd": "kill", "node": 1}) == {"ok": True, "message": "done"}
        assert len(seen) == 4  # three busy answers, then the one that did it
        answers = iter(lambda: {"ok": False, "error": "still busy", ctlsock.BUSY_KEY: True}, None)
        reply, took_s = _timed(request, tmp_path, {"cmd": "kill", "node": 1}, 1.0)
        assert reply == {"ok": False, "error": "still busy"}  # its deadline passed: it says so
        assert took_s < 1.0 + CUT_SLACK_S, took_s
    finally:
        server.close()


def test_a_full_job_queue_is_answered_busy_and_nothing_is_done() -> None:
    from types import SimpleNamespace

    from sentinel.cluster.commands import handle_request
    from sentinel.cluster.jobs import JobsFull

    def full(action, timeout_s):
        raise JobsFull("too many requests waiting; try again")

    sup = SimpleNamespace(jobs=SimpleNamespace(call=full))
    reply = handle_request(sup, {"cmd": "kill", "node": 2})  # type: ignore[arg-type]
    assert reply == {"ok": False, "error": "too many requests waiting; try again", "busy": True}
