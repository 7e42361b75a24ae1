"""Raft messages on the wire: every kind round-trips through its flat form, and a frame whose
flat form is malformed is a WireError, never a half-built message."""

from __future__ import annotations

import pickle
import pickletools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentinel.raft.messages import (
    Entry,
    EntryKind,
    Message,
    MessageType,
    Snapshot,
    SnapshotMeta,
    message_from_wire,
)
from sentinel.wire import WireError, decode, encode
from sentinel.wire.testing import forged_frame

ints = st.integers(min_value=0, max_value=2**63)
entries = st.builds(Entry, ints, ints, st.binary(max_size=64), st.sampled_from(EntryKind))
snapshots = st.none() | st.builds(Snapshot, st.builds(SnapshotMeta, ints, ints), st.binary())
messages = st.builds(
    Message,
    st.sampled_from(MessageType),
    ints,
    ints,
    ints,
    log_term=ints,
    index=ints,
    entries=st.lists(entries, max_size=5).map(tuple),
    commit=ints,
    reject=st.booleans(),
    reject_hint=ints,
    snapshot=snapshots,
    context=st.binary(max_size=16),
    force=st.booleans(),
)


@given(messages)
def test_every_message_round_trips_to_an_equal_copy(m: Message) -> None:
    back = decode(encode(m), Message)
    assert back == m
    assert all(type(e) is Entry for e in back.entries)
    assert back.type is m.type and [e.kind for e in back.entries] == [e.kind for e in m.entries]


def _flat(**changes: object) -> tuple:
    m = Message(MessageType.APPEND, 1, 2, 3, entries=(Entry(3, 4, b"x"),))
    fields = list(m.__reduce__()[1][0])
    names = ["type", "src", "dst", "term", "log_term", "index", "entries", "commit",
             "reject", "reject_hint", "snapshot", "context", "force"]  # fmt: skip
    for name, value in changes.items():
        fields[names.index(name)] = value
    return tuple(fields)


@pytest.mark.parametrize(
    "flat",
    [
        _flat()[:-1],  # a field short
        (*_flat(), 0),  # a field too many
        _flat(type=99),  # no such message type
        _flat(entries=((3, 4, b"x"),)),  # an entry without its kind
        _flat(entries=((3, 4, b"x", 7),)),  # no such entry kind
        _flat(entries=5),  # entries that are not a sequence
        _flat(snapshot=(1, 2)),  # a snapshot without data
        "not a tuple",
    ],
)
def test_a_malformed_flat_message_is_a_wire_error(flat: object) -> None:
    with pytest.raises(WireError):
        decode(forged_frame(message_from_wire, flat))


def test_the_flat_form_is_plain_data() -> None:
    m = Message(
        MessageType.SNAPSHOT, 1, 2, 3, snapshot=Snapshot(SnapshotMeta(5, 2), b"state"),
        entries=(Entry(2, 5, b"d", EntryKind.EMPTY),),
    )  # fmt: skip
    func, (flat,) = m.__reduce__()
    assert func is message_from_wire
    ops = {op.name for op, _arg, _pos in pickletools.genops(pickle.dumps(flat, protocol=5))}
    assert not ops & {"GLOBAL", "STACK_GLOBAL", "REDUCE"}  # ints, bytes, tuples: no class
    assert message_from_wire(flat) == m
