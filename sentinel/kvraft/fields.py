"""The command codec's fields: varints, length-prefixed blobs, UTF-8 text and argument lists.

Every field of a log entry (`codec.py`) is one of these. Writers return the bytes (or the two
parts of a blob); readers take the data and a position and return the value and the position
after it, raising CommandError naming the byte for anything that is not a canonical encoding
within its bounds: a varint of at most 10 bytes with no redundant high zero byte, a blob
whose announced length fits the data. The one-byte forms, the common case, take a fast path.
"""

from __future__ import annotations

from sentinel.kvraft.binary import uint_bytes

#: A varint of more bytes than this is refused (enough for any value below 2**70).
_VARINT_BYTES_MAX = 10
#: The encodings of 0..127 as varints (one byte each).
_SMALL_UINTS = tuple(bytes([value]) for value in range(0x80))


class CommandError(ValueError):
    """Bytes that are not a valid encoded command."""


def uint(value: int) -> bytes:
    """An unsigned LEB128 varint (one byte from a table, the common case)."""
    return _SMALL_UINTS[value] if value < 0x80 else uint_bytes(value)


def blob(data: bytes) -> tuple[bytes, bytes]:
    """A varint length and the bytes: two parts of an encoding."""
    return uint(len(data)), data


def uint_at(data: bytes, pos: int, high: int, low: int = 0) -> tuple[int, int]:
    """A canonical varint in [low, high] at `pos`, and the position after it."""
    if pos < len(data) and data[pos] < 0x80:  # one byte: the common case
        value, end = data[pos], pos + 1
    else:
        value = shift = 0
        end = pos
        while True:
            if end >= len(data):
                raise CommandError(f"truncated: expected a byte at byte {end}")
            if end - pos >= _VARINT_BYTES_MAX:
                raise CommandError(f"varint too long at byte {end}")
            part = data[end]
            end += 1
            value |= (part & 0x7F) << shift
            if part < 0x80:
                if part == 0 and shift:
                    raise CommandError(f"non-canonical varint at byte {end}")
                break
            shift += 7
    if not low <= value <= high:
        raise CommandError(f"number {value} is out of range [{low}, {high}] at byte {end}")
    return value, end


def blob_at(data: bytes, pos: int, size_max: int, size_min: int = 0) -> tuple[bytes, int]:
    """A varint length in [size_min, size_max] at `pos`, then that many bytes."""
    if pos < len(data) and data[pos] < 0x80:  # a one-byte length: the common case
        size, start = data[pos], pos + 1
    else:
        size, start = uint_at(data, pos, 2**64 - 1)
    if not size_min <= size <= size_max:
        raise CommandError(
            f"{size}-byte field is out of range [{size_min}, {size_max}] at byte {start}"
        )
    end = start + size
    if end > len(data):
        raise CommandError(f"truncated: {size} bytes announced, {len(data) - start} left")
    return data[start:end], end


def text_at(data: bytes, pos: int, size_max: int, size_min: int = 0) -> tuple[str, int]:
    """A blob of valid UTF-8 (sizes in bytes), decoded."""
    size = data[pos] if pos < len(data) else 0x80
    end = pos + 1 + size
    if size < 0x80 and size_min <= size <= size_max and end <= len(data):  # the common case
        blob = data[pos + 1 : end]
    else:  # a longer length, or a problem the general reader names
        blob, end = blob_at(data, pos, size_max, size_min)
    try:
        return blob.decode(), end
    except UnicodeDecodeError as exc:
        raise CommandError(f"invalid UTF-8 text: {exc.reason} at byte {pos}") from None


def args_at(
    data: bytes, pos: int, count_max: int, size_max: int, count_min: int = 0
) -> tuple[tuple[bytes, ...], int]:
    """A count in [count_min, count_max] then that many blobs of at most size_max bytes."""
    count, pos = uint_at(data, pos, count_max, count_min)
    if count > len(data) - pos:  # every blob takes at least one byte
        raise CommandError(f"truncated: {count} arguments announced at byte {pos}")
    args = []
    for _ in range(count):
        arg, pos = blob_at(data, pos, size_max)
        args.append(arg)
    return tuple(args), pos
