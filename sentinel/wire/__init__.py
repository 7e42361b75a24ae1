"""sentinel.wire: bytes <-> messages.

Message types are frozen, slotted dataclasses registered with `@message`; `encode` turns one
into a checked frame and `decode` turns a frame back into a fresh copy, resolving only
registered classes. Anything else is a `WireError`.
"""

from sentinel.wire.codec import FRAME_BYTES_MAX, HEADER_BYTES, decode, encode, frame_length
from sentinel.wire.errors import RegistrationError, WireError, WireWarning
from sentinel.wire.registry import AnyMessage, constructor, is_registered, message

__all__ = [
    "FRAME_BYTES_MAX",
    "HEADER_BYTES",
    "AnyMessage",
    "RegistrationError",
    "WireError",
    "WireWarning",
    "constructor",
    "decode",
    "encode",
    "frame_length",
    "is_registered",
    "message",
]
