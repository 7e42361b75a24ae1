"""encode/decode: round trips, copies, and every kind of bad frame refused without harm."""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentinel.wire import (
    FRAME_BYTES_MAX,
    HEADER_BYTES,
    WireError,
    decode,
    encode,
    message,
)
from sentinel.wire.testing import checked_frame


@message
class Entry:
    term: int
    data: bytes


@message
class Append:
    term: int
    entries: list[Entry]
    meta: dict[str, tuple[int, ...]]
    tags: frozenset[str]


def _sample() -> Append:
    return Append(4, [Entry(1, b"x"), Entry(4, b"")], {"a": (1, 2)}, frozenset({"t"}))


def test_round_trip_gives_an_equal_copy() -> None:
    msg = _sample()
    back = decode(encode(msg))
    assert back == msg
    assert back is not msg
    assert back.entries is not msg.entries


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.text()
        | st.binary()
        | st.floats(allow_nan=False),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner) | st.tuples(inner, inner),
        max_leaves=20,
    )
)
def test_plain_builtin_data_round_trips(value: object) -> None:
    assert decode(encode(value)) == value


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned > /dev/null",))


def test_pickle_that_calls_os_system_is_refused_without_running() -> None:
    frame = checked_frame(pickle.dumps(_Evil()))
    with pytest.raises(WireError, match=r"posix\.system|os\.system"):
        decode(frame)


def test_unregistered_class_is_refused_on_both_sides() -> None:
    class Stranger:
        pass

    with pytest.raises(WireError, match="not a registered"):
        encode(Stranger())
    with pytest.raises(WireError, match="not a registered"):
        decode(checked_frame(pickle.dumps(io.BytesIO)))


def test_value_that_cannot_be_pickled_is_a_wire_error() -> None:
    with pytest.raises(WireError, match="cannot encode"):
        encode([lambda: None])


@pytest.mark.parametrize("cut", [0, 3, HEADER_BYTES, HEADER_BYTES + 5])
def test_truncated_frame_is_refused(cut: int) -> None:
    with pytest.raises(WireError, match="truncated"):
        decode(encode(_sample())[:cut])


def test_bit_flip_is_caught_by_the_checksum() -> None:
    frame = bytearray(encode(_sample()))
    frame[-3] ^= 0x10
    with pytest.raises(WireError, match="checksum"):
        decode(bytes(frame))


def test_oversize_frame_is_refused_from_its_header() -> None:
    header = struct.pack(">2sBBII", b"SN", 1, 0, FRAME_BYTES_MAX + 1, 0)
    with pytest.raises(WireError, match="over the"):
        decode(header)


@given(st.binary(max_size=200))
def test_garbage_bytes_are_a_wire_error(data: bytes) -> None:
    with pytest.raises(WireError):
        decode(data)


@given(st.binary(min_size=1, max_size=200))
def test_garbage_pickle_with_a_valid_header_is_a_wire_error(payload: bytes) -> None:
    # Some short byte strings are valid pickles of builtins and decode harmlessly; any
    # exception other than WireError escaping here fails the test.
    with contextlib.suppress(WireError):
        decode(checked_frame(payload))


def test_expect_checks_the_type() -> None:
    with pytest.raises(WireError, match="expected Entry"):
        decode(encode(_sample()), expect=Entry)
