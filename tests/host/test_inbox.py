"""The node's client inbox: sorted by sender, bounded, drained under a budget per turn, and
a client that sends junk is muted (its messages dropped unread) while others are served."""

from __future__ import annotations

import multiprocessing.connection

import pytest

from sentinel.host import inbox as inbox_module
from sentinel.host.inbox import (
    BAD_INPUT_PER_TURN_MAX,
    CLIENT_BYTES_PER_TURN_MAX,
    MUTE_BAD_FRAMES,
    MUTE_S,
    ClientInbox,
    from_client,
)
from sentinel.netsim import protocol as p
from sentinel.netsim.endpoint import Endpoint

JUNK = b"junk"


def msg(src: int, payload: bytes = b"x") -> bytes:
    return p.ROUTE.pack(src, 1, 0, p.F_REQUEST) + payload


class Server:
    """Handles messages as a node would, counting those whose payload is JUNK as bad."""

    def __init__(self) -> None:
        self.handled: list[bytes] = []
        self.bad = 0

    def handle(self, raw: bytes) -> None:
        self.handled.append(raw)
        self.bad += raw.endswith(JUNK)

    def serve(self, box: ClientInbox) -> list[bytes]:
        self.handled = []
        box.serve(self.handle, lambda: self.bad)
        return self.handled


def test_only_client_ids_go_to_the_inbox():
    assert from_client(msg(p.CLIENT_ID_FIRST)) and from_client(msg(2**32 - 1))
    assert not from_client(msg(p.NODE_ID_MAX)) and not from_client(msg(p.ROUTER_ID))
    assert not from_client(b"\xff\xff\xff\xff")  # too short to carry a header: not a client's


def test_a_full_inbox_refuses_new_messages_but_always_takes_one(monkeypatch):
    monkeypatch.setattr(inbox_module, "INBOX_MSGS_MAX", 4)
    monkeypatch.setattr(inbox_module, "INBOX_BYTES_MAX", 1000)
    box = ClientInbox(1)
    big = msg(1000, bytes(5000))
    box.put([big, msg(1000)])  # empty: the first is taken, however large
    assert box.shedding and box.to_drop() and 1234 in box.to_drop() and 5 not in box.to_drop()
    assert len(box) == 1 and box.shed == 1
    assert Server().serve(box) == [big] and box.bytes == 0 and not box.shedding
    box.put([msg(1000 + k) for k in range(3)])
    box.put([msg(1003), msg(1004), msg(1005)])
    assert len(box) == 4 and box.shed == 3
    assert Server().serve(box) == [msg(1000 + k) for k in range(4)]  # in order
    box.note_shed(0)
    assert box.shed == 3


def test_a_turn_stops_after_its_bad_input_budget_and_the_rest_waits_in_order():
    box = ClientInbox(1)
    good = [msg(9999, b"good%d" % k) for k in range(3)]
    junk = [msg(1000 + k % 100, JUNK) for k in range(BAD_INPUT_PER_TURN_MAX + 10)]
    box.put([good[0], *junk, good[1]])
    server = Server()
    assert server.serve(box) == [good[0], *junk[:BAD_INPUT_PER_TURN_MAX]]
    box.put([good[2]])
    assert server.serve(box) == junk[BAD_INPUT_PER_TURN_MAX:] + good[1:]
    assert len(box) == 0 and box.bytes == 0 and not box.muted  # 100 senders: none muted


def test_a_client_that_sends_junk_is_muted_and_the_others_are_served():
    now = [50.0]
    box = ClientInbox(1, clock=lambda: now[0])
    for _ in range(MUTE_BAD_FRAMES + 100):
        box.put([msg(1000, JUNK)])
    box.put([msg(1001, b"good")])
    server = Server()
    assert server.serve(box) == [msg(1000, JUNK)] * MUTE_BAD_FRAMES + [msg(1001, b"good")]
    assert box.shed == 100 and 1000 in box.to_drop() and 1001 not in box.to_drop()
    now[0] += MUTE_S - 0.1
    box.on_tick()
    assert 1000 in box.muted
    now[0] += 0.2
    box.on_tick()
    assert not box.muted and not box.to_drop()


def test_bad_frames_spread_over_seconds_do_not_mute():
    now = [50.0]
    box = ClientInbox(1, clock=lambda: now[0])
    server = Server()
    for _ in range(3):
        for _ in range(MUTE_BAD_FRAMES - 1):
            box.put([msg(1000, JUNK)])
        server.serve(box)
        now[0] += 1.0
        box.on_tick()
    assert not box.muted and server.bad == 3 * (MUTE_BAD_FRAMES - 1)


def test_a_read_drops_a_muted_clients_messages_unread():
    ours, theirs = multiprocessing.connection.Pipe()
    try:
        box = ClientInbox(1)
        box.muted[1000] = float("inf")
        endpoint = Endpoint(ours, 1)
        for raw in [msg(1000), msg(2, b"peer"), msg(1000), msg(1001, b"other client")]:
            theirs.send_bytes(raw)
        assert box.read(endpoint, ours.poll) == [msg(2, b"peer"), msg(1001, b"other client")]
        assert box.shed == 2 and endpoint.shed_msgs == 2
    finally:
        ours.close()
        theirs.close()


@pytest.mark.parametrize("size", [CLIENT_BYTES_PER_TURN_MAX // 4, CLIENT_BYTES_PER_TURN_MAX * 2])
def test_a_turn_handles_at_most_its_byte_budget_but_at_least_one(size):
    box = ClientInbox(1)
    for k in range(6):
        box.put([msg(1000 + k, bytes(size))])
    handled = Server().serve(box)
    assert len(handled) == max(1, -(-CLIENT_BYTES_PER_TURN_MAX // (size + p.ROUTE_BYTES)))
