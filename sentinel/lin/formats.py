"""Pick the history reader from a file's content."""

from __future__ import annotations

import os
from dataclasses import dataclass

from sentinel.lin.history import HistoryError, Operation
from sentinel.lin.jepsenformat import MARKER, read_jepsen_history
from sentinel.lin.kvformat import read_kv_history

# How far into a file to look for its first event line.
_SNIFF_LINES = 200


@dataclass(frozen=True)
class LoadedHistory:
    """A history read from a file, with the format it was in and that format's model name."""

    path: str
    format: str  # "kv" or "jepsen"
    model_name: str  # "kv" or "register"
    operations: list[Operation]


def detect_format(text: str, path: str | None = None) -> str:
    """``"kv"`` for EDN map lines, ``"jepsen"`` for ``jepsen.util`` log lines."""
    for lineno, line in enumerate(text.split("\n", _SNIFF_LINES)[:_SNIFF_LINES], start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(";"):
            continue
        if stripped.startswith("{"):
            return "kv"
        if MARKER in stripped:
            return "jepsen"
        if lineno == _SNIFF_LINES:
            break
    raise HistoryError(
        "unrecognised history format (want kv EDN lines '{:process ...}' "
        "or Jepsen 'INFO  jepsen.util - ...' lines)",
        path,
        1,
    )


def parse_history(text: str, path: str | None = None) -> LoadedHistory:
    """Parse history text in either format, detected from the content."""
    fmt = detect_format(text, path)
    if fmt == "kv":
        return LoadedHistory(path or "<text>", "kv", "kv", read_kv_history(text, path))
    return LoadedHistory(path or "<text>", "jepsen", "register", read_jepsen_history(text, path))


def load_history(path: str | os.PathLike[str]) -> LoadedHistory:
    """Read a history file in either format; unreadable files raise :class:`HistoryError`."""
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise HistoryError(f"cannot read file: {exc}", name) from exc
    return parse_history(text, name)


def read_history(path: str | os.PathLike[str]) -> list[Operation]:
    """The operations of a history file in either format."""
    return load_history(path).operations
