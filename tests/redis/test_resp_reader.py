"""The request reader: multibulk and inline requests parse back exactly, whatever way the
bytes are cut; malformed input gets Redis's error texts; limits hold."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.redis import limits
from sentinel.redis.replies import encode
from sentinel.redis.resp import ProtocolError, RequestReader

requests_st = st.lists(st.lists(st.binary(max_size=40), min_size=1, max_size=6), max_size=6)


def parse_all(data: bytes, piece: int | None = None, limit: int = 1 << 30) -> list[list[bytes]]:
    """Feed `data` whole or in pieces of `piece` bytes; every request parsed."""
    reader = RequestReader()
    out: list[list[bytes]] = []
    step = piece or max(1, len(data))
    for start in range(0, len(data), step):
        reader.feed(data[start : start + step])
        while batch := reader.requests(limit):
            out += batch
    assert reader.buffered() == 0
    return out


def error_of(data: bytes, reader: RequestReader | None = None) -> str:
    """The ProtocolError text `data` raises."""
    reader = reader or RequestReader()
    reader.feed(data)
    with pytest.raises(ProtocolError) as info:
        while reader.requests():
            pass
    return str(info.value)


@given(requests_st)
def test_any_requests_encode_and_parse_back(requests: list[list[bytes]]) -> None:
    assert parse_all(b"".join(encode(r) for r in requests)) == requests


@settings(max_examples=30)
@given(requests_st)
def test_cut_at_every_byte_boundary_parses_the_same(requests: list[list[bytes]]) -> None:
    data = b"".join(encode(r) for r in requests)
    for cut in range(len(data) + 1):
        reader = RequestReader()
        reader.feed(data[:cut])
        got = reader.requests(1 << 30)
        reader.feed(data[cut:])
        got += reader.requests(1 << 30)
        assert got == requests, cut
    assert parse_all(data, piece=1) == requests


def test_the_limit_caps_one_call_and_the_rest_stays_buffered() -> None:
    reader = RequestReader()
    reader.feed(encode([b"PING"]) * 5)
    assert reader.requests(2) == [[b"PING"]] * 2
    assert reader.requests(10) == [[b"PING"]] * 3


def test_inline_commands_as_typed_into_nc() -> None:
    data = b"PING\r\nSET k \"a b\\r\\n\\x41\"\nECHO 'it\\'s'\r\n\r\n   \r\nGET k\n"
    assert parse_all(data) == [[b"PING"], [b"SET", b"k", b"a b\r\nA"], [b"ECHO", b"it's"],
                               [b"GET", b"k"]]  # fmt: skip
    assert parse_all(data, piece=1) == parse_all(data)


def test_empty_and_negative_multibulks_are_skipped_as_in_redis() -> None:
    assert parse_all(b"*0\r\n*-1\r\n" + encode([b"PING"])) == [[b"PING"]]


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"*x\r\n", "Protocol error: invalid multibulk length"),
        (b"*1x\r\n", "Protocol error: invalid multibulk length"),
        (b"*2000000\r\n", "Protocol error: invalid multibulk length"),
        (b"*99999999999999999999\r\n", "Protocol error: invalid multibulk length"),
        (b"*1\r\n:5\r\n", "Protocol error: expected '$', got ':'"),
        (b"*2\r\n$1\r\na\r\nx\r\n", "Protocol error: expected '$', got 'x'"),
        (b"*1\r\n$x\r\n", "Protocol error: invalid bulk length"),
        (b"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"),
        (b"*1\r\n$ 1\r\na\r\n", "Protocol error: invalid bulk length"),
        (b"*1\r\n$99999999999\r\n", "Protocol error: invalid bulk length"),
        (b"*1\r\n$2\r\nabc\r\n", "Protocol error: bulk string longer than its announced 2 bytes"),
        (b'SET k "ab\r\n', "Protocol error: unbalanced quotes in request"),
        (b"SET k 'ab'c\r\n", "Protocol error: unbalanced quotes in request"),
        (b"x" * (limits.INLINE_BYTES_MAX + 1), "Protocol error: too big inline request"),
        (b"*" + b"1" * limits.INLINE_BYTES_MAX, "Protocol error: too big mbulk count string"),
        (b"*1\r\n$" + b"1" * limits.INLINE_BYTES_MAX, "Protocol error: too big bulk count string"),
    ],
)
def test_malformed_input_gets_redis_error_text(data: bytes, text: str) -> None:
    assert error_of(data) == text


def test_a_request_may_not_announce_more_than_the_query_limit() -> None:
    bulk = limits.BULK_BYTES_MAX
    count = limits.QUERY_BYTES_MAX // bulk + 1
    data = b"*%d\r\n" % count + b"$%d\r\n%b\r\n" % (bulk, b"x" * bulk) * (count - 1)
    text = error_of(data + b"$%d\r\n" % bulk)
    assert text == f"Protocol error: request larger than {limits.QUERY_BYTES_MAX} bytes"


def test_before_auth_the_limits_are_redis_small_ones() -> None:
    reader = RequestReader()
    reader.restrict(limits.UNAUTH_ARGS_MAX, limits.UNAUTH_BULK_BYTES_MAX)
    assert error_of(b"*11\r\n", reader) == "Protocol error: invalid multibulk length"
    reader = RequestReader()
    reader.restrict(limits.UNAUTH_ARGS_MAX, limits.UNAUTH_BULK_BYTES_MAX)
    assert error_of(b"*1\r\n$16385\r\n", reader) == "Protocol error: invalid bulk length"


def test_requests_before_garbage_are_returned_then_the_error() -> None:
    reader = RequestReader()
    reader.feed(encode([b"PING"]) + b"*x\r\n")
    assert reader.requests() == [[b"PING"]]
    with pytest.raises(ProtocolError, match="invalid multibulk length"):
        reader.requests()


def test_has_input_until_every_request_and_the_error_after_them_are_taken() -> None:
    """The connection reads no further when the reader has no input: an error found after
    complete requests is input still owed."""
    reader = RequestReader()
    assert not reader.has_input()
    reader.feed(encode([b"PING"]) * 2)
    assert reader.has_input()
    assert reader.requests(1) == [[b"PING"]]
    assert reader.has_input()
    assert reader.requests() == [[b"PING"]]
    assert not reader.has_input()
    reader.feed(encode([b"PING"]) + b"*x\r\n")
    assert reader.requests() == [[b"PING"]]
    assert reader.has_input()
    with pytest.raises(ProtocolError):
        reader.requests()


def test_a_large_bulk_arriving_in_pieces_comes_out_once_whole() -> None:
    value = b"v" * (3 * 1024 * 1024)
    data = encode([b"SET", b"k", value])
    reader = RequestReader()
    for start in range(0, len(data) - 1, 65536):
        reader.feed(data[start : min(start + 65536, len(data) - 1)])
        assert reader.requests() == []
    reader.feed(data[-1:])
    assert reader.requests() == [[b"SET", b"k", value]]


@given(st.binary(max_size=200), st.integers(min_value=1, max_value=50))
def test_any_bytes_give_requests_or_a_protocol_error_never_a_crash(data: bytes, piece: int) -> None:
    reader = RequestReader()
    try:
        for start in range(0, len(data), piece):
            reader.feed(data[start : start + piece])
            for request in reader.requests(1 << 30):
                assert request and all(type(arg) is bytes for arg in request)
    except ProtocolError as exc:
        assert str(exc).startswith("Protocol error: ")
