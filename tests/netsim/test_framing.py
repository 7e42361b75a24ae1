"""The stream splitter shared by the router's links and the node endpoint."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentinel.netsim.framing import LENGTH, ProtocolError, Splitter
from sentinel.wire import FRAME_BYTES_MAX, HEADER_BYTES, WireError, decode, encode


def _stream(messages: list[bytes]) -> bytes:
    return b"".join(LENGTH.pack(len(m)) + m for m in messages)


@given(
    messages=st.lists(st.binary(max_size=300), max_size=20),
    cuts=st.lists(st.integers(min_value=0, max_value=7000), max_size=12),
    keep_prefix=st.booleans(),
)
def test_any_chunking_gives_back_the_messages_in_order(messages, cuts, keep_prefix):
    stream = _stream(messages)
    splitter = Splitter(1000, keep_prefix=keep_prefix)
    got: list[bytes] = []
    start = 0
    for cut in [*sorted(c % (len(stream) + 1) for c in cuts), len(stream)]:
        got += splitter.feed(memoryview(stream)[start:cut])
        start = cut
    want = [LENGTH.pack(len(m)) + m for m in messages] if keep_prefix else messages
    assert got == want
    assert not splitter.partial


def test_an_impossible_length_is_a_protocol_error():
    splitter = Splitter(10, keep_prefix=False)
    with pytest.raises(ProtocolError):
        splitter.feed(LENGTH.pack(11) + b"x" * 11)
    with pytest.raises(ProtocolError):
        Splitter(10, keep_prefix=False).feed(LENGTH.pack(-1))


def test_a_partial_message_waits_for_the_rest():
    splitter = Splitter(100, keep_prefix=False)
    assert splitter.feed(LENGTH.pack(5) + b"he") == []
    assert splitter.feed(b"llo" + LENGTH.pack(1)) == [b"hello"]
    assert splitter.feed(b"!") == [b"!"]


@given(
    senders=st.lists(st.integers(min_value=0, max_value=2**32 - 1), max_size=30),
    dropped=st.sets(st.integers(min_value=0, max_value=2000), max_size=5),
    cut=st.integers(min_value=0, max_value=400),
)
def test_messages_from_dropped_senders_are_left_out_and_counted(senders, dropped, cut):
    messages = [sender.to_bytes(4, "little") + b"rest%d" % k for k, sender in enumerate(senders)]
    messages.append(b"ab")  # too short to name a sender: never dropped
    stream = _stream(messages)
    splitter = Splitter(1000, keep_prefix=False)
    got = splitter.feed(stream[:cut], dropped) + splitter.feed(stream[cut:], dropped)
    assert got == [
        m for m in messages if len(m) < 4 or int.from_bytes(m[:4], "little") not in dropped
    ]
    assert splitter.shed == len(messages) - len(got)


def test_wire_frames_split_from_a_stream_decode_and_a_bad_one_costs_only_itself():
    """The Splitter is the one place a stream is cut into wire frames; a garbage frame among
    them fails alone with WireError."""
    frames = [encode(("entry", i, b"d" * i)) for i in range(3)]
    stream = _stream([frames[0], b"garbage", frames[1], frames[2]])
    splitter = Splitter(HEADER_BYTES + FRAME_BYTES_MAX, keep_prefix=False)
    got = [m for i in range(0, len(stream), 7) for m in splitter.feed(stream[i : i + 7])]
    assert len(got) == 4 and not splitter.partial
    with pytest.raises(WireError):
        decode(got[1])
    assert [decode(m) for m in got[:1] + got[2:]] == [("entry", i, b"d" * i) for i in range(3)]
