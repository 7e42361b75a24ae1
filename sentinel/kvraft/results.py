"""The result of applying one command: a code, maybe a value, and whether it was a retry.

Results are `@message` types so the server can hand them to the client as they are. They are
deterministic functions of the log prefix: every replica computes the same Result for the same
entry.
"""

from __future__ import annotations

import enum

from sentinel.wire import message


@message
class ResultCode(enum.Enum):
    """What happened. The int values are stable: snapshots store them."""

    OK = 0
    NO_KEY = 1  # Get or Delete of a key that is not there
    CAS_MISMATCH = 2  # Cas whose expected value did not match; nothing changed
    VALUE_TOO_LARGE = 3  # Append that would grow a value past VALUE_BYTES_MAX; nothing changed
    BAD_COMMAND = 4  # a log entry or read that could not be decoded or broke a limit
    STALE_REQUEST = 5  # seq below the session's highest: already answered, not applied
    SESSION_EXPIRED = 6  # unknown or expired client id: not applied; earlier outcome unknown


#: Codes a write can leave in its session as "the last reply".
WRITE_REPLY_CODES = frozenset(
    {ResultCode.OK, ResultCode.NO_KEY, ResultCode.CAS_MISMATCH, ResultCode.VALUE_TOO_LARGE}
)


@message
class Result:
    """The outcome of one command.

    `value` is set only by a Get (or read) that found its key. `duplicate` is True when this
    was a retry of the client's latest write: nothing was applied and `code` is the original
    reply. `client_id` is set only by Register. `detail` explains an error code.
    """

    code: ResultCode
    value: str | None = None
    duplicate: bool = False
    client_id: int = 0
    detail: str = ""

    @property
    def ok(self) -> bool:
        """Whether the command did what it asked (code OK)."""
        return self.code is ResultCode.OK
