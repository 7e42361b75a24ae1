"""encode/decode: checked frames carrying a pickle that only registered classes can appear in.

A frame is a 12-byte header followed by the pickle:

    magic b"SN" | version (1 byte) | reserved (1 byte) | length (u32, big-endian) | crc32 (u32)

Decoding checks the header, the length and the checksum before the unpickler sees a byte,
and the unpickler resolves only registered classes and a few plain builtins, so a frame can
never name `os.system` or any other callable.
"""

from __future__ import annotations

import builtins
import io
import pickle
import struct
import zlib
from typing import Any, TypeVar

from sentinel.wire.errors import WireError
from sentinel.wire.registry import is_registered, registered

T = TypeVar("T")

MAGIC = b"SN"
VERSION = 1
HEADER = struct.Struct(">2sBBII")
HEADER_BYTES = HEADER.size
#: Upper bound on a frame's payload. Snapshots travel whole, so this is generous but finite.
FRAME_BYTES_MAX = 64 * 1024 * 1024
_PROTOCOL = 5

#: Builtin types a frame may construct besides the pickle opcodes' own (all are plain data).
_SAFE_BUILTINS: frozenset[str] = frozenset({"set", "frozenset", "bytearray", "complex"})


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only registered messages and `_SAFE_BUILTINS`, so a frame
    can build plain data and registered messages but never reach any other callable."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "builtins" and name in _SAFE_BUILTINS:
            return getattr(builtins, name)
        cls = registered(module, name)
        if cls is None:
            raise WireError(f"frame names {module}.{name}, which is not a registered message")
        return cls


def encode(obj: Any) -> bytes:
    """Encode a registered message (or plain builtin data) into one checked frame."""
    top = type(obj)
    if top.__module__ != "builtins" and not is_registered(top):
        raise WireError(f"cannot encode {top.__qualname__}: not a registered message")
    try:
        payload = pickle.dumps(obj, protocol=_PROTOCOL)
    except Exception as exc:  # a lock, a file, a lambda somewhere inside
        raise WireError(f"cannot encode {top.__qualname__}: {exc}") from exc
    if len(payload) > FRAME_BYTES_MAX:
        raise WireError(f"message of {len(payload)} bytes is over the {FRAME_BYTES_MAX}-byte limit")
    return HEADER.pack(MAGIC, VERSION, 0, len(payload), zlib.crc32(payload)) + payload


def frame_length(header: bytes) -> int:
    """The payload length announced by a frame header; WireError if the header is bad."""
    if len(header) < HEADER_BYTES:
        raise WireError(f"truncated frame: {len(header)} header bytes of {HEADER_BYTES}")
    magic, version, _reserved, length, _crc = HEADER.unpack_from(header)
    if magic != MAGIC:
        raise WireError(f"not a Sentinel frame (magic {magic!r})")
    if version != VERSION:
        raise WireError(f"frame version {version} is not supported (expected {VERSION})")
    if length > FRAME_BYTES_MAX:
        raise WireError(f"frame of {length} bytes is over the {FRAME_BYTES_MAX}-byte limit")
    return length


def decode(frame: bytes | bytearray | memoryview, expect: type[T] | None = None) -> T:
    """Decode one checked frame. Raises WireError for anything but a whole, valid frame.

    With `expect`, the decoded value must be an instance of that type.
    """
    view = memoryview(frame)
    if len(view) < HEADER_BYTES:
        raise WireError(f"truncated frame: {len(view)} header bytes of {HEADER_BYTES}")
    magic, version, _reserved, length, crc = HEADER.unpack_from(view)
    if magic != MAGIC or version != VERSION or length > FRAME_BYTES_MAX:
        frame_length(bytes(view[:HEADER_BYTES]))  # raises the error that fits
    payload = view[HEADER_BYTES:]
    if len(payload) != length:
        raise WireError(f"truncated or padded frame: {len(payload)} payload bytes of {length}")
    if zlib.crc32(payload) != crc:
        raise WireError("corrupt frame: checksum mismatch")
    try:
        obj = _RestrictedUnpickler(io.BytesIO(payload)).load()
    except WireError:
        raise
    except Exception as exc:  # any malformed pickle: never let it escape as something else
        raise WireError(f"malformed frame payload: {type(exc).__name__}: {exc}") from exc
    if expect is not None and not isinstance(obj, expect):
        raise WireError(f"expected {expect.__qualname__}, got {type(obj).__qualname__}")
    return obj
