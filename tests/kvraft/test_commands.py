"""Commands, limits and the log-entry codec: validation names the problem, garbage is refused."""

from __future__ import annotations

import contextlib
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentinel.kvraft import (
    CLIENT_ID_MAX,
    KEY_BYTES_MAX,
    SEQ_MAX,
    VALUE_BYTES_MAX,
    Append,
    Cas,
    CommandError,
    Delete,
    Get,
    InvalidRequest,
    Put,
    Register,
    codec,
    decode_command,
    encode_command,
    make_command,
    validate_command,
)
from sentinel.kvraft.codec import WriteBatch

keys = st.text(min_size=1, max_size=20)
values = st.text(max_size=40)
client_ids = st.integers(1, CLIENT_ID_MAX)
seqs = st.integers(1, SEQ_MAX)
commands = st.one_of(
    st.builds(Register),
    st.builds(Get, keys),
    st.builds(Put, keys, values, client_ids, seqs),
    st.builds(Append, keys, values, client_ids, seqs),
    st.builds(Delete, keys, client_ids, seqs),
    st.builds(Cas, keys, st.none() | values, values, client_ids, seqs),
)


@given(commands)
def test_encode_decode_round_trip(command):
    data = encode_command(command)
    assert decode_command(data) == command
    assert encode_command(decode_command(data)) == data  # canonical: one encoding per command


@given(commands)
def test_the_cheap_validity_check_changes_nothing_but_speed(command):
    """Plain ASCII commands skip `validate_command`: the bytes are the same without the skip."""
    with mock.patch.object(codec, "_plainly_valid", lambda _command: False):
        careful = encode_command(command)
    assert encode_command(command) == careful


@given(commands)
def test_the_clients_unchecked_encoding_is_the_one_encoding(command):
    """The client encodes each attempt with `encode_prepared` (validated once, when the call
    was prepared): the bytes are `encode_command`'s and decode to the command."""
    data = codec.encode_prepared(command)
    assert data == encode_command(command)
    assert decode_command(data) == command


