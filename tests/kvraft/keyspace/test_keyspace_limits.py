"""The limits: `validate` before the log, and the same check again in `apply`."""

from __future__ import annotations

from sentinel.kvraft.keyspace import KEY_BYTES_MAX, VALUE_BYTES_MAX, Keyspace, validate
from sentinel.kvraft.keyspace.replies import Error
from tests.kvraft.keyspace.helpers import args_of, plain

BIG_KEY = b"k" * (KEY_BYTES_MAX + 1)
BIG_VALUE = b"v" * (VALUE_BYTES_MAX + 1)


def test_validate_accepts_commands_within_the_limits() -> None:
    assert validate(args_of("SET", b"k" * KEY_BYTES_MAX, b"v" * VALUE_BYTES_MAX)) is None
    assert validate(args_of("mset", "a", "1", "b", "2")) is None
    assert validate(args_of("DBSIZE")) is None


def test_validate_names_what_is_wrong() -> None:
    key_error = validate(args_of("SET", BIG_KEY, "v"))
    assert isinstance(key_error, Error) and f"limit is {KEY_BYTES_MAX} bytes" in key_error.text
    value_error = validate(args_of("SET", "k", BIG_VALUE))
    assert isinstance(value_error, Error) and str(VALUE_BYTES_MAX) in value_error.text
    mset_error = validate(args_of("MSET", "a", "1", BIG_KEY, "2"))
    assert isinstance(mset_error, Error) and "key is" in mset_error.text
    assert validate(args_of("GET")) == Error("ERR wrong number of arguments for 'get' command")
    unknown = validate(args_of("EVAL", "x"))
    assert isinstance(unknown, Error) and unknown.text.startswith("ERR unknown command 'EVAL'")


def test_apply_checks_again_and_changes_nothing() -> None:
    ks = Keyspace()
    for command in (
        args_of("SET", BIG_KEY, "v"),
        args_of("SET", "k", BIG_VALUE),
        args_of("MSET", "a", "1", BIG_KEY, "2"),
        args_of("APPEND", "k", BIG_VALUE),
    ):
        assert str(plain(ks.apply(command, 0))).startswith("-ERR")
    assert len(ks) == 0
    assert ks.encode() == Keyspace().encode()
