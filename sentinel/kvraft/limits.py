"""Limits on what a key/value request may carry, and the checks that enforce them.

Every request is checked **before** it reaches the raft log, by the clerk and again by the
server, so an oversize or ill-typed request costs one clear `InvalidRequest` and nothing else.
The state machine checks again when it decodes a log entry (a log entry that breaks a limit
becomes a BAD_COMMAND result on every replica alike; it never stops a replica).

The limits:

- **Keys** are non-empty `str` of at most `KEY_BYTES_MAX` = 1 KiB (1024 bytes) once encoded
  as UTF-8. Strings that cannot be encoded as UTF-8 (lone surrogates) are refused.
- **Values** are `str` of at most `VALUE_BYTES_MAX` = 1 MiB (1,048,576 bytes) as UTF-8; the
  empty string is a valid value. An Append that would grow a value past this limit is not
  applied and answers VALUE_TOO_LARGE.
- **Collections** (Redis hashes, lists, sets and sorted sets) hold at most
  `COLLECTION_ELEMENTS_MAX` = 1,000,000 elements (fields, items or members) each, and every
  element (a field, a field's value, an item, a member) is at most `ELEMENT_BYTES_MAX` = 64 KiB.
  A command that would break either bound changes nothing and answers an error.
- **Client ids** are `int` in [1, 2**62): the log index of the client's Register entry.
- **Sequence numbers** are `int` in [1, 2**63), increasing per client.
- **Sessions**: the state machine keeps at most `sessions_max` client sessions
  (`SESSIONS_MAX_DEFAULT` = 10,000); the least recently used in log order is expired first.

`bool` is refused wherever an `int` is expected (it is an int subclass in Python, but a
True client id is a bug, not a request). Likewise keys and values must be exactly `str`: a
`str` subclass (an enum member, a tagged string) cannot travel in a frame, and converting it
here would store what its `__str__` says, which need not be its text; the caller converts.

A call's deadline, `timeout_s`, is an `int` or `float` (not `bool`) of seconds in
(0, `TIMEOUT_S_MAX`]: a wrong type raises TypeError, a wrong value InvalidRequest.
"""

from __future__ import annotations

KEY_BYTES_MAX = 1024
VALUE_BYTES_MAX = 1024 * 1024
COLLECTION_ELEMENTS_MAX = 1_000_000
ELEMENT_BYTES_MAX = 64 * 1024
CLIENT_ID_MAX = 2**62 - 1
SEQ_MAX = 2**63 - 1
SESSIONS_MAX_DEFAULT = 10_000
#: The longest deadline a call may ask for (a day): past it, waits overflow the OS's timeouts.
TIMEOUT_S_MAX = 24 * 3600.0


class InvalidRequest(ValueError):
    """A request breaks a limit or carries the wrong type; the message names the problem."""


def text_bytes(text: str, what: str) -> int:
    """The UTF-8 length of `text`; InvalidRequest if it cannot be encoded."""
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidRequest(f"{what} is not valid UTF-8 text: {exc.reason}") from None


def _not_str(value: object, what: str) -> InvalidRequest:
    name = type(value).__name__
    if isinstance(value, str):
        return InvalidRequest(f"{what} must be a str, not {name} (a subclass of str)")
    return InvalidRequest(f"{what} must be a str, not {name}")


def validate_key(key: object) -> str:
    """Check one key: a non-empty str (exactly) of at most KEY_BYTES_MAX UTF-8 bytes."""
    if type(key) is not str:
        raise _not_str(key, "key")
    if not key:
        raise InvalidRequest("key must not be empty")
    size = text_bytes(key, "key")
    if size > KEY_BYTES_MAX:
        raise InvalidRequest(f"key is {size} bytes; the limit is {KEY_BYTES_MAX} bytes")
    return key


def validate_value(value: object, what: str = "value") -> str:
    """Check one value: a str (exactly) of at most VALUE_BYTES_MAX UTF-8 bytes (may be empty)."""
    if type(value) is not str:
        raise _not_str(value, what)
    size = text_bytes(value, what)
    if size > VALUE_BYTES_MAX:
        raise InvalidRequest(f"{what} is {size} bytes; the limit is {VALUE_BYTES_MAX} bytes")
    return value


def validate_int(number: object, what: str, low: int, high: int) -> int:
    """Check an int (not a bool) in [low, high]."""
    if isinstance(number, bool) or not isinstance(number, int):
        raise InvalidRequest(f"{what} must be an int, not {type(number).__name__}")
    if not low <= number <= high:
        raise InvalidRequest(f"{what} {number} is out of range [{low}, {high}]")
    return number


def validate_client_id(client_id: object) -> int:
    """Check a client id: an int in [1, CLIENT_ID_MAX]."""
    return validate_int(client_id, "client_id", 1, CLIENT_ID_MAX)


def validate_seq(seq: object) -> int:
    """Check a sequence number: an int in [1, SEQ_MAX]."""
    return validate_int(seq, "seq", 1, SEQ_MAX)


def validate_sessions_max(sessions_max: object) -> int:
    """Check the session table bound: an int of at least 1."""
    return validate_int(sessions_max, "sessions_max", 1, 2**31)


def validate_timeout_s(timeout_s: object, what: str = "timeout_s") -> float:
    """Check a call's deadline in seconds: TypeError unless an int or float (not a bool);
    InvalidRequest unless finite and in (0, TIMEOUT_S_MAX]."""
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float):
        raise TypeError(
            f"{what} must be a number of seconds (int or float), not {type(timeout_s).__name__}"
        )
    if not 0 < timeout_s <= TIMEOUT_S_MAX:  # False for NaN and infinities too
        raise InvalidRequest(
            f"{what} must be more than 0 and at most {TIMEOUT_S_MAX:g} seconds, not {timeout_s!r}"
        )
    return float(timeout_s)
