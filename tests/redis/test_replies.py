"""Reply encoding: RESP3 types, and how RESP2 degrades them exactly as Redis does."""

from __future__ import annotations

import pytest

from sentinel.redis.replies import (
    NULL_ARRAY,
    OK,
    BigNumber,
    Error,
    ReplySet,
    Simple,
    Verbatim,
    encode,
    format_double,
)

CASES = [
    (b"a\r\nb", b"$4\r\na\r\nb\r\n", b"$4\r\na\r\nb\r\n"),
    ("é", b"$2\r\n\xc3\xa9\r\n", b"$2\r\n\xc3\xa9\r\n"),
    (-7, b":-7\r\n", b":-7\r\n"),
    (None, b"$-1\r\n", b"_\r\n"),
    (NULL_ARRAY, b"*-1\r\n", b"_\r\n"),
    (True, b":1\r\n", b"#t\r\n"),
    (False, b":0\r\n", b"#f\r\n"),
    (1.5, b"$3\r\n1.5\r\n", b",1.5\r\n"),
    (float("-inf"), b"$4\r\n-inf\r\n", b",-inf\r\n"),
    ([1, [b"x"], None], b"*3\r\n:1\r\n*1\r\n$1\r\nx\r\n$-1\r\n",
     b"*3\r\n:1\r\n*1\r\n$1\r\nx\r\n_\r\n"),
    ({"a": 1, "b": b"2"}, b"*4\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n$1\r\n2\r\n",
     b"%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n$1\r\n2\r\n"),
    (ReplySet([Simple("write"), Simple("fast")]), b"*2\r\n+write\r\n+fast\r\n",
     b"~2\r\n+write\r\n+fast\r\n"),
    (OK, b"+OK\r\n", b"+OK\r\n"),
    (Error("ERR bad\r\nthing"), b"-ERR bad  thing\r\n", b"-ERR bad  thing\r\n"),
    (Verbatim("a:b"), b"$3\r\na:b\r\n", b"=7\r\ntxt:a:b\r\n"),
    (BigNumber(2**70), b"$22\r\n1180591620717411303424\r\n", b"(1180591620717411303424\r\n"),
]  # fmt: skip


@pytest.mark.parametrize(("reply", "resp2", "resp3"), CASES)
def test_resp3_and_how_resp2_degrades(reply: object, resp2: bytes, resp3: bytes) -> None:
    assert encode(reply, 2) == resp2
    assert encode(reply, 3) == resp3


def test_a_set_in_resp3_and_resp2() -> None:
    assert encode({b"x"}, 3) == b"~1\r\n$1\r\nx\r\n"
    assert encode({b"x"}, 2) == b"*1\r\n$1\r\nx\r\n"


@pytest.mark.parametrize(
    ("value", "text"),
    [(3.0, "3"), (-0.5, "-0.5"), (1e20, "1e+20"), (0.1, "0.1"), (float("nan"), "nan")],
)
def test_doubles_are_written_as_redis_writes_them(value: float, text: str) -> None:
    assert format_double(value) == text


def test_a_value_that_is_no_reply_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="not a reply value"):
        encode(object())
