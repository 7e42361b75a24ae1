"""A tiny, deterministic binary format: unsigned varints, bytes and UTF-8 text.

Used for raft log entries (`codec`) and snapshots (`snapshot`). Same values in, same bytes out;
the reader refuses truncation, trailing bytes, non-canonical varints and bad UTF-8, raising
the error class its owner chose, so a corrupt input never escapes as an IndexError.
"""

from __future__ import annotations

VARINT_BYTES_MAX = 10  # enough for any value below 2**70; we never store more than 64 bits
UINT_MAX = 2**64 - 1


def uint_bytes(value: int) -> bytes:
    """An unsigned LEB128 varint on its own (what `Writer.uint` appends)."""
    assert 0 <= value <= UINT_MAX, value
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


class Writer:
    """Appends fields to a growing buffer."""

    __slots__ = ("_buf",)

    def __init__(self, prefix: bytes = b"") -> None:
        self._buf = bytearray(prefix)

    def byte(self, value: int) -> None:
        """One byte, 0..255."""
        assert 0 <= value <= 255, value
        self._buf.append(value)

    def uint(self, value: int) -> None:
        """An unsigned LEB128 varint."""
        assert 0 <= value <= UINT_MAX, value
        while value >= 0x80:
            self._buf.append((value & 0x7F) | 0x80)
            value >>= 7
        self._buf.append(value)

    def blob(self, data: bytes) -> None:
        """A varint length, then the bytes."""
        self.uint(len(data))
        self._buf += data

    def text(self, value: str) -> None:
        """A string as the blob of its UTF-8 encoding."""
        self.blob(value.encode("utf-8"))

    def getvalue(self) -> bytes:
        """Everything written so far."""
        return bytes(self._buf)


class Reader:
    """Reads fields in order from `data`; any problem raises `error(message)`."""

    __slots__ = ("_data", "_error", "_pos")

    def __init__(self, data: bytes, error: type[Exception], start: int = 0) -> None:
        self._data = data
        self._error = error
        self._pos = start

    def fail(self, problem: str) -> Exception:
        """The owner's error for `problem`, naming the byte offset; the caller raises it."""
        return self._error(f"{problem} at byte {self._pos}")

    def byte(self) -> int:
        """The next byte."""
        if self._pos >= len(self._data):
            raise self.fail("truncated: expected a byte")
        value = self._data[self._pos]
        self._pos += 1
        return value

    def uint(self, high: int = UINT_MAX, low: int = 0) -> int:
        """A canonical unsigned varint in [low, high]."""
        data, pos = self._data, self._pos
        if pos < len(data) and data[pos] < 0x80:  # fast path: one byte
            value = data[pos]
            if not low <= value <= high:
                raise self.fail(f"number {value} is out of range [{low}, {high}]")
            self._pos = pos + 1
            return value
        value = 0
        for shift in range(0, 7 * VARINT_BYTES_MAX, 7):
            part = self.byte()
            value |= (part & 0x7F) << shift
            if part < 0x80:
                if part == 0 and shift > 0:
                    raise self.fail("non-canonical varint")
                if not low <= value <= high:
                    raise self.fail(f"number {value} is out of range [{low}, {high}]")
                return value
        raise self.fail("varint too long")

    def blob(self, size_max: int, size_min: int = 0) -> bytes:
        """A varint length in [size_min, size_max], then that many bytes."""
        size = self.uint()
        if not size_min <= size <= size_max:
            raise self.fail(f"{size}-byte field is out of range [{size_min}, {size_max}]")
        end = self._pos + size
        if end > len(self._data):
            left = len(self._data) - self._pos
            raise self.fail(f"truncated: {size} bytes announced, {left} left")
        data = self._data[self._pos : end]
        self._pos = end
        return bytes(data)

    def text(self, size_max: int, size_min: int = 0) -> str:
        """A blob of valid UTF-8 (sizes in bytes), decoded."""
        data = self.blob(size_max, size_min)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.fail(f"invalid UTF-8 text: {exc.reason}") from None

    def finish(self) -> None:
        """Insist that every byte was read."""
        if self._pos != len(self._data):
            raise self.fail(f"{len(self._data) - self._pos} trailing bytes")
