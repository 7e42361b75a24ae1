"""The snapshot codec's fast paths (`_write_items`, `_read_items_fast`) against the careful
field-by-field reference: same bytes out, same states in, same verdict on damaged input."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.kvraft.binary import Writer
from sentinel.kvraft.results import ResultCode
from sentinel.kvraft.sessions import Session
from sentinel.kvraft.snapshot import (
    SnapshotError,
    SnapshotState,
    decode_body,
    decode_snapshot,
    encode_snapshot,
)

KEYS = st.text(min_size=1, max_size=200).filter(lambda k: len(k.encode()) <= 1024)
VALUES = st.one_of(
    st.text(max_size=40),
    st.integers(120, 20_000).map(lambda n: "v" * n),  # one-, two- and three-byte lengths
    st.text(alphabet="é€😀", max_size=70),  # multi-byte UTF-8
)


def reference_encode(state: SnapshotState) -> bytes:
    """The format as the module docstring writes it, one field at a time."""
    out = Writer(b"KVS\x01")
    out.uint(state.applied_index)
    items = sorted(state.items)
    out.uint(len(items))
    for key, value in items:
        out.text(key)
        out.text(value)
    sessions = sorted(state.sessions, key=lambda s: (s.last_index, s.client_id))
    out.uint(len(sessions))
    for s in sessions:
        out.uint(s.client_id)
        out.uint(s.seq)
        out.byte(s.code.value)
        out.uint(s.last_index)
    body = out.getvalue()
    return body + zlib.crc32(body).to_bytes(4, "big")


@st.composite
def states(draw) -> SnapshotState:
    items = draw(st.dictionaries(KEYS, VALUES, max_size=12))
    applied = draw(st.integers(0, 2**64 - 1))
    sessions = ()
    if applied > 0:
        cid = draw(st.integers(1, min(applied, 2**40)))
        sessions = (Session(cid, draw(st.integers(1, 99)), ResultCode.OK, applied),)
    return SnapshotState(applied, tuple(sorted(items.items())), sessions)


@settings(max_examples=300)
@given(states())
def test_fast_encode_and_decode_equal_the_reference(state):
    data = encode_snapshot(state)
    assert data == reference_encode(state)
    assert decode_snapshot(data) == state
    body = data[:-4]
    assert decode_body(body, fast=False) == decode_body(body, fast=True) == state


def _verdict(body: bytes, fast: bool):
    try:
        return decode_body(body, fast=fast)
    except SnapshotError:
        return "refused"


@settings(max_examples=500)
@given(states(), st.data())
def test_damaged_bodies_get_the_same_verdict_either_way(state, data):
    """Flip, cut or insert bytes (the checksum would catch most of this; these are the
    bodies it would not): the fast path never accepts what the reference refuses."""
    body = bytearray(encode_snapshot(state)[:-4])
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        at = data.draw(st.integers(4, max(4, len(body) - 1)), label="at")
        kind = data.draw(st.sampled_from(["flip", "cut", "insert"]), label="kind")
        byte = data.draw(st.integers(0, 255), label="byte")
        if kind == "flip" and at < len(body):
            body[at] = byte
        elif kind == "cut":
            del body[at:]
        else:
            body[at:at] = bytes([byte])
    assert _verdict(bytes(body), True) == _verdict(bytes(body), False)


@pytest.mark.parametrize(
    "body",
    [
        b"KVS\x01\x05\x02\x01b\x00\x01a\x00\x00",  # keys out of order
        b"KVS\x01\x05\x01\x00\x00\x00",  # empty key
        b"KVS\x01\x05\x01\x01k\x80\x00\x00",  # non-canonical value length
        b"KVS\x01\x05\x01\x01k\x02\xff\xfe\x00",  # bad UTF-8
        b"KVS\x01\x05\x09\x01k\x00\x00",  # more items announced than present
    ],
)
def test_the_fast_path_hands_unusual_bodies_to_the_reference(body):
    with pytest.raises(SnapshotError):
        decode_body(body, fast=True)
    with pytest.raises(SnapshotError):
        decode_body(body, fast=False)


@settings(max_examples=200)
@given(states())
def test_decoded_sizes_are_the_utf8_sizes(state):
    got = decode_snapshot(encode_snapshot(state))
    if got.value_sizes is not None:  # the fast path read them
        assert got.value_sizes == tuple(len(v.encode()) for _, v in got.items)
        assert got.keys_bytes == sum(len(k.encode()) for k, _ in got.items)