def test_log_entries_are_compact():
    assert len(encode_command(Put("x", "1", 1, 1))) <= 10
    assert len(encode_command(Register())) == 3


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        (Get(5), "key must be a str, not int"),
        (Get(""), "key must not be empty"),
        (Get(b"k"), "key must be a str, not bytes"),
        (Get("k" * (KEY_BYTES_MAX + 1)), f"the limit is {KEY_BYTES_MAX} bytes"),
        (Get("é" * (KEY_BYTES_MAX // 2 + 1)), "key is 1026 bytes"),  # UTF-8 bytes, not chars
        (Get("\ud800"), "key is not valid UTF-8 text"),
        (Put("k", 7, 1, 1), "value must be a str, not int"),
        (Put("k", None, 1, 1), "value must be a str, not NoneType"),
        (Put("k", "v" * (VALUE_BYTES_MAX + 1), 1, 1), f"the limit is {VALUE_BYTES_MAX} bytes"),
        (Append("k", "v", "1", 1), "client_id must be an int, not str"),
        (Append("k", "v", True, 1), "client_id must be an int, not bool"),
        (Append("k", "v", 0, 1), "client_id 0 is out of range"),
        (Append("k", "v", CLIENT_ID_MAX + 1, 1), "out of range"),
        (Delete("k", 1, 0), "seq 0 is out of range"),
        (Delete("k", 1, 2.0), "seq must be an int, not float"),
        (Cas("k", 3, "new", 1, 1), "expected must be a str, not int"),
        (Cas("k", None, None, 1, 1), "new must be a str, not NoneType"),
        ("put k v", "unknown operation: str"),
        (None, "unknown operation: NoneType"),
    ],
)
def test_validate_command_names_the_problem(command, problem):
    with pytest.raises(InvalidRequest, match=problem.replace("(", r"\(")):
        validate_command(command)
    with pytest.raises(InvalidRequest):
        encode_command(command)  # nothing invalid can be turned into a log entry


def test_limits_are_inclusive():
    validate_command(Get("k" * KEY_BYTES_MAX))
    validate_command(Put("k", "v" * VALUE_BYTES_MAX, CLIENT_ID_MAX, SEQ_MAX))
    validate_command(Put("k", "", 1, 1))  # the empty value is a value


def test_make_command_by_operation_name():
    assert make_command("put", key="a", value="b", client_id=3, seq=4) == Put("a", "b", 3, 4)
    assert make_command("CAS", key="a", expected=None, new="b", client_id=3, seq=4) == Cas(
        "a", None, "b", 3, 4
    )
    with pytest.raises(InvalidRequest, match="unknown operation 'incr'"):
        make_command("incr", key="a")
    with pytest.raises(InvalidRequest, match="unknown operation 7"):
        make_command(7, key="a")
    with pytest.raises(InvalidRequest, match=r"put: .*value"):
        make_command("put", key="a", client_id=1, seq=1)  # missing field
    with pytest.raises(InvalidRequest, match="unexpected keyword"):
        make_command("get", key="a", value="b")
    with pytest.raises(InvalidRequest, match="key must be a str"):
        make_command("get", key=1)


GOOD = encode_command(Cas("key", "old", "new", 12345, 678))


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "not an encoded command"),
        (b"garbage", "not an encoded command"),
        (b"K\x02\x02\x01k", "not an encoded command"),  # a future version
        (b"K\x01", "truncated"),
        (b"K\x01\x63", "unknown operation code 99"),
        (b"K\x01\x02\x05ab", "truncated: 5 bytes announced"),
        (b"K\x01\x02\x01kX", "1 trailing bytes"),
        (b"K\x01\x02\x00", "0-byte field is out of range \\[1, 1024\\]"),
        (b"K\x01\x02\x02\xff\xfe", "invalid UTF-8"),
        (b"K\x01\x02\x81\x00k", "non-canonical varint"),
        (b"K\x01\x03\x00\x01\x01k\x01v", "number 0 is out of range"),
        (b"K\x01\x03" + b"\xff" * 11, "out of range|too long"),
        (b"K\x01\x06\x01\x01\x01k\x07", "flag must be 0 or 1"),
        ("K\x01\x02\x01k", "must be bytes, not str"),
        (None, "must be bytes, not NoneType"),
    ],
)
def test_decode_refuses_garbage(data, problem):
    with pytest.raises(CommandError, match=problem):
        decode_command(data)


def test_every_truncation_of_a_command_is_refused():
    for cut in range(len(GOOD)):
        with pytest.raises(CommandError):
            decode_command(GOOD[:cut])


@given(st.binary(max_size=64))
def test_random_bytes_decode_or_raise_command_error(data):
    try:
        command = decode_command(data)
    except CommandError:
        return
    for one in command.writes if isinstance(command, WriteBatch) else (command,):
        assert validate_command(one) is one  # whatever decodes is made of valid commands


@given(st.binary(min_size=1, max_size=8), st.integers(0, len(GOOD) - 1))
def test_corrupted_command_decodes_or_raises_command_error(noise, at):
    data = GOOD[:at] + noise + GOOD[at + 1 :]
    with contextlib.suppress(CommandError):
        command = decode_command(data)
        for one in command.writes if isinstance(command, WriteBatch) else (command,):
            validate_command(one)


plain_commands = st.one_of(
    st.builds(Get, keys),
    st.builds(Put, keys, values, client_ids, seqs),
    st.builds(Append, keys, values, client_ids, seqs),
)


@given(plain_commands, st.binary(max_size=6), st.integers(0, 200), st.integers(0, 3))
def test_what_decodes_from_damaged_bytes_is_a_valid_command_in_its_one_encoding(
    command, noise, at, cut
):
    good = encode_command(command)
    assert decode_command(good) == command
    for data in (good[:at] + noise + good[at + 1 :], good[: max(0, len(good) - cut)],
                 good + noise, b"K\x01" + noise):  # fmt: skip
        try:
            decoded = decode_command(data)
        except CommandError:
            continue
        if not isinstance(decoded, WriteBatch):
            assert encode_command(decoded) == data  # canonical: the bytes were its encoding
