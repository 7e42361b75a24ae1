"""Redis's glob patterns (`stringmatchlen`): `*`, `?`, `[abc]`, `[^a-z]` and `\\` escapes.

Used for CONFIG GET here; KEYS and SCAN MATCH use the same language (if the data layer needs
it on the replicas, this is the one to move down).
"""

from __future__ import annotations

import functools
import re


@functools.lru_cache(maxsize=256)
def _compile(pattern: bytes, nocase: bool) -> re.Pattern[bytes]:
    """The regular expression equivalent to a glob pattern."""
    out: list[bytes] = []
    pos, size = 0, len(pattern)
    while pos < size:
        ch = pattern[pos : pos + 1]
        if ch == b"*":
            out.append(b".*")
        elif ch == b"?":
            out.append(b".")
        elif ch == b"\\" and pos + 1 < size:
            pos += 1
            out.append(re.escape(pattern[pos : pos + 1]))
        elif ch == b"[":
            pos, cls = _char_class(pattern, pos + 1)
            out.append(cls)
            continue
        else:
            out.append(re.escape(ch))
        pos += 1
    flags = re.DOTALL | (re.IGNORECASE if nocase else 0)
    return re.compile(b"".join(out), flags)


def _char_class(pattern: bytes, pos: int) -> tuple[int, bytes]:
    """Translate `[...]` starting after its `[`; (position after `]`, regex class)."""
    size = len(pattern)
    parts = [b"["]
    if pos < size and pattern[pos : pos + 1] == b"^":
        parts.append(b"^")
        pos += 1
    while pos < size and pattern[pos : pos + 1] != b"]":
        ch = pattern[pos : pos + 1]
        if ch == b"\\" and pos + 1 < size:
            pos += 1
            ch = pattern[pos : pos + 1]
        if pattern[pos + 1 : pos + 2] == b"-" and pos + 2 < size and pattern[pos + 2] != 93:
            low, high = sorted((ch, pattern[pos + 2 : pos + 3]))
            parts.append(re.escape(low) + b"-" + re.escape(high))
            pos += 3
            continue
        parts.append(re.escape(ch))
        pos += 1
    if len(parts) == 1 or parts[-1] == b"^":
        parts.append(b"\\x00-\\xff" if parts[-1] == b"^" else b"^\\x00-\\xff")  # [] matches nothing
    parts.append(b"]")
    return pos + 1, b"".join(parts)


def glob_match(pattern: bytes, text: bytes, nocase: bool = False) -> bool:
    """`text` matches the Redis glob `pattern` as a whole."""
    return _compile(pattern, nocase).fullmatch(text) is not None
