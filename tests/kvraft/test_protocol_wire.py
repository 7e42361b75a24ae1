"""KVReply on the wire: every shape round-trips through its flat form, and a malformed flat
form is a WireError, never a half-built reply."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentinel.kvraft.protocol import ERRORS, KVReply, kv_reply_from_wire
from sentinel.kvraft.results import Result, ResultCode
from sentinel.netsim.rpc import RpcReply
from sentinel.wire import WireError, decode, encode
from sentinel.wire.testing import forged_frame

results = st.builds(
    Result,
    st.sampled_from(ResultCode),
    st.none() | st.text(max_size=20),
    st.booleans(),
    st.integers(0, 2**62),
    st.text(max_size=20),
)
replies = st.builds(
    KVReply, st.sampled_from(ERRORS), st.none() | results, st.integers(0, 9), st.text(max_size=20)
)


@given(replies)
def test_every_reply_round_trips_to_an_equal_copy(reply: KVReply) -> None:
    back = decode(encode(RpcReply(reply)), RpcReply).value
    assert back == reply
    assert back.result is None or back.result.code is reply.result.code  # the enum member


@pytest.mark.parametrize(
    "flat",
    [
        ("OK", 0),  # too short
        ("OK", 0, "", 0, None, False, 0),  # a result field short
        ("MAYBE", 0, ""),  # no such error
        ("OK", 0, "", 99, None, False, 0, ""),  # no such result code
        ("OK", 0, "", -1, None, False, 0, ""),  # nor a negative one
        ("OK", 0, "", "0", None, False, 0, ""),  # a code that is not an int
        ["OK", 0, ""],  # not a tuple
    ],
)
def test_a_malformed_flat_reply_is_a_wire_error(flat: object) -> None:
    with pytest.raises(WireError):
        decode(forged_frame(kv_reply_from_wire, flat))
