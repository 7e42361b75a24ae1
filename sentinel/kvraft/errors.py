"""What a kv client call can raise besides returning its answer.

- `InvalidRequest` (from limits.py, a ValueError): the request breaks a type or a limit; it
  was refused before it reached the log, so nothing changed.
- `OutcomeUnknown` (a TimeoutError): the deadline passed after the write was sent at least
  once without a definite answer. It **may have been applied** (now or later); the client
  never silently drops it and never applies it twice.
- `Unavailable` (a TimeoutError): the deadline passed and the request certainly changed
  nothing (a read, or a write no server accepted).
- `ValueTooLarge`: an Append would grow a value past VALUE_BYTES_MAX; nothing changed.
"""

from __future__ import annotations

from sentinel.kvraft.limits import InvalidRequest


class KVError(Exception):
    """Base class of the kv client's errors (InvalidRequest aside, which is a ValueError)."""


class OutcomeUnknown(KVError, TimeoutError):
    """The write's deadline passed without a definite answer: it may have been applied."""


class Unavailable(KVError, TimeoutError):
    """The deadline passed; the request certainly changed nothing (e.g. a read)."""


class ValueTooLarge(KVError):
    """An Append would grow the value past VALUE_BYTES_MAX; nothing was changed."""


__all__ = ["InvalidRequest", "KVError", "OutcomeUnknown", "Unavailable", "ValueTooLarge"]
