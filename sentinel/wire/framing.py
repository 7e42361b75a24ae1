"""Reading and writing whole frames on byte streams and multiprocessing connections."""

from __future__ import annotations

from typing import Any, BinaryIO, Protocol

from sentinel.wire.codec import FRAME_BYTES_MAX, HEADER_BYTES, decode, encode, frame_length
from sentinel.wire.errors import WireError


class Connection(Protocol):
    """The part of multiprocessing.connection.Connection that framing uses."""

    def send_bytes(self, buf: bytes) -> None:
        """Send `buf` as one message."""
        ...

    def recv_bytes(self, maxlength: int | None = None) -> bytes:
        """Receive one whole message (OSError when it exceeds `maxlength`; EOFError at end)."""
        ...


def send_message(conn: Connection, obj: Any) -> None:
    """Encode `obj` and send it as one frame on a multiprocessing connection."""
    conn.send_bytes(encode(obj))


def recv_message(conn: Connection) -> Any:
    """Receive one frame from a multiprocessing connection and decode it.

    Raises WireError on a bad frame (the connection stays usable), EOFError on a closed one.
    """
    try:
        data = conn.recv_bytes(HEADER_BYTES + FRAME_BYTES_MAX)
    except OSError as exc:
        if "bad message length" in str(exc):
            raise WireError("frame over the size limit") from exc
        raise
    return decode(data)


def write_frame(stream: BinaryIO, obj: Any) -> None:
    """Encode `obj` and write its frame to a byte stream."""
    stream.write(encode(obj))


def read_frame(stream: BinaryIO) -> Any:
    """Read and decode one frame from a byte stream; None at a clean end of stream."""
    header = stream.read(HEADER_BYTES)
    if not header:
        return None
    length = frame_length(header)
    payload = stream.read(length)
    if len(payload) != length:
        raise WireError(f"truncated frame: {len(payload)} payload bytes of {length}")
    return decode(header + payload)


class FrameDecoder:
    """Incremental frame splitter for a byte stream that arrives in arbitrary pieces."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes; return the whole frames (undecoded) now available, in order."""
        self._buffer += data
        frames: list[bytes] = []
        while len(self._buffer) >= HEADER_BYTES:
            length = frame_length(bytes(self._buffer[:HEADER_BYTES]))
            end = HEADER_BYTES + length
            if len(self._buffer) < end:
                break
            frames.append(bytes(self._buffer[:end]))
            del self._buffer[:end]
        return frames

    @property
    def pending_bytes(self) -> int:
        """Bytes held that do not yet make a whole frame."""
        return len(self._buffer)
