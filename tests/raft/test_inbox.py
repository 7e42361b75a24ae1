"""The node's client inbox: sorted by sender, bounded, drained under a budget per turn."""

from __future__ import annotations

import pytest

from sentinel.netsim import protocol as p
from sentinel.raft import inbox as inbox_module
from sentinel.raft.inbox import (
    BAD_INPUT_PER_TURN_MAX,
    CLIENT_BYTES_PER_TURN_MAX,
    ClientInbox,
    from_client,
)


def msg(src: int, payload: bytes = b"x") -> bytes:
    return p.ROUTE.pack(src, 1, 0, p.F_REQUEST) + payload


def test_only_client_ids_go_to_the_inbox():
    assert from_client(msg(p.CLIENT_ID_FIRST)) and from_client(msg(2**32 - 1))
    assert not from_client(msg(p.NODE_ID_MAX)) and not from_client(msg(p.ROUTER_ID))
    assert not from_client(b"\xff\xff\xff\xff")  # too short to carry a header: not a client's


def test_a_full_inbox_sheds_new_messages_but_always_takes_one(monkeypatch):
    monkeypatch.setattr(inbox_module, "INBOX_MSGS_MAX", 3)
    monkeypatch.setattr(inbox_module, "INBOX_BYTES_MAX", 1000)
    box = ClientInbox(1)
    big = msg(1000, bytes(5000))
    box.put(big)  # empty: taken, however large
    box.put(msg(1000))
    assert len(box) == 1 and box.shed == 1
    assert box.take() == big and box.bytes == 0
    for k in range(5):
        box.put(msg(1000 + k))
    assert len(box) == 3 and box.shed == 3
    assert [box.take() for _ in range(3)] == [msg(1000 + k) for k in range(3)]  # in order


def _serve(box: ClientInbox, bad: set[bytes]) -> list[bytes]:
    handled: list[bytes] = []
    count = [0]

    def handle(raw: bytes) -> None:
        handled.append(raw)
        count[0] += raw in bad

    box.serve(handle, lambda: count[0])
    return handled


def test_a_turn_stops_after_its_bad_input_budget_and_the_rest_waits_in_order():
    box = ClientInbox(1)
    junk = msg(1000, b"junk")
    good = [msg(1001, b"good%d" % k) for k in range(3)]
    box.put(good[0])
    for _ in range(BAD_INPUT_PER_TURN_MAX + 10):
        box.put(junk)
    box.put(good[1])
    first = _serve(box, {junk})
    assert first == [good[0]] + [junk] * BAD_INPUT_PER_TURN_MAX
    box.put(good[2])
    assert _serve(box, {junk}) == [junk] * 10 + good[1:]
    assert len(box) == 0 and box.bytes == 0


@pytest.mark.parametrize("size", [CLIENT_BYTES_PER_TURN_MAX // 4, CLIENT_BYTES_PER_TURN_MAX * 2])
def test_a_turn_handles_at_most_its_byte_budget_but_at_least_one(size):
    box = ClientInbox(1)
    for k in range(6):
        box.put(msg(1000 + k, bytes(size)))
    handled = _serve(box, set())
    assert len(handled) == max(1, -(-CLIENT_BYTES_PER_TURN_MAX // (size + p.ROUTE_BYTES)))
