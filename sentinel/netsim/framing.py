"""Splitting a byte stream into messages in `multiprocessing.connection`'s format.

A Connection writes each message as a 4-byte signed big-endian length and then the bytes.
The router (links.py) and a node's endpoint both read big chunks, not one message at a time,
and cut them up here; a message that only partly arrived waits in the splitter for the rest.
"""

from __future__ import annotations

import struct
from collections.abc import Container

LENGTH = struct.Struct("!i")
#: The first field of a route header (protocol.ROUTE): the sender's endpoint id.
SENDER = struct.Struct("<I")


class ProtocolError(Exception):
    """The peer broke the framing (negative or oversize length); the connection must close."""


class Splitter:
    """Cuts chunks of a stream into whole messages, keeping any incomplete tail."""

    __slots__ = ("keep_prefix", "partial", "shed", "size_max")

    def __init__(self, size_max: int, keep_prefix: bool) -> None:
        self.size_max = size_max
        #: True: each message keeps its length prefix (the router forwards it as is).
        self.keep_prefix = keep_prefix
        self.partial = bytearray()  # an incomplete message, with its length prefix
        self.shed = 0  # messages left out by `feed(..., drop)`

    def feed(self, chunk: bytes | bytearray | memoryview, drop: Container[int] = ()) -> list[bytes]:
        """The whole messages that `chunk` completes, in order. Raises ProtocolError on an
        impossible length (the stream cannot be trusted after that). A message whose sender
        id (the first field of its route header, a little-endian u32) is in `drop` is left
        out, uncopied, and counted in `shed`: a node drops a flood at two peeks a message."""
        data: bytes | bytearray | memoryview = chunk
        if self.partial:
            self.partial += chunk
            data = self.partial
        messages: list[bytes] = []
        offset, end = 0, len(data)
        skip = 0 if self.keep_prefix else 4
        unpack, sender = LENGTH.unpack_from, SENDER.unpack_from
        while end - offset >= 4:
            (size,) = unpack(data, offset)
            if size < 0 or size > self.size_max:
                raise ProtocolError(f"message length {size}")
            stop = offset + 4 + size
            if stop > end:
                break
            if drop and size >= 4 and sender(data, offset + 4)[0] in drop:
                self.shed += 1
            else:
                messages.append(bytes(data[offset + skip : stop]))
            offset = stop
        if offset == 0 and data is self.partial:
            return messages  # still incomplete: keep accumulating without copying
        self.partial = bytearray(data[offset:]) if offset < end else bytearray()
        return messages
