"""Helpers for tests of the wire format (used by tests of packages that register
constructors): frames a peer could send, built by hand."""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Callable
from typing import Any

from sentinel.wire.codec import HEADER, MAGIC, VERSION


def checked_frame(payload: bytes) -> bytes:
    """A frame with a valid header and checksum around any `payload` (a pickle or not)."""
    return HEADER.pack(MAGIC, VERSION, 0, len(payload), zlib.crc32(payload)) + payload


class _Call:
    """Pickles as a call of `func(arg)`, whatever `arg` is."""

    def __init__(self, func: Callable[[Any], Any], arg: object) -> None:
        self.func, self.arg = func, arg

    def __reduce__(self) -> tuple:
        return (self.func, (self.arg,))


def forged_frame(constructor: Callable[[Any], Any], flat: object) -> bytes:
    """A valid frame whose pickle calls the registered `constructor` with `flat`: what a
    peer could send to test that the constructor refuses a malformed flat form."""
    return checked_frame(pickle.dumps(_Call(constructor, flat), protocol=5))
